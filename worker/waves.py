"""Several jobs' Plex work in flight at once, a bounded number: a "wave".

Each synced job is a few round trips (reload from the batch, PUT, maybe a cover download
from Stash and uploads). One at a time, the drain mostly waits: for Plex to be scheduled,
to answer, and then for itself to be scheduled again. A wave runs the Plex side of up to
`width` jobs on a small thread pool, so at most `width` requests are in flight at Plex (a
real PMS answers a few parallel requests fine; a burst of hundreds times out).

Only worker.job.run_job runs on the pool: it touches no database. Taking, the newest-wins
check, sync records and settling stay on the drain's thread, in queue order, so every
promise of the sequential drain (crash safety by ordering, newest wins) holds. Two jobs for
the same file never share a wave (their PUTs could land in either order).
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Sequence

WIDTH = 4  # requests in flight at Plex, at most


class WaveRunner:
    def __init__(self, width: int):
        self.width = max(1, int(width))
        self._pool = ThreadPoolExecutor(self.width, thread_name_prefix="plexsync-wave") \
            if self.width > 1 else None

    def run(self, work: Sequence, compute: Callable) -> list:
        """compute(item) for every item, concurrently when there are several; results in the
        order of `work`. compute must not raise (run_job turns every error into an Outcome)."""
        if self._pool is None or len(work) < 2:
            return [compute(item) for item in work]
        return list(self._pool.map(compute, work))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)


def primary_file(job: object) -> str | None:
    """The file two jobs must not both be writing at once (None: not a sync job)."""
    data = job.get("data") if isinstance(job, dict) else None
    files = data.get("files") if isinstance(data, dict) else None
    return str(files[0]) if isinstance(files, list) and files else None
