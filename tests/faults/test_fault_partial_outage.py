"""Issue 11 item 11: a partial outage. PMS during maintenance answers /identity (and /) but
503 with an HTML "Maintenance" page on everything under /library. The breaker's probe must
exercise the library (a probe of /identity passed, closed the breaker, and the jobs were
dead-lettered after their retries), and no transient error may dead-letter a job while the
outage lasts, even with max_retries as low as 1.

The drain is THE drain (worker.drain with the real PlexClient, plexapi and the path index)
against the Plex emulator, on an injected clock so that 30 minutes of maintenance take a
second: waiting advances the clock, and the emulator's fault is lifted once the clock has
passed the outage.
"""
from __future__ import annotations

import threading

import pytest

from hooks.stash_api import StashClient
from plex.errors import PlexUnavailable
from sync_queue.lock import DrainLock
from validation.config import parse_config
from worker.background import build_plex_context
from worker.drain import drain
from worker.job import DEAD_LETTER, RETRY, run_job
from tests.proof_checks import queue_counts, twin_scenes
from tests.e2e.test_drain import SETTINGS, make_job

OUTAGE_S = 1800.0


class Clock:
    """Fake time for the drain; lifts Plex's maintenance once OUTAGE_S have passed."""

    def __init__(self, plex, start: float):
        self.plex, self.t, self.end = plex, start, start + OUTAGE_S

    def __call__(self) -> float:
        return self.t

    def wait(self, seconds: float) -> bool:
        self.t += max(seconds, 0.001)
        if self.t >= self.end:
            self.plex.clear_faults()
        return False


def test_plex_in_maintenance_keeps_the_breaker_open_and_dead_letters_nothing(synced):
    env = synced
    scenes = twin_scenes(env, 3, "maintenance")
    tag = env.stash.add_tag("After Maintenance")
    settings = env.configure(max_retries="1", sync_poster="false", sync_background="false")
    lock = DrainLock(env.data_dir)  # queue the edit; the drain below is the test's own
    assert lock.try_acquire()
    env.bulk_edit(list(scenes), tag_ids={"ids": [str(tag)], "mode": "ADD"})
    lock.release()

    env.plex.clear_log()
    env.plex.maintenance(3600)  # /library/... answers 503 "Maintenance"; /identity is fine
    clock = Clock(env.plex, start=1_800_000_000.0)
    stash = StashClient(env.stash.url)
    ctx, index = build_plex_context(parse_config(settings), env.data_dir, stash.fetch_image,
                                    stash)
    ctx.poll_interval = 60.0
    try:
        summary = drain(ctx, idle_exit_after=1.0, stop=threading.Event(), clock=clock,
                        wait=clock.wait)
    finally:
        index.close()

    assert clock.t >= clock.end  # the drain outlasted the outage ...
    assert env.dead_letters() == [] and summary.dead_lettered == 0  # ... and gave up nothing
    for scene, path in scenes.items():
        assert "After Maintenance" in env.plex_item(path)["genres"], scene
    counts = queue_counts(env)
    assert (counts["ready"], counts["in_flight"], counts["scheduled"]) == (0, 0, 0)
    failed = [r for r in env.plex.requests if r.status == 503]
    probes = [r for r in failed if r.path == "/library/sections"]
    assert failed and all(r.path.startswith("/library") for r in failed)
    assert env.plex.count("GET", "/identity") == 0  # the probe asks the library, not /identity
    # While OPEN only the probe asks Plex, once per reset timeout (60 s): ~30 probes in
    # 30 minutes, plus the few job failures that opened the breaker.
    assert OUTAGE_S / 60 - 2 <= len(probes) and len(failed) <= OUTAGE_S / 60 + 10, len(failed)
    assert summary.breaker_opened == 1


# -- the rule itself, as a value table ------------------------------------------------------

def _unavailable(snapshot, record, allow_scan):
    raise PlexUnavailable("Plex failed with a server error: (503)", 503)


@pytest.mark.parametrize("attempts, last_failed_at, plex_ok_at, expected", [
    (0, None, None, RETRY),          # first failure: retry
    (5, 100.0, None, RETRY),         # budget spent, Plex never answered: the outage goes on
    (5, 100.0, 90.0, RETRY),         # Plex answered only before this job's last failure
    (5, 100.0, 100.0, RETRY),        # ... or at the same instant
    (5, 100.0, 150.0, DEAD_LETTER),  # Plex answered others since: this job's own problem
    (50, 100.0, None, RETRY),        # hours into an outage: still retrying, never dead
])
def test_a_transient_error_dead_letters_only_when_plex_answered_since(
        attempts, last_failed_at, plex_ok_at, expected):
    job = {**make_job(1), "attempts": attempts}
    if last_failed_at is not None:
        job["last_failed_at"] = last_failed_at
    outcome = run_job(job, cfg=parse_config(SETTINGS), sync_job=_unavailable, record=None,
                      now=200.0, rng=lambda lo, hi: hi, plex_ok_at=plex_ok_at)
    assert outcome.kind == expected
    if expected == RETRY:  # at most the schedule's longest delay (80 s), never growing past it
        assert 200.0 < outcome.job["not_before"] <= 280.0 and outcome.job["last_failed_at"] == 200.0
