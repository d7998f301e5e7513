"""One drainer per burst (issue 19 item 2): the process that starts a drainer takes the drain
lock first and hands it to the child (hooks/drainer_launch.py, sync_queue/lock.py), so hooks
released at the same moment start one drainer, no hook starts one while a drainer is starting,
and a drainer that finds the lock taken leaves before its heavy imports.

Nothing here depends on timing: the Stash emulator holds every answer (a held response) while
the hooks run, so the drainer they start is provably still starting when they look; hook
processes are started first and released together by closing their stdin (Stash writes the
input and closes it; the hook reads to the end).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from hooks.drainer_launch import DRAINER_NICENESS, start_drainer_if_idle
from sync_queue.lock import (INHERITED_FD_ENV, DrainLock, drain_lock_held, drainer_lock_at_start,
                             lock_holder_pid)
from tests.e2e.test_drain import FakePlex, context, enqueue, make_job, run
from tests.e2e_fixtures import wait_until
from tests.harness import protocol
from tests.harness.fixtures import PLUGIN_ROOT
from tests.proof_checks import twin_scenes

pytestmark = pytest.mark.skipif(not Path("/proc/self/environ").exists() or os.name == "nt",
                                reason="counts drainer processes through Linux's /proc")

HOOKS = 8
HEAVY = ("plexapi", "pydantic", "requests", "persistqueue", "sqlite3", "urllib3", "tenacity")
STARTED = "background sync started"


def hooks_released_together(env, titles: dict, tmp_path: Path) -> list[dict]:
    """Edit each scene in Stash, start every scene's Scene.Update.Post hook process as Stash
    does (argv, environment, stdin), and only when all are running close their stdin."""
    runner = env.runner
    [hook] = runner.manifest.hooks_for("Scene.Update.Post")
    argv, hook_env = runner.command(hook)
    conn = protocol.server_connection(runner.scheme, runner.host, runner.port,
                                      runner.session_cookie, runner.server_dir,
                                      runner.manifest.plugin_dir)
    started = []
    for n, (scene_id, title) in enumerate(titles.items()):
        env.stash.edit_scene(scene_id, title=title)
        args = dict(hook.default_args)
        args["hookContext"] = protocol.hook_context("Scene.Update.Post", scene_id,
                                                    {"id": str(scene_id), "title": title},
                                                    ["id", "title"], runner.rng)
        out, err = tmp_path / f"hook-{n}.out", tmp_path / f"hook-{n}.err"
        with open(out, "wb") as stdout, open(err, "wb") as stderr:
            proc = subprocess.Popen(argv, env=hook_env, cwd=runner.cwd, stdin=subprocess.PIPE,
                                    stdout=stdout, stderr=stderr)
        proc.stdin.write(protocol.plugin_input(conn, args))
        proc.stdin.flush()
        started.append((proc, out, err))
    for proc, _, _ in started:  # the release: each hook has its whole input but its EOF
        proc.stdin.close()
    results = []
    for proc, out, err in started:
        code = proc.wait(60)
        results.append({"code": code, "output": json.loads(out.read_bytes() or b"null"),
                         "log": err.read_text("utf-8", "replace")})
    return results


def drainer_pids(data_dir: Path) -> list[int]:
    """Live drainers of this data folder: `python -m worker --background`, or a hook's fork
    that has not exec'd it yet (call this once every hook has exited)."""
    marker = f"PLEXSYNC_DATA_DIR={data_dir}".encode()
    pids = []
    for proc_dir in Path("/proc").glob("[0-9]*"):
        try:
            argv = (proc_dir / "cmdline").read_bytes().split(b"\0")
            drainer = b"worker" in argv and b"--background" in argv
            forked = any(arg.endswith(b"PlexSync.py") for arg in argv)
            if (drainer or forked) and int(proc_dir.name) != os.getpid() and \
                    marker in (proc_dir / "environ").read_bytes().split(b"\0"):
                state = (proc_dir / "stat").read_text().rsplit(")", 1)[1].split()[0]
                if state != "Z":  # exited, not yet reaped: not running
                    pids.append(int(proc_dir.name))
        except (OSError, ValueError, IndexError):
            continue
    return pids


def niceness(pid: int) -> int:
    return int((Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[16])


def test_hooks_released_together_start_one_drainer_and_every_edit_reaches_plex(synced, tmp_path):
    env = synced
    scenes = twin_scenes(env, HOOKS, "burst")
    assert not drain_lock_held(env.data_dir) and drainer_pids(env.data_dir) == []
    release = env.stash.hold_answers()  # the drainer they start stays in its first request
    try:
        runs = hooks_released_together(env, {sid: f"burst edit {sid}" for sid in scenes}, tmp_path)
        assert [r["code"] for r in runs] == [0] * HOOKS, runs
        assert all("queued for Plex" in r["output"]["output"] for r in runs), runs
        # Every hook has exited; the drainer one of them started is still starting.
        assert drain_lock_held(env.data_dir)
        [drainer] = drainer_pids(env.data_dir)
        wait_until(lambda: lock_holder_pid(env.data_dir) == drainer, 60,
                   what="the drainer to adopt the lock")
        # A hook lowers the drainer's priority before it execs: it yields the CPU to Stash.
        assert niceness(drainer) >= DRAINER_NICENESS
    finally:
        release.set()
    env.wait_drained(timeout=60)
    for scene_id, path in scenes.items():  # noted while the drainer was starting: none stranded
        assert env.plex_item(path)["title"] == f"burst edit {scene_id}"
    assert env.drainer_log().count(STARTED) == 1, env.drainer_log()


def test_a_hook_starts_nothing_while_a_drainer_is_starting_and_its_edit_is_synced(synced):
    env = synced
    scenes = twin_scenes(env, 2, "starting")
    first, second = scenes
    release = env.stash.hold_answers()
    try:
        env.stash.edit_scene(first, title="first edit")
        env.runner.run_hook("Scene.Update.Post", first, {"id": str(first), "title": "first edit"},
                            ["id", "title"])
        [starting] = drainer_pids(env.data_dir)
        env.stash.edit_scene(second, title="edit while starting")
        [noted] = env.runner.run_hook("Scene.Update.Post", second,
                                      {"id": str(second), "title": "edit while starting"},
                                      ["id", "title"])
        assert "queued for Plex" in noted.output
        assert drainer_pids(env.data_dir) == [starting]
    finally:
        release.set()
    env.wait_drained(timeout=60)
    assert env.plex_item(scenes[first])["title"] == "first edit"
    assert env.plex_item(scenes[second])["title"] == "edit while starting"
    assert env.drainer_log().count(STARTED) == 1


def test_the_child_holds_the_lock_from_the_spawn_and_a_killed_starter_frees_it(stash, tmp_path):
    data_dir = tmp_path / "data"
    conn = {"Scheme": "http", "Host": "127.0.0.1", "Port": stash.port,
            "SessionCookie": {"Name": "session", "Value": stash.create_session()}}
    release = stash.hold_answers()
    try:
        assert start_drainer_if_idle(PLUGIN_ROOT, data_dir, {"server_connection": conn})
        assert drain_lock_held(data_dir)  # handed over, never let go in between
        assert not start_drainer_if_idle(PLUGIN_ROOT, data_dir, {"server_connection": conn})
        # The child writes its own pid on adopting the lock (until then drain.lock names us).
        pid = wait_until(lambda: (lock_holder_pid(data_dir) or os.getpid()) != os.getpid()
                         and lock_holder_pid(data_dir), 60, what="the drainer to adopt the lock")
        assert drainer_pids(data_dir) == [pid]
        os.kill(pid, signal.SIGKILL)  # dies while starting: no stale claim is left behind
        os.waitpid(pid, 0)
        assert not drain_lock_held(data_dir)
    finally:
        release.set()


def test_a_drainer_without_the_lock_leaves_before_its_heavy_imports(tmp_path):
    lock = DrainLock(tmp_path)
    assert lock.try_acquire()  # a drainer runs (or is starting)
    try:
        # Not measured by coverage: its start-up hook (a .pth file, run when these variables are
        # set) imports sqlite3 itself, which would hide whether the drainer did.
        env = {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_PROCESS_")}
        env["PLEXSYNC_DATA_DIR"] = str(tmp_path)
        env.pop(INHERITED_FD_ENV, None)
        done = subprocess.run([sys.executable, "-X", "importtime", "-m", "worker", "--background"],
                              cwd=PLUGIN_ROOT, env=env, input=b"{}", capture_output=True,
                              timeout=60)
    finally:
        lock.release()
    assert done.returncode == 0 and done.stdout == b""
    imported = {line.split("|")[-1].strip() for line in done.stderr.decode().splitlines()
                if line.startswith("import time:")}
    assert "sync_queue.lock" in imported  # the probe ran: the list is real
    assert not {m for m in imported if m.split(".")[0] in HEAVY}, sorted(imported)
    assert not (tmp_path / "drainer.log").exists()


def test_a_handed_over_number_that_is_not_the_lock_is_not_trusted(tmp_path):
    other = os.open(tmp_path / "not-the-lock", os.O_RDWR | os.O_CREAT)
    try:
        assert DrainLock.inherited(tmp_path, str(other)) is None
        assert DrainLock.inherited(tmp_path, "not a number") is None
    finally:
        os.close(other)


def test_a_drainer_started_without_a_usable_handed_lock_takes_it_and_hides_the_number(tmp_path):
    environ = {INHERITED_FD_ENV: "999"}  # no such descriptor here
    lock = drainer_lock_at_start(tmp_path, environ)
    try:
        assert lock is not None and lock.held and lock_holder_pid(tmp_path) == os.getpid()
        assert environ == {}  # the processes it starts (a hand-over) get no stale number
        assert drainer_lock_at_start(tmp_path, {}) is None  # taken: the next one steps aside
    finally:
        lock.release()


class LetGoThenAHookClaims(DrainLock):
    """In the instant after the drainer let go of the lock, a hook notes an edit and takes the
    lock for the drainer it starts (hooks/drainer_launch.py)."""

    def __init__(self, data_dir):
        super().__init__(data_dir)
        self.hook_claim = None

    def release(self):
        was_held = self.held
        super().release()
        if was_held and self.hook_claim is None:
            enqueue(self.data_dir, make_job(99, "late"))
            self.hook_claim = DrainLock(self.data_dir)
            assert self.hook_claim.try_acquire()


@pytest.mark.parametrize("idle_exit_after", [None, 2.0])
def test_an_edit_noted_while_the_drainer_exits_is_drained_by_the_one_the_hook_starts(
        tmp_path, idle_exit_after):
    enqueue(tmp_path, make_job(1))
    plex = FakePlex()
    ctx = context(tmp_path, plex, lock=LetGoThenAHookClaims(tmp_path))
    first = run(ctx, idle_exit_after=idle_exit_after)
    assert first.synced == 1 and plex.titles(99) == []  # it saw the job, and the lock taken
    second = run(context(tmp_path, plex, lock=ctx.lock.hook_claim), idle_exit_after=idle_exit_after)
    assert second.synced == 1 and plex.titles(99) == ["late"]
    assert not drain_lock_held(tmp_path)
