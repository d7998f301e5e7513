"""Waves (worker/waves.py, issue 13 item 5): the Plex side of up to `wave_width` jobs in
flight together, everything else on the drain's thread in queue order. The sync seam is a
thread-safe fake that measures how many calls overlap."""
import threading
import time

from plex.errors import PlexUnavailable
from sync_queue.records import SyncRecords
from sync_queue.store import QueueStore
from tests.e2e.test_drain import FakePlex, context, enqueue, make_job, run
from worker.breaker import Policy
from worker.waves import WaveRunner, primary_file


class Gauge(FakePlex):
    """FakePlex that sleeps `hold` seconds per call and records the most calls at once."""

    def __init__(self, hold=0.05, **kwargs):
        super().__init__(**kwargs)
        self.hold, self.now, self.most, self.lock = hold, 0, 0, threading.Lock()

    def __call__(self, snap, record, allow_scan):
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
        try:
            time.sleep(self.hold)
            with self.lock:
                return super().__call__(snap, record, allow_scan)
        finally:
            with self.lock:
                self.now -= 1


def test_wave_runner_keeps_order_and_bounds_concurrency():
    runner = WaveRunner(3)
    gauge = Gauge(hold=0.02)
    try:
        out = runner.run(list(range(7)), lambda n: (gauge(
            {"id": str(n), "title": "t"}, None, True), n)[1])
    finally:
        runner.close()
    assert out == list(range(7)) and gauge.most == 3


def test_jobs_run_four_at_a_time_and_settle_in_queue_order(tmp_path):
    enqueue(tmp_path, *[make_job(i, f"t{i}") for i in range(1, 13)])
    plex = Gauge(clock=time.time)
    done = []
    summary = run(context(tmp_path, plex, wave_width=4),
                  on_progress=lambda n, total: done.append(n))
    assert summary.synced == 12 and not summary.errors
    assert plex.most == 4  # four in flight, never more
    assert done == list(range(1, 13))
    assert all(SyncRecords(tmp_path).get(i)["written"]["title"] == f"t{i}" for i in range(1, 13))


def test_two_jobs_for_the_same_file_never_share_a_wave(tmp_path):
    jobs = [make_job(i) for i in range(1, 5)]
    jobs[1]["data"]["files"] = jobs[0]["data"]["files"]  # scenes 1 and 2 share a file
    enqueue(tmp_path, *jobs)
    assert primary_file(jobs[0]) == primary_file(jobs[1])
    plex = Gauge(clock=time.time)
    assert run(context(tmp_path, plex, wave_width=4)).synced == 4
    assert plex.most == 3  # the wave stopped before scene 2; the next took 2, 3 and 4


def test_newest_edit_still_wins_within_a_wave(tmp_path):
    enqueue(tmp_path, make_job(1, "old"), make_job(2, "other"), make_job(1, "new"))
    plex = Gauge(clock=time.time)
    summary = run(context(tmp_path, plex, wave_width=4))
    assert plex.titles(1) == ["new"] and summary.superseded == 1


def test_jobs_in_flight_when_the_breaker_opens_go_back_without_spending_a_retry(tmp_path):
    enqueue(tmp_path, *[make_job(i) for i in range(1, 7)])
    # 1 syncs alone, then the wave 2..5: 2 syncs, 3 and 4 fail (the breaker opens), 5 fails
    # too but was only in flight beside them.
    plex = Gauge(clock=time.time, fail=lambda scene, n: PlexUnavailable("refused") if scene >= 3
                 else None)
    ctx = context(tmp_path, plex, wave_width=4, breaker_policy=Policy(failure_threshold=2))
    summary = run(ctx)
    assert [s for s, *_ in plex.calls][:2] == [1, 2] and len(plex.calls) == 5
    assert summary.breaker_open and summary.breaker_opened == 1
    assert summary.synced == 2 and summary.retrying == 2  # the two failures that opened it
    counts = QueueStore(tmp_path).counts()
    assert (counts["ready"], counts["scheduled"], counts["in_flight"]) == (2, 2, 0)  # 5 and 6


def test_a_drain_starts_with_one_job_and_narrows_again_after_a_failure(tmp_path):
    enqueue(tmp_path, *[make_job(i) for i in range(1, 10)])
    plex = Gauge(clock=time.time, fail=lambda scene, n: PlexUnavailable("503") if scene == 1
                 else None)  # a wrong token or a down Plex costs one request, not a wave
    run(context(tmp_path, plex, wave_width=4))
    order = [s for s, *_ in plex.calls]
    assert order[:2] == [1, 2]  # 1 failed alone; 2 went alone too; then waves
    assert plex.most == 4
