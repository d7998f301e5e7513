"""Sync All at library scale: 10,000 Stash scenes are read page by page and queued as read,
so memory stays that of one page. The Stash emulator runs in its own process here, so that
tracemalloc counts PlexSync's allocations only (the emulator's GraphQL execution would
otherwise dominate both time and the traced peak)."""
from __future__ import annotations

import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest

from hooks.stash_api import StashClient
from sync_queue.records import SyncRecords
from sync_queue.store import QueueStore
from validation.config import parse_config
from worker.tasks.env import StashProgress, TaskEnv
from worker.tasks.scenes import PAGE_SIZE, rfc3339
from worker.tasks.sync_all import queue_changed

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_sync_all_pages_10000_scenes_in_bounded_memory(tmp_path):
    """10,000 scenes: every page queued as read, memory flat (the emulator runs in its own
    process so only PlexSync's allocations are traced)."""
    small, small_peak = _queue_changed_in_emulator(1000, tmp_path / "small")
    big, big_peak = _queue_changed_in_emulator(10_000, tmp_path / "big")
    assert small.queued == 1000 - 100 and small.in_sync == 100
    assert big.total == big.seen == 10_000
    assert big.queued == 9000 and big.in_sync == 1000 and big.changed == 9000
    with QueueStore(tmp_path / "big") as store:
        assert store.counts()["ready"] == 9000
    # one page of scenes at a time: ten times the scenes may not cost ten times the memory
    assert big_peak < small_peak * 1.5, (small_peak, big_peak)
    assert big_peak < 20_000_000


_STASH_PROCESS = r"""
import sys
from tests.emulators.stash_server import StashEmulator
stash = StashEmulator().start()
for i in range(int(sys.argv[1])):
    stash.add_scene(f"Scene {i}", files=[f"/data/big/{i // 1000:03d}/scene_{i:06d}.mp4"],
                    tags=["Drama", "Music"], performers=["Ann Able"], studio="Studio",
                    details="x" * 300, updated_at=stash.timestamp(1_714_564_800 + i))
print(stash.url, flush=True)
sys.stdin.read()
"""


def _queue_changed_in_emulator(n: int, data_dir: Path):
    # Every tenth scene was synced before with exactly its current Stash state.
    records = SyncRecords(data_dir)
    for i in range(0, n, 10):
        records.put(i + 1, {"scene_id": str(i + 1), "stash_updated_at": rfc3339(1_714_564_800 + i)})
    child = subprocess.Popen([sys.executable, "-c", _STASH_PROCESS, str(n)], cwd=ROOT,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        url = child.stdout.readline().strip()
        progress: list[float] = []
        env = TaskEnv(cfg=parse_config({"plex_url": "http://127.0.0.1:9", "plex_token": "t0ken"}),
                      settings={}, stash=StashClient(url, timeout=60), plugin_dir=ROOT,
                      data_dir=data_dir, args={}, reporter=StashProgress(progress.append))
        tracemalloc.start()
        try:
            selection = queue_changed(env, None)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    finally:
        child.stdin.close()
        child.wait(30)
    assert progress[-1] == pytest.approx(0.3) and progress == sorted(progress)
    assert len(progress) >= n // PAGE_SIZE
    return selection, peak
