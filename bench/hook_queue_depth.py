"""Figure 8 (issue 13 item 5): hook latency with 0, 10,000 and 100,000 jobs waiting.

Whatever PlexSync.py is at the time is measured: a single-scene sceneUpdate touching `title`,
fired by the Stash emulator and run by the Stash-exact runner (the hook itself is being
rewritten under issue 13 item 1; this figure only asks whether a deep queue slows it down).
The bench holds the drain lock, as a busy drainer would, so the hooks queue and start no
drainer, and the queue is filled to each depth with hook-shaped jobs (QueueStore.enqueue, 1,000
per commit) between the measurements. At each depth, hook and interpreter floor alternate
(order swapped each pair), so the ratio hook/floor cancels most of the machine's load.
Goal: flat, i.e. the median ratio at 100,000 within 1.2x of the one at 0.
"""
from __future__ import annotations

import time

from common import Figure, cli, median, ms
from loopback import System, add_matching_scenes, run_floor
from sync_queue.lock import DrainLock
from sync_queue.store import QueueStore

DEPTHS = (0, 10_000, 100_000)
FLAT = 1.2


def _filler(start: int, count: int) -> list[dict]:
    """Jobs shaped like the hook's (a scene snapshot of typical size) for scenes that the
    hooks measured here never touch."""
    now = time.time()
    return [{"scene_id": str(1_000_000 + i), "update_type": "update", "job_key": f"fill{i}",
             "enqueued_at": now, "attempts": 0, "not_before": 0.0,
             "data": {"id": str(1_000_000 + i), "title": f"Waiting scene {i}",
                      "details": "Details of a waiting scene. " * 8, "date": "2024-01-31",
                      "studio": "Studio 3", "parent_studio": None,
                      "performers": [{"name": "Performer 1", "image_url": None},
                                     {"name": "Performer 6", "image_url": None}],
                      "tags": ["Tag 1", "Tag 4", "Bench"], "groups": [],
                      "files": [f"/data/waiting/{i // 1000:03d}/scene_{i:06d}.mp4"],
                      "cover_url": f"http://127.0.0.1:9999/scene/{1_000_000 + i}/screenshot?t=1",
                      "updated_at": "2024-01-31T00:00:00Z"}}
            for i in range(start, start + count)]


def _fill_to(data_dir, depth: int, have: int) -> float:
    started = time.monotonic()
    with QueueStore(data_dir) as store:
        for start in range(have, depth, 1000):
            store.enqueue(_filler(start, min(1000, depth - start)))
        ready = store.counts()["ready"]
    if ready < depth:
        raise RuntimeError(f"queue holds {ready} ready jobs, wanted {depth}")
    return time.monotonic() - started


def run(quick: bool) -> Figure:
    pairs = 6 if quick else 15
    depths = (0, 2_000, 20_000) if quick else DEPTHS
    fig = Figure("hook latency vs queue depth", quick)
    results = {}
    with System() as system:
        _, ids = add_matching_scenes(system.stash, system.plex, len(depths) * pairs + 1)
        warm = system.edit(ids[0], title="warm-up")  # uncounted: bytecode cache, drainer
        system.wait_drained()
        system.kill_drainers()
        lock = DrainLock(system.data_dir)
        if not lock.try_acquire(wait=5.0):
            raise RuntimeError("could not take the drain lock")
        try:
            have, edit = 0, 1
            for depth in depths:
                fill_s = _fill_to(system.data_dir, depth, have)
                have = depth
                hooks, floors = [], []
                for n in range(pairs):
                    floor_first = n % 2 == 0
                    if floor_first:
                        floors.append(run_floor(system.runner, warm.stdin))
                    result = system.edit(ids[edit], title=f"depth {depth} edit {n}")
                    edit = edit + 1 if edit + 1 < len(ids) else 1
                    if result.error or "queued" not in str(result.output):
                        raise RuntimeError(f"hook did not queue: {result.output!r} {result.error!r}")
                    hooks.append(result.wall_s)
                    if not floor_first:
                        floors.append(run_floor(system.runner, warm.stdin))
                results[depth] = {"hook_s": hooks, "floor_s": floors, "fill_s": fill_s}
                have += pairs  # the hooks' own jobs
        finally:
            lock.release()
    base = median(results[depths[0]]["hook_s"]) / median(results[depths[0]]["floor_s"])
    for depth in depths:
        r = results[depth]
        h, f = median(r["hook_s"]), median(r["floor_s"])
        ratio = h / f
        deep = depth == depths[-1]
        fig.add(f"8 hook with {depth:,} jobs waiting: median, n={pairs}", ms(h),
                f"ratio <= {FLAT:g}x the empty queue's" if deep else "-",
                ratio <= base * FLAT if deep else None,
                f"floor {ms(f)}; hook/floor {ratio:.2f}x ({ratio / base:.2f}x the empty queue's)")
    fig.details = results
    return fig


if __name__ == "__main__":
    cli(run)
