"""The drain loop with real SQLite in tmp_path and an injected `sync_job` (our own seam: it
returns plex.sync results or raises plex.errors, as plex.sync.sync_scene does). Time is a fake
clock whose wait() advances it, so an outage of minutes runs in milliseconds."""
import os
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from plex.errors import (AmbiguousMatch, ItemNotFound, PlexAuthError, PlexBadRequest,
                         PlexUnavailable)
from plex.sync import SyncResult
from sync_queue import dlq
from sync_queue.dlq import DeadLetters
from sync_queue.lock import DrainLock, drain_lock_held
from sync_queue.records import SyncRecords
from sync_queue.state import QueueState
from sync_queue.store import QUEUE_DB, QueueStore
from validation.config import parse_config
from worker.drain import DrainContext, drain
from worker.sync_worker import SyncWorker
from tests.waiting import wait_until

SETTINGS = {"plex_url": "http://127.0.0.1:32400", "plex_token": "token-one"}


def snapshot(scene_id, title):
    return {"id": str(scene_id), "title": title, "details": "", "date": None, "studio": None,
            "parent_studio": None, "performers": [], "tags": [], "groups": [],
            "files": [f"/media/{scene_id}.mp4"], "cover_url": None,
            "updated_at": "2024-01-01T00:00:00Z"}


def make_job(scene_id, title="Title", not_before=0.0):
    return {"scene_id": scene_id, "update_type": "update", "data": snapshot(scene_id, title),
            "enqueued_at": time.time(), "job_key": f"{scene_id}-{title}", "attempts": 0,
            "not_before": not_before}


def enqueue(data_dir, *jobs):
    with QueueStore(data_dir) as store:
        store.enqueue(list(jobs))


class FakeTime:
    """clock() and wait(): waiting advances the clock instead of sleeping."""

    def __init__(self):
        self.t = time.time()
        self.waits = []

    def __call__(self):
        return self.t

    def wait(self, seconds):
        self.waits.append(seconds)
        self.t += max(0.0, seconds)
        return False


class FakePlex:
    """The sync seam: records every call; `fail(scene_id, call_no)` returns an error or None."""

    def __init__(self, clock=time.time, fail=None, latency=0.0):
        self.clock, self.fail, self.latency = clock, fail or (lambda scene, n: None), latency
        self.calls = []  # (scene_id, title, allow_scan, time)
        self.probes = []

    def __call__(self, snap, record, allow_scan):
        scene = int(snap["id"])
        self.calls.append((scene, snap["title"], allow_scan, self.clock()))
        if isinstance(self.clock, FakeTime):
            self.clock.t += self.latency
        error = self.fail(scene, sum(1 for c in self.calls if c[0] == scene))
        if error is not None:
            raise error
        return SyncResult(rating_key=str(1000 + scene), section_id="1", confidence="HIGH",
                          changes=(), summary="title", warnings=(),
                          record={"scene_id": str(scene), "rating_key": str(1000 + scene),
                                  "written": {"title": snap["title"]}})

    def titles(self, scene):
        return [title for s, title, _, _ in self.calls if s == scene]


def context(data_dir, plex, settings=None, health_check=None, **extra):
    cfg = parse_config(dict(SETTINGS, **(settings or {})))
    return DrainContext(data_dir=Path(data_dir), cfg=cfg, sync_job=plex,
                        health_check=health_check, rng=lambda lo, hi: hi, **extra)


def run(ctx, clock=None, idle_exit_after=None, **kwargs):
    clock = clock or FakeTime()
    return drain(ctx, idle_exit_after=idle_exit_after, stop=threading.Event(), clock=clock,
                 wait=clock.wait, **kwargs)


def queue_rows(data_dir):
    with sqlite3.connect(Path(data_dir) / QUEUE_DB) as conn:
        return conn.execute("SELECT COUNT(*) FROM ack_queue_default").fetchone()[0]


# -- newest wins --------------------------------------------------------------------------

def test_newest_edit_of_a_scene_wins_and_older_ones_are_superseded(tmp_path):
    enqueue(tmp_path, make_job(1, "old"), make_job(2, "other"))
    enqueue(tmp_path, make_job(1, "middle"))
    enqueue(tmp_path, make_job(1, "newest"))
    plex = FakePlex()
    summary = run(context(tmp_path, plex))
    assert plex.titles(1) == ["newest"] and plex.titles(2) == ["other"]
    assert (summary.synced, summary.superseded) == (2, 2)
    assert SyncRecords(tmp_path).get(1)["written"] == {"title": "newest"}
    assert QueueStore(tmp_path).counts()["ready"] == 0
    assert queue_rows(tmp_path) == 0  # acked rows are cleared: queue.db stays small


def test_an_older_retry_never_overwrites_a_newer_edit(tmp_path):
    enqueue(tmp_path, make_job(1, "old"))
    clock = FakeTime()
    plex = FakePlex(clock, fail=lambda scene, n: PlexUnavailable("503") if n == 1 else None)
    ctx = context(tmp_path, plex)
    assert run(ctx, clock).retrying == 1  # "old" now waits for its retry
    enqueue(tmp_path, make_job(1, "new"))
    summary = run(ctx, clock, idle_exit_after=2.0)
    assert plex.titles(1) == ["old", "new"]  # the retry of "old" was superseded, not synced
    assert summary.superseded == 1 and SyncRecords(tmp_path).get(1)["written"]["title"] == "new"


# -- scheduled retries ----------------------------------------------------------------------

def test_a_retry_waits_without_blocking_ready_jobs_or_spinning(tmp_path):
    enqueue(tmp_path, make_job(1), make_job(2), make_job(3))
    clock = FakeTime()
    plex = FakePlex(clock, fail=lambda scene, n: PlexUnavailable("503") if (scene, n) == (1, 1)
                    else None)
    summary = run(context(tmp_path, plex), clock, idle_exit_after=2.0)
    order = [scene for scene, *_ in plex.calls]
    assert order == [1, 2, 3, 1]  # 2 and 3 went first; 1 came back when due
    first_try, retry = plex.calls[0][3], plex.calls[3][3]
    assert retry - first_try >= 5.0  # rng = upper bound: the first retry waits exactly 5 s
    assert summary.synced == 3 and summary.retrying == 0
    assert sum(clock.waits) < 5.0 + 2.0 + 1.0  # the wait, then the 2 s idle exit
    assert len(clock.waits) <= 16  # 0.5 s polls, no busy loop


def test_a_delayed_new_scene_waits_in_the_background_drainer_but_not_in_a_task(tmp_path):
    enqueue(tmp_path, make_job(1, not_before=time.time() + 30), make_job(2))
    plex = FakePlex()
    task = run(context(tmp_path, plex))  # idle_exit_after=None: take what is ready, return
    assert plex.titles(1) == [] and task.synced == 1 and task.waiting == 1 and task.next_due
    clock = FakeTime()
    background = run(context(tmp_path, plex), clock, idle_exit_after=2.0)
    assert plex.titles(1) == ["Title"] and background.synced == 1 and background.waiting == 0


def test_a_job_committed_while_idle_wakes_the_drainer(tmp_path):
    plex = FakePlex()
    idle = threading.Event()  # an idle drainer asks for the inbox's edits after each poll wait
    worker = SyncWorker(context(tmp_path, plex, pending_edits=lambda: idle.set()),
                        idle_exit_after=30.0)
    worker.start()
    assert idle.wait(60), "the drainer never went idle"
    enqueue(tmp_path, make_job(5))
    wait_until(lambda: plex.calls, 60, what="the idle drainer to take the new job")
    assert plex.titles(5) == ["Title"]
    assert drain_lock_held(tmp_path)
    summary = worker.stop(timeout=60)
    assert not worker.is_alive() and summary.synced == 1 and not drain_lock_held(tmp_path)


# -- circuit breaker during an outage -------------------------------------------------------

@pytest.mark.parametrize("outage_s, probes", [(60.0, 1), (150.0, 3)])
def test_outage_opens_the_breaker_once_spends_no_retry_while_open_and_loses_nothing(
        tmp_path, outage_s, probes):
    enqueue(tmp_path, *[make_job(i) for i in range(1, 31)])
    clock = FakeTime()
    outage = {}

    def plex_down():
        return outage and outage["from"] <= clock.t < outage["until"]

    def fail(scene, n):
        if scene == 11 and not outage:  # Plex goes down in the middle of the drain
            started = plex.calls[-1][3]
            outage.update({"from": started, "until": started + outage_s})
        breaker = QueueState(tmp_path).breaker() or {"name": "closed"}
        assert breaker["name"] == "closed", "a job was taken while the breaker was not closed"
        return PlexUnavailable("connection refused") if plex_down() else None

    plex = FakePlex(clock, fail=fail, latency=0.05)

    def ping():
        plex.probes.append(clock.t)
        if plex_down():
            raise PlexUnavailable("connection refused")

    summary = run(context(tmp_path, plex, health_check=ping), clock, idle_exit_after=2.0)
    assert summary.breaker_opened == 1
    assert len(plex.probes) == probes  # a health probe per reset timeout, not a job per probe
    failed = [c for c in plex.calls if outage["from"] <= c[3] < outage["until"]]
    assert len(failed) == 5  # the five failures that tripped it, then nothing until recovery
    assert all(c[3] >= outage["until"] for c in plex.calls[15:])
    assert summary.dead_lettered == 0 and DeadLetters(tmp_path).list() == []
    assert summary.synced == 30 and sorted({c[0] for c in plex.calls}) == list(range(1, 31))
    assert QueueState(tmp_path).breaker()["name"] == "closed"
    open_waits = [w for w in clock.waits if w >= 30]
    assert len(open_waits) == probes  # slept through each open period in one wait


def test_breaker_state_survives_the_process_and_a_task_does_not_wait_for_it(tmp_path):
    enqueue(tmp_path, *[make_job(i) for i in range(1, 8)])
    plex = FakePlex(fail=lambda scene, n: PlexUnavailable("refused"))
    summary = run(context(tmp_path, plex, health_check=lambda: None))
    assert summary.breaker_opened == 1 and summary.breaker_open
    assert len(plex.calls) == 5 and "circuit breaker open" in summary.line()
    again = run(context(tmp_path, FakePlex()))  # a new drain (e.g. the next process)
    assert again.breaker_open and again.processed == 0
    assert QueueStore(tmp_path).counts()["ready"] + QueueStore(tmp_path).counts()["scheduled"] == 7


# -- auth ---------------------------------------------------------------------------------

def test_wrong_token_stops_with_one_error_no_dead_letters_and_resumes_after_the_fix(tmp_path):
    enqueue(tmp_path, *[make_job(i) for i in range(1, 11)])
    plex = FakePlex(fail=lambda scene, n: PlexAuthError("Plex refused the token (401)", 401))
    first = run(context(tmp_path, plex))
    assert len(plex.calls) == 1 and first.auth_stopped
    assert first.errors == ["Plex refused the token (401)"]
    assert DeadLetters(tmp_path).list() == []
    counts = QueueStore(tmp_path).counts()
    assert (counts["ready"], counts["in_flight"], counts["scheduled"]) == (10, 0, 0)
    second = run(context(tmp_path, plex))  # same token: Plex is not asked again
    assert len(plex.calls) == 1 and second.auth_blocked and second.processed == 0
    fixed = FakePlex()
    third = run(context(tmp_path, fixed, settings={"plex_token": "token-two"}))
    assert third.synced == 10 and not third.errors
    assert QueueState(tmp_path).auth_failure() is None


# -- dead letters ---------------------------------------------------------------------------

def test_permanent_errors_are_dead_lettered_at_once_with_a_readable_reason(tmp_path):
    candidates = [{"title": "Part I", "rating_key": "11", "file": "/p/Part I.mp4"},
                  {"title": "Part II", "rating_key": "12", "file": "/p/Part II.mp4"}]
    errors = {1: AmbiguousMatch(candidates), 2: PlexBadRequest("bad date", 400)}
    enqueue(tmp_path, make_job(1), make_job(2), make_job(3), make_job(4))
    bad = dict(make_job(3, title="x\x00y"))  # a snapshot the hook would never have written
    enqueue(tmp_path, bad)
    plex = FakePlex(fail=lambda scene, n: errors.get(scene))
    summary = run(context(tmp_path, plex))
    entries = {e.scene_id: e for e in DeadLetters(tmp_path).list()}
    assert set(entries) == {"1", "2", "3"} and summary.dead_lettered == 3 and summary.synced == 1
    amb = entries["1"]
    assert amb.reason_code == dlq.AMBIGUOUS_MATCH and amb.candidates == candidates
    assert "Part I" in amb.reason and "Part II" in amb.reason and "12" in amb.reason
    assert amb.attempts == 0 and amb.title == "Title" and amb.job["scene_id"] == 1
    assert entries["2"].reason_code == dlq.BAD_REQUEST and "bad date" in entries["2"].reason
    invalid = entries["3"]
    assert invalid.reason_code == dlq.INVALID_SNAPSHOT and "title" in invalid.reason
    assert plex.titles(3) == []  # never reached Plex
    assert len(summary.errors) == 3


def test_not_found_after_a_scan_polls_soon_then_on_the_long_schedule_then_dead_letters(tmp_path):
    enqueue(tmp_path, make_job(7))
    clock = FakeTime()
    plex = FakePlex(clock, fail=lambda scene, n: ItemNotFound("no item", scan_requested=n == 1))
    ctx = context(tmp_path, plex)
    ctx.poll_interval = 60.0
    summary = run(ctx, clock, idle_exit_after=2.0)
    assert len(plex.calls) == 23  # first try + 10 short polls + 12 long retries
    assert [c[2] for c in plex.calls] == [True] + [False] * 22  # allow_scan on the first only
    gaps = [b[3] - a[3] for a, b in zip(plex.calls, plex.calls[1:])]
    assert [round(g) for g in gaps] == [1, 1, 2, 2, 2, 3, 3, 5, 5, 8,  # Plex is importing
                                        30, 60, 120, 240, 480] + [600] * 7  # Plex lacks it
    (entry,) = DeadLetters(tmp_path).list()
    assert entry.reason_code == dlq.NOT_FOUND and entry.attempts == 23
    assert "/media/7.mp4" in entry.reason and "Path map" in entry.reason
    assert entry.first_failure == pytest.approx(plex.calls[0][3])
    assert summary.dead_lettered == 1


def test_not_found_without_a_scan_waits_on_the_long_schedule_from_the_start(tmp_path):
    enqueue(tmp_path, make_job(6))  # e.g. outside every library folder: nothing to scan
    clock = FakeTime()
    plex = FakePlex(clock, fail=lambda scene, n: ItemNotFound("no item") if n < 4 else None)
    run(context(tmp_path, plex), clock, idle_exit_after=2.0)
    gaps = [b[3] - a[3] for a, b in zip(plex.calls, plex.calls[1:])]
    assert [round(g) for g in gaps] == [30, 60, 120]


def test_not_found_with_skip_not_found_is_recorded_and_skipped(tmp_path):
    enqueue(tmp_path, make_job(8))
    plex = FakePlex(fail=lambda scene, n: ItemNotFound("no item"))
    summary = run(context(tmp_path, plex, settings={"skip_not_found": True}))
    assert summary.skipped == 1 and len(plex.calls) == 1 and DeadLetters(tmp_path).list() == []
    assert [s["scene_id"] for s in SyncRecords(tmp_path).skipped()] == ["8"]


@pytest.mark.parametrize("error, code, retries", [
    (PlexUnavailable("HTTP 503"), dlq.RETRIES_EXHAUSTED, 5),
    (KeyError("surprise"), dlq.UNEXPECTED_ERROR, 5),
    (KeyError("surprise"), dlq.UNEXPECTED_ERROR, 1)])
def test_transient_and_unexpected_errors_retry_then_dead_letter(tmp_path, error, code, retries):
    enqueue(tmp_path, make_job(9))
    clock = FakeTime()
    plex = FakePlex(clock, fail=lambda scene, n: error)
    ctx = context(tmp_path, plex, settings={"max_retries": retries}, health_check=lambda: None)
    summary = run(ctx, clock, idle_exit_after=2.0)
    assert len(plex.calls) == retries + 1
    (entry,) = DeadLetters(tmp_path).list()
    assert entry.reason_code == code and entry.attempts == retries + 1
    assert entry.error_class == type(error).__name__
    assert summary.dead_lettered == 1 and summary.retrying == 0


def test_retrying_a_dead_letter_syncs_it(tmp_path):
    enqueue(tmp_path, make_job(4))
    run(context(tmp_path, FakePlex(fail=lambda s, n: PlexBadRequest("no"))))
    assert DeadLetters(tmp_path).retry() == 1
    plex = FakePlex()
    assert run(context(tmp_path, plex)).synced == 1 and plex.titles(4) == ["Title"]


def test_a_corrupt_queue_row_is_set_aside(tmp_path):
    enqueue(tmp_path, make_job(1))
    with sqlite3.connect(tmp_path / QUEUE_DB) as conn:
        conn.execute("INSERT INTO ack_queue_default (data, timestamp, status) "
                     "VALUES (?, 0, 1)", (b"{not json",))
        conn.execute("INSERT INTO ack_queue_default (data, timestamp, status) "
                     "VALUES (?, 0, 1)", (b'"just a string"',))
    enqueue(tmp_path, make_job(2))
    plex = FakePlex()
    summary = run(context(tmp_path, plex))
    assert summary.synced == 2 and summary.dead_lettered == 2
    assert {e.error_class for e in DeadLetters(tmp_path).list()} == {"CorruptJob"}


# -- one drainer, lost wake-up ---------------------------------------------------------------

class RacingLock(DrainLock):
    """Commits a job the way a hook does while the drainer is deciding to stop: the hook sees
    the lock still held, so it starts no drainer of its own."""

    def __init__(self, data_dir):
        super().__init__(data_dir)
        self.raced = False

    def release(self):
        if self.held and not self.raced:
            self.raced = True
            enqueue(self.data_dir, make_job(99, "late"))
            assert drain_lock_held(self.data_dir)  # what the hook's check would have seen
        super().release()


@pytest.mark.parametrize("idle_exit_after", [None, 2.0])
def test_no_lost_wake_up_when_a_job_lands_while_the_drainer_stops(tmp_path, idle_exit_after):
    enqueue(tmp_path, make_job(1))
    plex = FakePlex()
    ctx = context(tmp_path, plex, lock=RacingLock(tmp_path))
    summary = run(ctx, idle_exit_after=idle_exit_after)
    assert ctx.lock.raced
    assert plex.titles(99) == ["late"] and summary.synced == 2
    assert not drain_lock_held(tmp_path)


def test_progress_and_drain_status_are_reported(tmp_path):
    enqueue(tmp_path, *[make_job(i) for i in range(1, 4)])
    progress = []
    seen_status = []

    clock = FakeTime()
    fake = FakePlex(clock, latency=1.0)  # each job takes a second: the status follows each

    def plex(snap, record, allow_scan):
        seen_status.append(QueueState(tmp_path).drain_status())
        return fake(snap, record, allow_scan)

    summary = run(context(tmp_path, plex), clock,
                  on_progress=lambda done, total: progress.append((done, total)))
    assert progress == [(1, 3), (2, 3), (3, 3)]
    assert [(s["processed"], s["total"], s["current_scene"], s["running"]) for s in seen_status] == [
        (0, 3, 1, True), (1, 3, 2, True), (2, 3, 3, True)]
    assert seen_status[0]["pid"] == os.getpid()
    final = QueueState(tmp_path).drain_status()
    assert not final["running"] and final["processed"] == 3
    assert summary.line().startswith("synced 3, unchanged 0 in ")


def test_drain_status_is_not_rewritten_for_every_quick_job(tmp_path):
    enqueue(tmp_path, *[make_job(i) for i in range(1, 6)])
    seen = []

    def plex(snap, record, allow_scan):  # no time passes: five jobs within STATUS_EVERY_S
        seen.append(QueueState(tmp_path).drain_status()["current_scene"])
        return FakePlex()(snap, record, allow_scan)

    assert run(context(tmp_path, plex)).synced == 5
    assert seen == [1, 1, 1, 1, 1]  # written once, for the first job
