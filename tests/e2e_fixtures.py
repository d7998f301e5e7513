"""The whole system on loopback: Stash emulator -> runner (hooks, tasks) -> PlexSync -> Plex emulator.

`synced` is the fixture end-to-end tests use: both emulators with their sample libraries,
PlexSync's settings stored in Stash as a user would set them, the runner wired as Stash's hook
executor, and helpers to edit scenes through GraphQL (so hooks fire exactly as in Stash), wait
for the detached drainer, and read PlexSync's state. Teardown kills any drainer still alive:
drainers are detached on purpose and would otherwise outlive the test.

`secured` is the same system with every secret in play (a Stash that requires an API key, the
session cookie Stash hands to plugins, a distinctive Plex token) for the proofs of issue 5;
`Synced.start_drainer()` starts `python -m worker --background` the way a hook does.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from sync_queue.dlq import DeadLetters
from sync_queue.lock import drain_lock_held, lock_holder_pid
from sync_queue.store import QueueStore
from tests.emulators.plex_library import load_small_library
from tests.emulators.plex_server import PlexEmulator
from tests.emulators.stash_fixtures import load_sample_library
from tests.harness import protocol
from tests.harness.fixtures import PLUGIN_ROOT
from tests.waiting import wait_until

__all__ = ["synced", "secured", "Synced", "SCENE_UPDATE", "BULK_UPDATE", "wait_until",
           "PROOF_PLEX_TOKEN", "PROOF_STASH_API_KEY"]

# Distinctive secrets of the `secured` fixture: a leak anywhere is found by a plain search.
PROOF_PLEX_TOKEN = "pLxTok-7Q2zK9vR4wX1"
PROOF_STASH_API_KEY = "stAPIk-3M8nB5cV0jH6"

SCENE_UPDATE = """mutation Edit($input: SceneUpdateInput!) { sceneUpdate(input: $input) { id } }"""
BULK_UPDATE = """mutation Bulk($input: BulkSceneUpdateInput!) { bulkSceneUpdate(input: $input) { id } }"""


@dataclass
class Synced:
    stash: object
    plex: object
    runner: object
    data_dir: Path
    library: object       # Stash sample library (scene ids by slug)
    plex_library: object  # Plex small library (section ids, rating keys)
    secrets: tuple = ()   # values that must never be logged or stored (`secured` only)
    spawned: list = field(default_factory=list)  # (Popen, stdout path, stderr path)

    def configure(self, **settings) -> dict:
        base = {"plex_url": self.plex.url, "plex_token": self.plex.token}
        base.update(settings)
        self.stash.set_plugin_settings("PlexSync", {k: v for k, v in base.items() if v is not None})
        return base

    def edit(self, scene_id, **fields) -> dict:
        """sceneUpdate through Stash's GraphQL: the hook runs before this returns."""
        answer = self.graphql(SCENE_UPDATE, {"input": {"id": str(scene_id), **fields}})
        assert not answer.get("errors"), answer
        return answer

    def bulk_edit(self, ids, **fields) -> dict:
        answer = self.graphql(BULK_UPDATE, {"input": {"ids": [str(i) for i in ids], **fields}})
        assert not answer.get("errors"), answer
        return answer

    def graphql(self, query: str, variables: dict, timeout: float = 300.0) -> dict:
        """POST to the Stash emulator (with its API key, if any), waiting as long as Stash
        makes its user wait: every hook of the mutation runs before it answers (a bulk edit
        of many scenes on a busy machine takes longer than StashEmulator.graphql's 10 s)."""
        headers = {"Content-Type": "application/json"}
        if self.stash.api_key:
            headers["ApiKey"] = self.stash.api_key
        request = urllib.request.Request(
            f"{self.stash.url}/graphql", method="POST", headers=headers,
            data=json.dumps({"query": query, "variables": variables}).encode())
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read())

    def plex_item(self, path: str) -> dict:
        keys = self.plex.find_by_file(path)
        assert len(keys) == 1, f"{path}: {keys}"
        return self.plex.item(keys[0])

    def wait_plex(self, path: str, predicate, timeout: float = 20.0, what: str = "Plex") -> dict:
        return wait_until(lambda: predicate(self.plex_item(path)) and self.plex_item(path),
                          timeout, what=what)

    def wait_drained(self, timeout: float = 30.0) -> None:
        """Until the queue is empty (nothing ready, in flight or scheduled) and no drainer runs."""
        def idle():
            counts = QueueStore(self.data_dir).counts()
            busy = counts["ready"] + counts["in_flight"] + counts["scheduled"]
            return busy == 0 and not drain_lock_held(self.data_dir)
        wait_until(idle, timeout, what="the queue to drain")

    def wait_drainer_exit(self, timeout: float = 20.0) -> None:
        wait_until(lambda: not drain_lock_held(self.data_dir), timeout, what="the drainer to exit")

    def dead_letters(self) -> list:
        return DeadLetters(self.data_dir).list()

    def hook_logs(self, level: str | None = None) -> list[str]:
        return [m for run in self.runner.runs for m in run.messages(level)]

    def drainer_log(self) -> str:
        path = self.data_dir / "drainer.log"
        return path.read_text(encoding="utf-8") if path.exists() else ""

    def kill_drainer(self) -> int | None:
        """SIGKILL the drain lock holder (a PlexSync process this test started); its pid."""
        pid = lock_holder_pid(self.data_dir) if drain_lock_held(self.data_dir) else None
        if pid and _is_plexsync_process(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            return pid
        return None

    def server_connection(self) -> dict:
        """server_connection exactly as the runner (i.e. Stash) hands it to the plugin."""
        r = self.runner
        return protocol.server_connection(r.scheme, r.host, r.port, r.session_cookie,
                                          r.server_dir, r.manifest.plugin_dir)

    def start_drainer(self) -> subprocess.Popen:
        """`python -m worker --background` as hooks.drainer_launch starts it (payload on stdin,
        plugin dir as cwd, own session); its stdout/stderr go to files the test can read."""
        n = len(self.spawned)
        out, err = self.data_dir.parent / f"drainer-{n}.out", self.data_dir.parent / f"drainer-{n}.err"
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        env["PLEXSYNC_DATA_DIR"] = str(self.data_dir)
        payload = {"server_connection": self.server_connection(),
                   "settings": self.stash.plugin_settings("PlexSync")}
        with open(out, "wb") as stdout, open(err, "wb") as stderr:
            proc = subprocess.Popen([sys.executable, "-m", "worker", "--background"],
                                    cwd=PLUGIN_ROOT, env=env, stdin=subprocess.PIPE,
                                    stdout=stdout, stderr=stderr, start_new_session=True)
        proc.stdin.write(json.dumps(payload).encode())
        proc.stdin.close()
        self.spawned.append((proc, out, err))
        return proc

    def spawned_output(self) -> str:
        """stdout + stderr of every process the helpers started."""
        return "".join(p.read_text("utf-8", "replace") for _, out, err in self.spawned
                       for p in (out, err) if p.exists())

    def stop_spawned(self) -> None:
        for proc, _, _ in self.spawned:
            if proc.poll() is None:
                proc.kill()
            proc.wait(10)

    def kill_strays(self) -> list[int]:
        """SIGKILL every PlexSync process of THIS test's data folder, lock or not: a drainer a
        hook started an instant before teardown has not taken the lock yet, and one waiting
        for a Plex that the test has stopped would otherwise wait on for ever (Linux only)."""
        marker = f"PLEXSYNC_DATA_DIR={self.data_dir}".encode()
        killed = []
        for proc_dir in Path("/proc").glob("[0-9]*"):
            try:
                pid = int(proc_dir.name)
                if marker in (proc_dir / "environ").read_bytes().split(b"\0") \
                        and _is_plexsync_process(pid):
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
            except (OSError, ValueError):
                continue  # gone, or not ours to read
        return killed


def _is_plexsync_process(pid: int) -> bool:
    """Guard before a SIGKILL: the pid in drain.lock must still be a PlexSync drainer or task
    (pids are reused; never signal a stranger)."""
    if pid == os.getpid():
        return False  # the test itself holds the lock (e.g. to queue without a drainer)
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return os.name != "posix" or not Path("/proc").exists()
    return (b"worker" in argv and b"-m" in argv) or any(
        arg.endswith((b"PlexSync.py", b"process_queue.py")) for arg in argv)


def start_synced(stash, stash_library, plex, plex_library, make_runner, tmp_path,
                 extra_env: dict | None = None) -> Synced:
    """What `synced` yields; `extra_env` goes to the hook and every process it starts."""
    data_dir = tmp_path / "plexsync-data"
    runner = make_runner(PLUGIN_ROOT, ("0.0.0.0", stash.port), session_cookie=stash.create_session(),
                         env={"PLEXSYNC_DATA_DIR": str(data_dir), "PLEXSYNC_NEW_SCENE_DELAY": "0.3",
                              **(extra_env or {})})
    stash.hook_sink = runner.hook_sink
    env = Synced(stash, plex, runner, data_dir, stash_library, plex_library)
    env.configure()
    return env


def stop_synced(env: Synced) -> None:
    env.stash.hook_sink = None
    env.kill_drainer()
    env.stop_spawned()
    env.kill_strays()


@pytest.fixture
def synced(stash, stash_library, plex, plex_library, make_runner, tmp_path) -> Synced:
    env = start_synced(stash, stash_library, plex, plex_library, make_runner, tmp_path)
    yield env
    stop_synced(env)


@pytest.fixture
def secured(stash_factory, make_runner, tmp_path) -> Synced:
    """`synced` with every secret in play: a Stash that requires an API key (the runner
    hands PlexSync a session cookie, as Stash does) and a distinctive Plex token."""
    stash = stash_factory(api_key=PROOF_STASH_API_KEY)
    library = load_sample_library(stash)
    plex = PlexEmulator(token=PROOF_PLEX_TOKEN).start()
    plex_library = load_small_library(plex)
    cookie = stash.create_session()
    data_dir = tmp_path / "plexsync-data"
    runner = make_runner(PLUGIN_ROOT, ("0.0.0.0", stash.port), session_cookie=cookie,
                         env={"PLEXSYNC_DATA_DIR": str(data_dir), "PLEXSYNC_NEW_SCENE_DELAY": "0.3"})
    stash.hook_sink = runner.hook_sink
    env = Synced(stash, plex, runner, data_dir, library, plex_library,
                 secrets=(PROOF_PLEX_TOKEN, PROOF_STASH_API_KEY, cookie))
    env.configure()
    try:
        yield env
    finally:
        stash.hook_sink = None
        env.kill_drainer()
        env.stop_spawned()
        env.kill_strays()
        plex.stop()
    assert not plex.errors, "Plex emulator internal error:\n" + "\n".join(plex.errors)
