"""Runs a plugin exactly as Stash's raw interface does (pkg/plugin/raw.go, plugins.go).

One process per task or hook: `exec` with `{pluginDir}` filled in, python/python3 mapped to the
configured interpreter with the plugin folder's parent appended to PYTHONPATH, working directory
= Stash's own (never the plugin folder); the Go-marshalled input written to stdin, then closed;
stdout read to EOF, *then* the process reaped -- so a child that inherited stdout keeps the run
open exactly as it keeps Stash waiting. A test-only `hang_timeout` turns that into `PluginHung`.
Hooks run one after another in the calling thread, as ExecutePostHooks does inside a mutation.
"""
from __future__ import annotations

import base64
import json
import logging
import os
import random
import selectors
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from tests.harness import protocol
from tests.harness.manifest import (PYTHON_COMMANDS, Manifest, ManifestError, Operation,
                                    find_manifest, load_manifest)

plugin_log = logging.getLogger("tests.harness.plugin")
_PY_LEVELS = {"trace": logging.DEBUG, "debug": logging.DEBUG, "info": logging.INFO,
              "warning": logging.WARNING, "error": logging.ERROR}
NO_SESSION_COOKIE = object()  # Stash sends SessionCookie: null only when encoding it failed


class PluginHung(RuntimeError):
    """The run did not finish within the harness's safety timeout (Stash would wait forever)."""

    def __init__(self, message: str, result: "RunResult"):
        super().__init__(message)
        self.result = result


@dataclass
class RunResult:
    kind: str                 # "task" | "hook"
    name: str                 # the manifest's task or hook name
    hook_type: str | None
    argv: list
    args: dict                # the "args" object exactly as the plugin decoded it from stdin
    stdin: bytes
    pid: int
    output: object = None
    error: str | None = None
    logs: list = field(default_factory=list)      # [(level, message)], level as Stash names it
    progress: list = field(default_factory=list)  # task progress values, in order
    exit_code: int | None = None                  # Popen returncode (negative: killed by signal)
    wall_s: float = 0.0       # spawn -> stdout EOF and exit: what Stash (and the user) waits for
    process_s: float | None = None  # spawn -> process exit
    started_at: float = 0.0   # time.monotonic()
    finished_at: float = 0.0
    stdout_raw: bytes = b""
    stderr_raw: bytes = b""
    stderr_truncated: bool = False  # a > 64 KiB line: Stash stopped reading and closed stderr
    stdin_error: str | None = None
    hung: bool = False

    def messages(self, level: str | None = None) -> list[str]:
        return [m for lv, m in self.logs if level is None or lv == level]


class _Process:
    """One plugin process: stdin writer, stdout/stderr readers and exit watch in one thread."""

    def __init__(self, argv, env, cwd, stdin, fallback_level, wants_progress, result):
        self.result, self._stdin = result, stdin
        self._fallback, self._wants_progress = fallback_level, wants_progress
        self._lines = protocol.StderrLines()
        self._stop = threading.Event()
        self._stdout = bytearray()
        self._stderr = bytearray()
        self._out_eof = False
        self._outcome = None  # the RunResult, or the PluginHung raised
        result.started_at = time.monotonic()
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=env, cwd=cwd)
        result.pid = self.proc.pid
        self._thread = threading.Thread(target=self._pump, name=f"plugin-{self.proc.pid}",
                                         daemon=True)
        self._thread.start()

    # -- the pump ------------------------------------------------------------------------
    def _pump(self):
        p, sel = self.proc, selectors.DefaultSelector()
        self._sel, self._written = sel, 0
        for f in (p.stdin, p.stdout, p.stderr):
            os.set_blocking(f.fileno(), False)
        sel.register(p.stdin, selectors.EVENT_WRITE, self._write_stdin)
        sel.register(p.stdout, selectors.EVENT_READ, self._read_stdout)
        sel.register(p.stderr, selectors.EVENT_READ, self._read_stderr)
        self._pidfd = _pidfd(p.pid)  # readable at exit: an exact exit time without polling
        if self._pidfd is not None:
            sel.register(self._pidfd, selectors.EVENT_READ, self._exited)
        while not (self._out_eof and p.returncode is not None) and not self._stop.is_set():
            tick = 0.05 if self._pidfd is not None or not self._out_eof else 0.002
            for key, _ in sel.select(tick):
                key.data(key.fileobj)
            if self._pidfd is None and p.returncode is None and p.poll() is not None:
                self._exited(None)
        # Cmd.Wait closes the stderr pipe once the process has exited: keep what is already in
        # it (Stash's reader has normally consumed it by then), then close everything.
        if not p.stderr.closed:
            self._read_stderr(p.stderr, drain=True)
        if not p.stderr.closed:  # the scanner still emits a final unterminated line
            self._handle_lines(self._lines.finish())
        for f in (p.stdin, p.stdout, p.stderr):
            self._close(f)
        if self._pidfd is not None:
            self._close(self._pidfd)
            self._pidfd = None
        sel.close()
        self.result.finished_at = time.monotonic()

    def _close(self, f):
        try:
            self._sel.unregister(f)
        except (KeyError, ValueError):
            pass
        if isinstance(f, int):
            os.close(f)
        elif not f.closed:
            f.close()

    def _write_stdin(self, f):
        try:
            self._written += os.write(f.fileno(), self._stdin[self._written:self._written + 65536])
        except BlockingIOError:
            return
        except OSError as exc:  # Stash only logs a warning and carries on
            self.result.stdin_error = (f"error writing input to plugins stdin (wrote "
                                       f"{self._written} bytes out of {len(self._stdin)}): {exc}")
        if self._written >= len(self._stdin) or self.result.stdin_error:
            self._close(f)

    def _read_stdout(self, f):
        data = _read(f)
        if data:
            self._stdout += data
        elif data is not None:
            self._out_eof = True
            self._close(f)

    def _read_stderr(self, f, drain=False):
        for _ in range(64 if drain else 1):  # bounded: a child may still be writing
            data = _read(f)
            if data is None:
                return  # nothing more right now
            if not data:
                self._handle_lines(self._lines.finish())
                return self._close(f)
            self._stderr += data
            self._handle_lines(self._lines.feed(data))
            if self._lines.too_long:
                return self._close(f)  # ReadLogMessages stops and closes its end

    def _handle_lines(self, lines):
        for line in lines:
            level, message = protocol.classify_line(line, self._fallback)
            if level == "progress":
                value, err = protocol.go_parse_float(message)
                if err:
                    level, message = "error", f"Error parsing progress value '{message}': {err}"
                elif self._wants_progress:  # hooks have no progress channel: dropped
                    self.result.progress.append(value)
            if level in _PY_LEVELS:
                self.result.logs.append((level, message))
                plugin_log.log(_PY_LEVELS[level], "[Plugin / %s] %s", self.result.name, message)

    def _exited(self, pidfd):
        self.proc.wait()
        self.result.process_s = time.monotonic() - self.result.started_at
        if pidfd is not None:
            self._close(pidfd)
            self._pidfd = None

    # -- control -------------------------------------------------------------------------
    def kill(self):
        """rawPluginTask.Stop: Process.Kill() -- SIGKILL to the plugin process only."""
        if self.proc.returncode is None:
            self.proc.kill()

    def wait(self, timeout: float) -> RunResult:
        if isinstance(self._outcome, PluginHung):  # waited before: same answer
            raise self._outcome
        if self._outcome is not None:
            return self._outcome
        self._thread.join(timeout)
        hung = self._thread.is_alive()
        if hung:
            self._stop.set()
            running = self.proc.poll() is None
            self.kill()  # the harness started it, so the harness ends it
            self.proc.wait()
            self._thread.join()
            if self.result.process_s is None:
                self.result.process_s = time.monotonic() - self.result.started_at
        r = self.result
        r.stdout_raw, r.stderr_raw = bytes(self._stdout), bytes(self._stderr)
        r.stderr_truncated, r.exit_code = self._lines.too_long, self.proc.returncode
        r.wall_s = r.finished_at - r.started_at
        r.output, r.error = protocol.parse_plugin_output(r.stdout_raw)
        if r.error is None:
            r.error = protocol.go_exit_error(r.exit_code)
        if hung:
            r.hung = True
            if running:
                why = f"was still running after {timeout:g} s (killed by the harness)"
            else:
                why = (f"exited (status {r.exit_code}) after {r.process_s:.2f} s but its stdout "
                       f"is still open after {timeout:g} s: a process it started inherited "
                       f"stdout, and Stash waits for EOF -- forever")
            self._outcome = PluginHung(f"plugin {r.kind} {r.name!r} (pid {r.pid}) {why}", r)
            raise self._outcome
        self._outcome = r
        return r


def _read(f) -> bytes | None:
    try:
        return os.read(f.fileno(), 65536)
    except BlockingIOError:
        return None


def _pidfd(pid):
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


class TaskHandle:
    """A running task: `cancel()` is what Stash's Cancel button does (SIGKILL)."""

    def __init__(self, runner: "PluginRunner", process: _Process):
        self._runner, self._process = runner, process
        self.result = process.result  # logs / progress fill in while it runs

    @property
    def pid(self) -> int:
        return self._process.proc.pid

    def cancel(self):
        self._process.kill()

    def wait(self, timeout: float | None = None) -> RunResult:
        return self._runner._finish(self._process, timeout)


class PluginRunner:
    """`PluginRunner(plugin_dir, "http://host:port" | (host, port), ...)`.

    plugin_dir: the plugin folder (holding exactly one .yml, or pass plugin_id) or the .yml.
    session_cookie: the value Stash's plugin cookie carries. Stash always sends one, so None
    mints an opaque value; NO_SESSION_COOKIE sends `"SessionCookie": null`.
    env: overrides on this process's environment (None as a value removes the variable).
    server_dir: Stash's config directory (`Dir`); python: Stash's configured python path.
    """

    def __init__(self, plugin_dir, stash, session_cookie=None, env=None, server_dir=None,
                 python=None, *, plugin_id=None, cwd=None, hang_timeout=60.0, seed=None):
        self.manifest: Manifest = load_manifest(find_manifest(plugin_dir, plugin_id))
        if self.manifest.interface != "raw":
            raise ManifestError(f"interface {self.manifest.interface} is not emulated (raw only)")
        if isinstance(stash, str):
            url = urlsplit(stash)
            self.scheme, self.host = url.scheme or "http", url.hostname or ""
            self.port = url.port or (443 if self.scheme == "https" else 80)
        else:
            self.scheme, (self.host, self.port) = "http", stash
        if session_cookie is None:  # the shape of a gorilla securecookie value
            session_cookie = base64.urlsafe_b64encode(os.urandom(96)).decode()
        self.session_cookie = None if session_cookie is NO_SESSION_COOKIE else session_cookie
        self.env = dict(env or {})
        self._temp = None if server_dir and cwd else tempfile.mkdtemp(prefix="stash-")
        self.server_dir = os.path.abspath(server_dir or os.path.join(self._temp, "config"))
        self.cwd = os.path.abspath(cwd or os.path.join(self._temp, "cwd"))
        os.makedirs(self.server_dir, exist_ok=True)
        os.makedirs(self.cwd, exist_ok=True)
        self.python = python or sys.executable
        self.hang_timeout = hang_timeout
        self.rng = random.Random(seed)
        self.runs: list[RunResult] = []
        self._lock = threading.Lock()

    # -- public API ------------------------------------------------------------------------
    def start_task(self, task_name_or_mode: str, args: dict | None = None) -> TaskHandle:
        task = self._find_task(task_name_or_mode)
        merged = dict(args or {})
        for key, value in task.default_args.items():  # applyDefaultArgs: never overrides
            merged.setdefault(key, value)
        return TaskHandle(self, self._spawn("task", task, merged, None))

    def run_task(self, task_name_or_mode: str, args: dict | None = None, *,
                 timeout: float | None = None) -> RunResult:
        return self.start_task(task_name_or_mode, args).wait(timeout)

    def run_operation(self, args: dict, *, timeout: float | None = None) -> RunResult:
        """runPluginOperation(plugin_id, args): the plugin's exec with exactly `args` (no task,
        no default args); Stash hands the plugin's `output` back to the caller as JSON."""
        operation = Operation("runPluginOperation", "", (), {})
        return self._finish(self._spawn("task", operation, dict(args), None), timeout)

    def run_hook(self, hook_type: str, scene_id, input=None, input_fields=None, *,
                 timeout: float | None = None) -> list[RunResult]:
        """ExecutePostHooks for one object: every hook entry triggered by hook_type runs in
        its own process, in manifest order, each waited for before the next starts."""
        results = []
        for hook in self.manifest.hooks_for(hook_type):
            args = dict(hook.default_args)
            args["hookContext"] = protocol.hook_context(hook_type, scene_id, input,
                                                        input_fields, self.rng)
            results.append(self._finish(self._spawn("hook", hook, args, hook_type), timeout))
        return results

    def hook_sink(self, hook_type, scene_id, input, input_fields):
        """What the Stash emulator calls, synchronously, inside a mutation."""
        return self.run_hook(hook_type, scene_id, input, input_fields)

    def close(self):
        if self._temp:
            shutil.rmtree(self._temp, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- internals ---------------------------------------------------------------------------
    def _find_task(self, name_or_mode: str) -> Operation:
        task = self.manifest.task(name_or_mode) or next(
            (t for t in self.manifest.tasks if t.default_args.get("mode") == name_or_mode), None)
        if task is None:
            raise KeyError(f"no task with name {name_or_mode} in plugin "
                           f"{self.manifest.display_name}")
        return task

    def command(self, operation: Operation | None) -> tuple[list[str], dict]:
        """(argv, environment) as rawPluginTask.Start builds them."""
        argv = self.manifest.exec_command(operation)
        if not argv:
            raise ManifestError("empty exec value")
        env = {k: v for k, v in {**os.environ, **self.env}.items() if v is not None}
        python = _resolve_python(self.python) if argv[0] in PYTHON_COMMANDS else None
        if python:  # p.Command(...) + python.AppendPythonPath(plugin folder's parent)
            argv[0], parent = python, os.path.dirname(self.manifest.plugin_dir)
            env["PYTHONPATH"] = (f"{env['PYTHONPATH']}{os.pathsep}{parent}"
                                 if "PYTHONPATH" in env else parent)
        return argv, env

    def _spawn(self, kind, operation, args, hook_type) -> _Process:
        connection = protocol.server_connection(self.scheme, self.host, self.port,
                                                self.session_cookie, self.server_dir,
                                                self.manifest.plugin_dir)
        stdin = protocol.plugin_input(connection, args)
        argv, env = self.command(operation)
        result = RunResult(kind=kind, name=operation.name, hook_type=hook_type, argv=argv,
                           args=json.loads(stdin)["args"], stdin=stdin, pid=0)
        return _Process(argv, env, self.cwd, stdin, protocol.default_level(self.manifest.err_log),
                        kind == "task", result)

    def _finish(self, process: _Process, timeout: float | None) -> RunResult:
        try:
            return process.wait(self.hang_timeout if timeout is None else timeout)
        finally:
            with self._lock:
                if not any(r is process.result for r in self.runs):  # wait() may repeat
                    self.runs.append(process.result)


def _resolve_python(configured: str) -> str | None:
    """python.Resolve: the configured path if it is a file, else python3, else python."""
    if configured and os.path.isfile(configured):
        return configured
    return shutil.which("python3") or shutil.which("python")
