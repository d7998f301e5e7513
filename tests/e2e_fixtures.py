"""The whole system on loopback: Stash emulator -> runner (hooks, tasks) -> PlexSync -> Plex emulator.

`synced` is the fixture end-to-end tests use: both emulators with their sample libraries,
PlexSync's settings stored in Stash as a user would set them, the runner wired as Stash's hook
executor, and helpers to edit scenes through GraphQL (so hooks fire exactly as in Stash), wait
for the detached drainer, and read PlexSync's state. Teardown kills any drainer still alive:
drainers are detached on purpose and would otherwise outlive the test.
"""
from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from sync_queue.dlq import DeadLetters
from sync_queue.lock import drain_lock_held, lock_holder_pid
from sync_queue.store import QueueStore
from tests.harness.fixtures import PLUGIN_ROOT

__all__ = ["synced", "Synced", "SCENE_UPDATE", "BULK_UPDATE", "wait_until"]

SCENE_UPDATE = """mutation Edit($input: SceneUpdateInput!) { sceneUpdate(input: $input) { id } }"""
BULK_UPDATE = """mutation Bulk($input: BulkSceneUpdateInput!) { bulkSceneUpdate(input: $input) { id } }"""


def wait_until(predicate, timeout: float = 20.0, interval: float = 0.05, what: str = "condition"):
    """Poll until predicate() is truthy; fail the test with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


@dataclass
class Synced:
    stash: object
    plex: object
    runner: object
    data_dir: Path
    library: object       # Stash sample library (scene ids by slug)
    plex_library: object  # Plex small library (section ids, rating keys)

    def configure(self, **settings) -> dict:
        base = {"plex_url": self.plex.url, "plex_token": self.plex.token}
        base.update(settings)
        self.stash.set_plugin_settings("PlexSync", {k: v for k, v in base.items() if v is not None})
        return base

    def edit(self, scene_id, **fields) -> dict:
        """sceneUpdate through Stash's GraphQL: the hook runs before this returns."""
        answer = self.stash.graphql(SCENE_UPDATE, {"input": {"id": str(scene_id), **fields}})
        assert not answer.get("errors"), answer
        return answer

    def bulk_edit(self, ids, **fields) -> dict:
        answer = self.stash.graphql(BULK_UPDATE, {"input": {"ids": [str(i) for i in ids], **fields}})
        assert not answer.get("errors"), answer
        return answer

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

    def kill_drainer(self) -> None:
        pid = lock_holder_pid(self.data_dir) if drain_lock_held(self.data_dir) else None
        if pid:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.fixture
def synced(stash, stash_library, plex, plex_library, make_runner, tmp_path) -> Synced:
    data_dir = tmp_path / "plexsync-data"
    runner = make_runner(PLUGIN_ROOT, ("0.0.0.0", stash.port), session_cookie=stash.create_session(),
                         env={"PLEXSYNC_DATA_DIR": str(data_dir), "PLEXSYNC_NEW_SCENE_DELAY": "0.3"})
    stash.hook_sink = runner.hook_sink
    env = Synced(stash, plex, runner, data_dir, stash_library, plex_library)
    env.configure()
    yield env
    stash.hook_sink = None
    env.kill_drainer()
