"""What every benchmark shares: the result row, statistics, the loopback system (Stash emulator
-> Stash-exact runner -> PlexSync -> Plex emulator), drainer clean-up and the CLI shape.

Benchmarks are plain scripts, not tests: each figure module has `run(quick) -> Figure` and a
`main()` that prints its rows (`python bench/hook_latency.py [--quick] [--json out.json]`);
bench/run_all.py runs every module in its own process and prints one table.

Plugin processes get the environment a normal Stash install gives them: no test-runner
PYTHONPATH and bytecode caching ON. This sandbox exports PYTHONDONTWRITEBYTECODE=1, which would
make every hook recompile PlexSync from source; a real plugin folder keeps its __pycache__.
The cache goes to PYCACHE_DIR (PYTHONPYCACHEPREFIX) so the repository is never written to, and
every figure starts with an uncounted warm-up run that fills it.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/x.py` puts bench/, not the repository, first
    sys.path.insert(0, str(ROOT))

from hooks.scene_jobs import jobs_from_scenes  # noqa: E402
from hooks.stash_api import StashClient  # noqa: E402
from sync_queue.lock import drain_lock_held, lock_holder_pid  # noqa: E402
from sync_queue.store import QueueStore  # noqa: E402
from tests.emulators.plex_library import load_generated_library  # noqa: E402
from tests.emulators.plex_server import PlexEmulator  # noqa: E402
from tests.emulators.stash_server import StashEmulator  # noqa: E402
from tests.emulators.stash_state import make_png  # noqa: E402
from tests.harness.runner import PluginRunner  # noqa: E402
from validation.config import parse_config  # noqa: E402

PYTHON = sys.executable
PYCACHE_DIR = Path(tempfile.gettempdir()) / "plexsync-bench-pycache"
FLOOR_CODE = "import json, sqlite3, urllib.request"
SCENE_UPDATE = "mutation Edit($input: SceneUpdateInput!) { sceneUpdate(input: $input) { id } }"
BULK_UPDATE = ("mutation Bulk($input: BulkSceneUpdateInput!) "
               "{ bulkSceneUpdate(input: $input) { id } }")


# ---- results ---------------------------------------------------------------------------------
@dataclass
class Row:
    figure: str           # what was measured, e.g. "1a hook, drainer running: median"
    value: str            # the measurement, formatted
    goal: str = "-"       # the goal as the issue states it ("-" = none stated)
    ok: bool | None = None  # None: no goal to pass or fail
    baseline: str = "-"   # the floor or baseline measured in the same run


@dataclass
class Figure:
    name: str
    quick: bool
    rows: list = field(default_factory=list)
    details: dict = field(default_factory=dict)
    seconds: float = 0.0
    load_before: tuple = ()
    load_after: tuple = ()

    def add(self, *args, **kwargs) -> Row:
        row = Row(*args, **kwargs)
        self.rows.append(row)
        return row


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.3f} ms" if seconds < 0.001 else f"{seconds * 1000:.1f} ms"


def secs(seconds: float) -> str:
    return f"{seconds:.2f} s"


def mib(kib: float) -> str:
    return f"{kib / 1024:.0f} MiB"


def median(values) -> float:
    return statistics.median(values)


def p95(values) -> float:
    """Nearest-rank 95th percentile: a value that was actually observed."""
    ordered = sorted(values)
    return ordered[max(0, -(-95 * len(ordered) // 100) - 1)]


def loadavg() -> tuple:
    return tuple(round(x, 2) for x in os.getloadavg())


def machine() -> dict:
    """Facts read from this machine (never typed in by hand)."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import platform
    return {"cores": os.cpu_count(), "cpu": model, "python": sys.version.split()[0],
            "implementation": platform.python_implementation(), "platform": platform.platform(),
            "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "load": loadavg()}


# ---- processes -----------------------------------------------------------------------------
def plugin_env(data_dir: Path) -> dict:
    """The environment overrides a plugin process gets (see the module docstring)."""
    PYCACHE_DIR.mkdir(parents=True, exist_ok=True)
    return {"PLEXSYNC_DATA_DIR": str(data_dir), "PYTHONPATH": None,
            "PYTHONDONTWRITEBYTECODE": None, "PYTHONPYCACHEPREFIX": str(PYCACHE_DIR)}


def child_env() -> dict:
    """For bench helper processes (not plugin runs): repository importable, same bytecode cache."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(PYTHONPATH=str(ROOT), PYTHONPYCACHEPREFIX=str(PYCACHE_DIR))
    return env


# Linux carries a process's peak RSS across fork+exec: a child of this (large) bench process
# would report OUR peak as its ru_maxrss. A tiny launcher in between resets it: the launcher's
# own peak is only that of `python -c "import subprocess"`, well below any PlexSync process.
_LAUNCHER = "import subprocess, sys; sys.exit(subprocess.call(sys.argv[1:]))"


def run_measured_child(argv: list, stdin_text: str, timeout: float) -> str:
    """Run a bench helper process (argv) whose own getrusage(RUSAGE_SELF).ru_maxrss is
    honest; returns its stdout, raises with its stderr on failure."""
    done = subprocess.run([PYTHON, "-c", _LAUNCHER, *argv], input=stdin_text,
                          capture_output=True, text=True, env=child_env(), cwd=str(ROOT),
                          timeout=timeout)
    if done.returncode:
        raise RuntimeError(f"{argv[1:3]} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def run_floor(runner: PluginRunner, stdin: bytes) -> float:
    """Wall time of `python -c "import json, sqlite3, urllib.request"` spawned exactly as the
    runner spawns a hook: same interpreter, environment, working directory, stdin bytes and
    pipes, timed by the same pump (spawn -> stdout EOF and exit)."""
    from tests.harness.runner import RunResult, _Process
    argv, env = runner.command(None)  # the plugin's interpreter and environment
    argv = [argv[0], "-c", FLOOR_CODE]
    result = RunResult(kind="hook", name="floor", hook_type=None, argv=argv, args={},
                       stdin=stdin, pid=0)
    process = _Process(argv, env, runner.cwd, stdin, "error", False, result)
    done = process.wait(60.0)
    if done.exit_code != 0:
        raise RuntimeError(f"the floor process failed: {done.stderr_raw[-500:]!r}")
    return done.wall_s


def kill_drainers(data_dir: Path, timeout: float = 10.0) -> list[int]:
    """SIGKILL whoever holds the drain lock until nobody does; returns the pids killed."""
    killed, deadline = [], time.monotonic() + timeout
    while drain_lock_held(data_dir) and time.monotonic() < deadline:
        pid = lock_holder_pid(data_dir)
        if pid and pid not in killed:
            try:
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
            except ProcessLookupError:
                pass
        time.sleep(0.02)
    if drain_lock_held(data_dir):
        raise RuntimeError(f"a drainer still holds the lock in {data_dir}")
    return killed


def drainer_alive(data_dir: Path) -> bool:
    """Is the process that last took the drain lock still running?

    Read from the pid in drain.lock and /proc, NOT by probing the lock: a probe holds the
    lock for an instant, and a drainer re-taking it in that instant would step aside."""
    pid = lock_holder_pid(data_dir)
    if not pid:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z" and b"worker" in cmdline


def queue_idle(data_dir: Path) -> bool:
    """Nothing ready or in flight (the drainer may still be alive, idling)."""
    with QueueStore(data_dir) as store:
        counts = store.counts()
    return counts["ready"] + counts["in_flight"] == 0


def wait_until(predicate, timeout: float, what: str, interval: float = 0.02):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


# ---- the loopback system -----------------------------------------------------------------------
class System:
    """Stash emulator + Plex emulator + PlexSync run by the Stash-exact runner, as wired in
    tests/e2e_fixtures.py: settings stored in Stash, the runner as Stash's hook executor.

    Leaving the `with` block kills any drainer still alive (they are detached on purpose)."""

    def __init__(self, hang_timeout: float = 900.0, **settings):
        self.tmp = Path(tempfile.mkdtemp(prefix="plexsync-bench-"))
        self.data_dir = self.tmp / "plexsync-data"
        self.data_dir.mkdir()
        self.stash = StashEmulator().start()
        self.plex = PlexEmulator(token="bench-token").start()
        self.runner = PluginRunner(ROOT, ("0.0.0.0", self.stash.port),
                                   session_cookie=self.stash.create_session(),
                                   env=plugin_env(self.data_dir),
                                   server_dir=str(self.tmp / "stash-config"),
                                   cwd=str(self.tmp / "stash-cwd"), hang_timeout=hang_timeout)
        self.stash.hook_sink = self.runner.hook_sink
        self.killed: list[int] = []
        self.configure(**settings)

    def configure(self, **settings) -> None:
        values = {"plex_url": self.plex.url, "plex_token": self.plex.token, **settings}
        self.stash.set_plugin_settings("PlexSync", values)

    def graphql(self, document: str, variables: dict, timeout: float = 900.0) -> dict:
        """POST to the Stash emulator and wait as long as Stash's answer takes: a mutation
        answers only after every hook it fired has exited (StashEmulator.graphql gives up
        after 10 s, shorter than a 200-scene bulk edit)."""
        request = urllib.request.Request(
            f"{self.stash.url}/graphql", method="POST",
            data=json.dumps({"query": document, "variables": variables}).encode(),
            headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            answer = json.loads(response.read())
        if answer.get("errors"):
            raise RuntimeError(answer["errors"])
        return answer

    def edit(self, scene_id, **fields):
        """sceneUpdate through Stash's GraphQL; the hook has run when this returns."""
        self.graphql(SCENE_UPDATE, {"input": {"id": str(scene_id), **fields}})
        return self.runner.runs[-1]

    def wait_drained(self, timeout: float = 60.0) -> None:
        wait_until(lambda: queue_idle(self.data_dir), timeout, "the queue to drain")

    def kill_drainers(self) -> None:
        self.killed += kill_drainers(self.data_dir)

    def close(self) -> None:
        self.stash.hook_sink = None
        try:
            self.kill_drainers()
        finally:
            self.stash.stop()
            self.plex.stop()
            self.runner.close()
            shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> "System":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def add_matching_scenes(stash, plex, count: int, root: str = "/data/big",
                        covers: bool = False) -> tuple[int, list[int]]:
    """`count` generated Plex items and a Stash scene for each, with the same file and
    different metadata (so a first sync writes every one). Returns (section id, scene ids).
    Scenes without a cover still have one for PlexSync: Stash serves a default image."""
    section = load_generated_library(plex, count, root=root)
    ids = []
    for i in range(count):
        extra = {"cover": make_png(f"cover {i}")} if covers else {}
        ids.append(stash.add_scene(
            f"Stash scene {i}", files=[f"{root}/{i // 1000:03d}/scene_{i:06d}.mp4"],
            details=f"Details of scene {i}.", date="2024-01-31", studio=f"Studio {i % 13}",
            performers=[f"Performer {i % 17}", f"Performer {(i + 5) % 17}"],
            tags=[f"Tag {i % 11}", f"Tag {(i + 3) % 11}", "Bench"], **extra))
    return section, ids


def queue_scenes(stash_url: str, data_dir: Path, ids: list, chunk: int = 250) -> dict:
    """Queue jobs for these scenes exactly as the hook builds them (Stash's answer ->
    hooks.scene_jobs.jobs_from_scenes -> QueueStore.enqueue); returns the settings."""
    stash = StashClient(stash_url, timeout=60)
    key = hashlib.sha1(f"bench {time.time_ns()}".encode()).hexdigest()[:16]
    settings = {}
    with QueueStore(data_dir) as store:
        for start in range(0, len(ids), chunk):
            settings, scenes = stash.hook_bundle(ids[start:start + chunk])
            cfg = parse_config(settings)
            store.enqueue(jobs_from_scenes(scenes, cfg.max_tags, update_type="update",
                                           job_key=key, now=time.time()))
    return settings


def plex_files(count: int, root: str = "/data/big") -> list[str]:
    return [f"{root}/{i // 1000:03d}/scene_{i:06d}.mp4" for i in range(count)]


# ---- CLI ---------------------------------------------------------------------------------------
def cli(run) -> None:
    """`python bench/<figure>.py [--quick] [--json FILE]`: run one figure, print its rows."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer runs")
    parser.add_argument("--json", metavar="FILE", help="write the figure as JSON ('-' = stdout)")
    args = parser.parse_args()
    figure = timed(run, args.quick)
    if args.json == "-":
        print(json.dumps(asdict(figure)))
        return
    if args.json:
        Path(args.json).write_text(json.dumps(asdict(figure), indent=2))
    print(render([figure]))


def timed(run, quick: bool) -> Figure:
    before, started = loadavg(), time.monotonic()
    figure = run(quick)
    figure.seconds = round(time.monotonic() - started, 2)
    figure.load_before, figure.load_after = before, loadavg()
    return figure


def render(figures: list) -> str:
    """One plain-text table: figure, value, goal, pass/fail, floor/baseline."""
    header = ("figure", "value", "goal", "result", "floor / baseline")
    lines = [header]
    for fig in figures:
        rows = fig["rows"] if isinstance(fig, dict) else [asdict(r) for r in fig.rows]
        for r in rows:
            verdict = "-" if r["ok"] is None else ("pass" if r["ok"] else "FAIL")
            lines.append((r["figure"], r["value"], r["goal"], verdict, r["baseline"]))
    widths = [max(len(line[i]) for line in lines) for i in range(4)]
    out = []
    for n, line in enumerate(lines):
        out.append("  ".join(cell.ljust(widths[i]) if i < 4 else cell
                             for i, cell in enumerate(line)).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths) + "  " + "-" * 16)
    return "\n".join(out)
