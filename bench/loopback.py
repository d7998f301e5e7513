"""The loopback system every end-to-end benchmark runs: Stash emulator -> Stash-exact runner ->
PlexSync -> Plex emulator, wired as tests/e2e_fixtures.py wires it, plus the interpreter floor
spawned the way the runner spawns a hook, drainer clean-up, and libraries that match.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import tempfile
import time
import urllib.request
from pathlib import Path

from common import ROOT, plugin_env  # first: it puts the repository on sys.path
from hooks.scene_jobs import jobs_from_scenes
from hooks.stash_api import StashClient
from sync_queue.lock import drain_lock_held, lock_holder_pid
from sync_queue.store import QueueStore
from tests.emulators.plex_library import load_generated_library
from tests.emulators.plex_server import PlexEmulator
from tests.emulators.stash_server import StashEmulator
from tests.emulators.stash_state import make_png
from tests.harness.runner import PluginRunner, RunResult, _Process
from tests.waiting import wait_until
from validation.config import parse_config

FLOOR_CODE = "import json, sqlite3, urllib.request"
SCENE_UPDATE = "mutation Edit($input: SceneUpdateInput!) { sceneUpdate(input: $input) { id } }"
BULK_UPDATE = ("mutation Bulk($input: BulkSceneUpdateInput!) "
               "{ bulkSceneUpdate(input: $input) { id } }")

__all__ = ["BULK_UPDATE", "FLOOR_CODE", "PlexEmulator", "PluginRunner", "SCENE_UPDATE",
           "StashClient", "StashEmulator", "System", "add_matching_scenes", "drainer_alive",
           "kill_drainers", "load_generated_library", "lock_holder_pid", "make_png",
           "parse_config", "plex_files", "queue_idle", "queue_scenes", "run_floor", "wait_until"]


def run_floor(runner: PluginRunner, stdin: bytes) -> float:
    """Wall time of `python -c "import json, sqlite3, urllib.request"` spawned exactly as the
    runner spawns a hook: same interpreter, environment, working directory, stdin bytes and
    pipes, timed by the same pump (spawn -> stdout EOF and exit)."""
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
        wait_until(lambda: queue_idle(self.data_dir), timeout, what="the queue to drain")

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
    settings = stash.plugin_settings()
    cfg = parse_config(settings)
    with QueueStore(data_dir) as store:
        for start in range(0, len(ids), chunk):
            scenes = stash.scenes_by_id(ids[start:start + chunk], chunk=chunk)
            store.enqueue(jobs_from_scenes(scenes, cfg.max_tags, update_type="update",
                                           job_key=key, now=time.time()))
    return settings


def plex_files(count: int, root: str = "/data/big") -> list[str]:
    return [f"{root}/{i // 1000:03d}/scene_{i:06d}.mp4" for i in range(count)]
