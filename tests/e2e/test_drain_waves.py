"""Waves (worker/waves.py, issue 13 item 5): the Plex side of up to `wave_width` jobs in
flight together, everything else on the drain's thread in queue order. The sync seam is a
thread-safe fake that measures how many calls overlap.

Which calls overlap, and in what order a wave's calls start, is the scheduler's choice; what
the code promises is the wave: which jobs it holds and that they are in flight together.
So each wave's calls meet at a barrier inside the fake (HeldWaves tells it the wave's size):
they are all in flight at once on any machine, and the order inside a wave is never asserted.
A timeout on the barrier only bounds a failure (a wave wider than its threads)."""
import threading
import time

import pytest

from plex.errors import PlexUnavailable
from sync_queue.records import SyncRecords
from sync_queue.store import QueueStore
from tests.e2e.test_drain import FakePlex, context, enqueue, make_job, run
from worker import drain as drain_module
from worker.breaker import Policy
from worker.waves import WaveRunner, primary_file

MEET_TIMEOUT = 30.0  # s; only a broken wave ever waits this long


class Gauge(FakePlex):
    """FakePlex that records the most calls in flight at once. Calls of one wave wait for
    each other (meet) before any returns."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.now, self.most, self.lock = 0, 0, threading.Lock()
        self.barrier: threading.Barrier | None = None
        self.waves: list[int] = []  # size of each wave, in order

    def meet(self, size: int) -> None:
        self.waves.append(size)
        self.barrier = threading.Barrier(size, timeout=MEET_TIMEOUT) if size > 1 else None

    def __call__(self, snap, record, allow_scan):
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
        try:
            if self.barrier is not None:
                self.barrier.wait()
            with self.lock:
                return super().__call__(snap, record, allow_scan)
        finally:
            with self.lock:
                self.now -= 1


class HeldWaves(WaveRunner):
    """The drain's WaveRunner, telling the gauge each wave's size before running it."""

    def __init__(self, width: int, gauge: Gauge):
        super().__init__(width)
        self.gauge = gauge

    def run(self, work, compute):
        self.gauge.meet(len(work))
        return super().run(work, compute)


@pytest.fixture
def held(monkeypatch):
    """held(gauge): the drain runs its waves through HeldWaves feeding `gauge`."""
    def hold(gauge: Gauge) -> Gauge:
        monkeypatch.setattr(drain_module, "WaveRunner", lambda width: HeldWaves(width, gauge))
        return gauge
    return hold


def test_wave_runner_keeps_order_and_bounds_concurrency():
    runner = WaveRunner(3)
    gauge = Gauge()
    gauge.meet(3)  # the first three calls meet; the barrier then lets each next three through
    try:
        out = runner.run(list(range(6)), lambda n: (gauge(
            {"id": str(n), "title": "t"}, None, True), n)[1])
    finally:
        runner.close()
    assert out == list(range(6)) and gauge.most == 3


def test_jobs_run_four_at_a_time_and_settle_in_queue_order(tmp_path, held):
    enqueue(tmp_path, *[make_job(i, f"t{i}") for i in range(1, 13)])
    plex = held(Gauge(clock=time.time))
    done = []
    summary = run(context(tmp_path, plex, wave_width=4),
                  on_progress=lambda n, total: done.append(n))
    assert summary.synced == 12 and not summary.errors
    assert plex.waves == [1, 4, 4, 3] and plex.most == 4  # one first, then four, never more
    assert done == list(range(1, 13))
    assert all(SyncRecords(tmp_path).get(i)["written"]["title"] == f"t{i}" for i in range(1, 13))


def test_two_jobs_for_the_same_file_never_share_a_wave(tmp_path, held):
    jobs = [make_job(i) for i in range(1, 5)]
    jobs[1]["data"]["files"] = jobs[0]["data"]["files"]  # scenes 1 and 2 share a file
    enqueue(tmp_path, *jobs)
    assert primary_file(jobs[0]) == primary_file(jobs[1])
    plex = held(Gauge(clock=time.time))
    assert run(context(tmp_path, plex, wave_width=4)).synced == 4
    assert plex.waves == [1, 3] and plex.most == 3  # 1 alone; then 2, 3 and 4, never 1 and 2


def test_newest_edit_still_wins_within_a_wave(tmp_path, held):
    enqueue(tmp_path, make_job(1, "old"), make_job(2, "other"), make_job(1, "new"))
    plex = held(Gauge(clock=time.time))
    summary = run(context(tmp_path, plex, wave_width=4))
    assert plex.titles(1) == ["new"] and summary.superseded == 1


def test_jobs_in_flight_when_the_breaker_opens_go_back_without_spending_a_retry(tmp_path, held):
    enqueue(tmp_path, *[make_job(i) for i in range(1, 7)])
    # 1 syncs alone, then the wave 2..5: 2 syncs, 3 and 4 fail (the breaker opens), 5 fails
    # too but was only in flight beside them.
    plex = held(Gauge(clock=time.time, fail=lambda scene, n: PlexUnavailable("refused")
                      if scene >= 3 else None))
    ctx = context(tmp_path, plex, wave_width=4, breaker_policy=Policy(failure_threshold=2))
    summary = run(ctx)
    scenes = [s for s, *_ in plex.calls]  # a wave's calls start in any order
    assert plex.waves == [1, 4] and scenes[0] == 1 and sorted(scenes[1:]) == [2, 3, 4, 5]
    assert summary.breaker_open and summary.breaker_opened == 1
    assert summary.synced == 2 and summary.retrying == 2  # the two failures that opened it
    counts = QueueStore(tmp_path).counts()
    assert (counts["ready"], counts["scheduled"], counts["in_flight"]) == (2, 2, 0)  # 5 and 6


def test_a_drain_starts_with_one_job_and_narrows_again_after_a_failure(tmp_path, held):
    enqueue(tmp_path, *[make_job(i) for i in range(1, 10)])
    plex = held(Gauge(clock=time.time, fail=lambda scene, n: PlexUnavailable("503")
                      if scene == 1 else None))  # a wrong token or a down Plex: one request
    run(context(tmp_path, plex, wave_width=4))
    order = [s for s, *_ in plex.calls]
    assert order[:2] == [1, 2]  # 1 failed alone; 2 went alone too; then waves
    assert plex.waves == [1, 1, 4, 3] and plex.most == 4
