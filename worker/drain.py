"""THE drain loop: the SyncWorker thread, the Process Queue task and process_queue.py all call
drain(); there is no second way to take a job off the queue.

drain() takes the drain lock (or returns at once: someone else drains), resumes what a dead
drainer left in flight, then takes ready jobs one by one through worker.job's policy. Jobs that
wait for their retry time sit in scheduled_jobs and are promoted when due, so they never block
ready jobs and never spin the CPU: an idle drainer sleeps on the stop Event and only polls
SQLite's data_version (a counter read, no query plan) to notice a new commit.

No lost wake-up: a hook commits its job, then starts a drainer only if the lock is free. So
after releasing the lock the drainer looks once more; a job committed while it was deciding to
stop (the hook saw the lock still held) is found there and the lock is taken again.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Callable

from plex.errors import PlexAuthError
from sync_queue.dlq import DeadLetters
from sync_queue.jobs import JobQueue, TakenJob
from sync_queue.lock import PROBE_RIDE_OUT_S, DrainLock
from sync_queue.records import SyncRecords
from sync_queue.repair import ensure_intact
from sync_queue.store import connect
from sync_queue.state import QueueState
from sync_queue.store import scene_key
from worker import job as job_policy
from worker.breaker import CircuitBreaker, State, opened, state_from_dict, state_to_dict
from worker.drain_context import DrainContext, DrainSummary
from worker.waves import WaveRunner, primary_file

log = logging.getLogger(__name__)

LOCK_RETRY_S = PROBE_RIDE_OUT_S  # ride out an instant lock probe (drain_lock_held)
CLEAR_ACKED_EVERY = 200
INGEST_RETRY_S = 5.0   # Stash did not answer an ingest: try the inbox again after this long
STATUS_EVERY_S = 0.5   # the drain status row (Queue Status) is rewritten at most this often


def drain(ctx: DrainContext, *, idle_exit_after: float | None = None,
          stop: threading.Event | None = None, on_progress=None,
          clock: Callable[[], float] = time.time,
          wait: Callable[[float], object] | None = None) -> DrainSummary:
    """Drain the queue while holding the drain lock.

    idle_exit_after=None: take what is ready now, then return (tasks, CLI); jobs scheduled for
    later stay queued (summary.waiting / next_due). A number: keep running while anything is
    ready or scheduled, sleeping until it is due; return after that many idle seconds with
    nothing queued at all (the background drainer). `stop` ends the drain after the current
    job. `on_progress(processed, total)` after each job. `wait(seconds)` sleeps (default:
    stop.wait; tests pass a fake that advances their clock).
    """
    stop = stop or threading.Event()
    summary = DrainSummary()
    started = clock()
    lock = ctx.lock or DrainLock(ctx.data_dir)
    if not lock.try_acquire(wait=LOCK_RETRY_S):
        summary.lock_busy = True
        return summary
    queue = run = None
    try:
        ensure_intact(ctx.data_dir, connect)  # a damaged queue.db is moved aside, rows kept
        queue = JobQueue(ctx.data_dir)
        run = _Run(ctx, queue, summary, stop, on_progress, clock, wait or stop.wait)
        owed = run.stores.records.requeue_owed_covers()  # once per drain: no loop on them
        if owed:
            log.info(f"retrying {owed} cover(s) that could not be fetched from Stash before")
        while True:
            queue.resume_unacked()  # we hold the lock: anything in flight belongs to a dead drainer
            went_idle = run.loop(idle_exit_after)
            lock.release()
            if not went_idle or not run.has_work(idle_exit_after):
                break
            if not lock.try_acquire():
                break  # a new drainer took over; it will see the job
            log.debug("a job arrived while stopping; draining on")
    finally:
        lock.release()
        if run is not None:
            run.finish(started)
        if queue is not None:
            queue.close()
    return summary


class _Run:
    """The state of one drain: queue, stores, breaker, counters."""

    def __init__(self, ctx, queue: JobQueue, summary: DrainSummary, stop, on_progress, clock,
                 wait):
        self.ctx, self.queue, self.summary = ctx, queue, summary
        self.stop, self.on_progress, self.clock, self.wait = stop, on_progress, clock, wait
        self.state = QueueState(queue.db, clock=clock)
        self.stores = job_policy.Stores(queue, SyncRecords(queue.db, clock=clock),
                                        DeadLetters(queue.db, clock=clock), self.state)
        self.breaker = CircuitBreaker(ctx.breaker_policy, clock=clock,
                                      state=state_from_dict(self.state.breaker()),
                                      listeners=(self._breaker_moved,))
        self.halted = False
        self.next_ingest_at = 0.0
        self.plex_ok_at: float | None = None  # last Plex success (job or probe) in this drain
        self.processed = 0
        self.prefetched_left = 0  # jobs taken before the next batched reload
        self.waves = WaveRunner(ctx.wave_width)
        self.plex_ok = False  # Plex answered the last job of this drain: waves may widen
        self.status_at = float("-inf")
        self.ready_known: int | None = None  # ready jobs at the last count, minus those taken
        self.taken_since_count = 0
        self.retrying: set = set()
        self.started_at = clock()
        if self.stores.dead.purge(ctx.cfg.dlq_retention_days):
            log.info(f"purged dead letters older than {ctx.cfg.dlq_retention_days} days")

    def has_work(self, idle_exit_after: float | None) -> bool:
        now = self.clock()
        if self._ingest_due(now):
            return True  # a hook noted an edit while we were letting go of the lock
        if idle_exit_after is None:
            return self.queue.has_work(now)
        return self.queue.ready_count() > 0 or self.queue.scheduled_count() > 0

    def loop(self, idle_exit_after: float | None) -> bool:
        """Drain until idle (True) or until stopped, halted or paused by the breaker (False)."""
        if self._auth_blocked():
            return False
        idle_since = None
        while not self.stop.is_set() and not self.halted:
            if not self.breaker.allows_jobs:
                if self.breaker.wants_probe and self.ctx.health_check is not None:
                    self._probe()
                    continue
                if not self.breaker.wants_probe:  # OPEN: no job, no retry spent
                    if idle_exit_after is None:
                        self.summary.breaker_open = True
                        return False
                    self.wait(self.breaker.seconds_until_probe())
                    continue
                # HALF_OPEN without a health check: the next job is the probe
            now = self.clock()
            self._ingest(now)
            self.queue.promote_due(now)
            self._prefetch_batch()
            wave = self._take_wave()
            if wave:
                idle_since = None
                self._process_wave(wave, now)
                continue
            if idle_exit_after is None:
                return True
            next_due = self.queue.next_due()
            if next_due is not None:
                idle_since = None
                self._sleep(next_due - now)
                continue
            idle_since = now if idle_since is None else idle_since
            if now - idle_since >= idle_exit_after:
                return True
            self._sleep(idle_exit_after - (now - idle_since))
        return False

    def _ready_left(self) -> int:
        """Ready jobs behind the current one, for progress. Counted once per batch and
        estimated in between: a COUNT walks every ready row, so one per job made a drain of
        50,000 jobs quadratic. New commits show up at the next count."""
        if self.ready_known is None or self.taken_since_count >= self.ctx.batch_size:
            self.ready_known, self.taken_since_count = self.queue.ready_count(), 0
        return max(0, self.ready_known - self.taken_since_count)

    def _prefetch_batch(self) -> None:
        """Once per batch: hand the next jobs and their records to ctx.prefetch, which reloads
        their Plex items in one request (the jobs are still taken and settled one by one)."""
        if self.ctx.prefetch is None or self.prefetched_left > 0:
            return
        jobs = [j for j in self.queue.peek_ready(self.ctx.batch_size)
                if isinstance(j.get("data"), dict)]
        if not jobs:
            return
        self.prefetched_left = len(jobs)
        records = self.stores.records.get_many([j.get("scene_id") for j in jobs])
        self.ctx.prefetch([(j["data"], records.get(scene_key(j.get("scene_id")))) for j in jobs])

    def _sleep(self, seconds: float) -> None:
        """Sleep up to `seconds`, waking early when another process commits to queue.db."""
        version = self.queue.data_version()
        deadline = self.clock() + max(0.0, seconds)
        while not self.stop.is_set():
            remaining = deadline - self.clock()
            if remaining <= 0:
                return
            self.wait(min(self.ctx.poll_interval, remaining))
            if self.queue.data_version() != version or self._ingest_due(self.clock()):
                return

    def _ingest_due(self, now: float) -> bool:
        pending = self.ctx.pending_edits
        return pending is not None and now >= self.next_ingest_at and pending()

    def _ingest(self, now: float) -> None:
        """Turn the hooks' noted edits into jobs; when Stash does not answer, keep them and
        try again later (they count as work again only then, so an idle drainer still exits)."""
        if self.ctx.ingest is None or not self._ingest_due(now):
            return
        try:
            count = self.ctx.ingest()
        except Exception as exc:  # noqa: BLE001 - the files stay; the next round retries
            self.next_ingest_at = now + INGEST_RETRY_S
            log.warning(f"could not read the edited scenes from Stash ({exc}); "
                        f"they stay queued and are read again in {INGEST_RETRY_S:g} s")
            return
        if count:
            log.debug(f"{count} edited scene(s) queued from the hooks' inbox")

    def _auth_blocked(self) -> bool:
        message = (self.state.auth_blocked(self.ctx.cfg.token_fingerprint)
                   or self.state.settings_blocked(self.ctx.cfg.libraries_fingerprint))
        if message:
            self.summary.auth_blocked = True
            self.summary.errors.append(message)
            self.halted = True
            return True
        if self.state.auth_failure():
            log.info("the Plex token setting changed since Plex rejected it; syncing again")
            self.state.clear_auth_failure()
        if self.state.settings_failure():
            log.info("the Plex libraries setting changed since Plex did not have it; syncing again")
            self.state.clear_settings_failure()
        return False

    def _probe(self) -> None:
        try:
            self.ctx.health_check()
        except PlexAuthError:
            self.breaker.record_success()  # Plex is up; the next job reports the token problem
        except Exception as exc:  # noqa: BLE001 - any failed probe keeps the breaker open
            log.debug(f"Plex health check failed: {type(exc).__name__}: {exc}")
            self.breaker.record_failure()
        else:
            self.plex_ok_at = self.clock()
            self.breaker.record_success()

    def _breaker_moved(self, old: State, new: State) -> None:
        self.state.save_breaker(state_to_dict(new))
        if opened(old, new):
            self.summary.breaker_opened += 1
            log.warning(f"Plex is unavailable: pausing sync for {self.ctx.breaker_policy.reset_timeout:g} s "
                        "(circuit breaker open); queued edits are kept")
        elif new.name == "closed" and old.name != "closed":
            log.info("Plex is reachable again: sync resumes (circuit breaker closed)")

    def _take_wave(self) -> list[TakenJob]:
        """The next ready job, and with a wider wave up to width-1 more: never a second job
        for a file already in the wave (it stays first in line for the next wave)."""
        wave: list[TakenJob] = []
        files: set = set()
        # One job at a time until Plex has answered one in this drain (a wrong token or a
        # down Plex then costs one request, not a wave), and again after any failure; the
        # breaker's HALF_OPEN probe is one job too.
        width = self.waves.width if self.plex_ok and self.breaker.allows_jobs else 1
        while len(wave) < width:
            if wave:
                nxt = self.queue.peek_ready(1)
                if not nxt or primary_file(nxt[0]) in files:
                    break
            taken = self.queue.take()
            if taken is None:
                break
            self.prefetched_left -= 1
            self.taken_since_count += 1
            wave.append(taken)
            files.add(primary_file(taken.job))
        return wave

    def _process_wave(self, wave: list[TakenJob], now: float) -> None:
        """Settle what needs no Plex at once; run the rest's Plex side together (worker.waves)
        and apply their outcomes in queue order."""
        runnable = []
        for taken in wave:
            job = self._admit(taken, now)
            if job is not None:
                runnable.append((taken, job, self.stores.records.get(job.get("scene_id"))))
        if runnable:
            self._status(runnable[0][1].get("scene_id"))
        outcomes = self.waves.run(runnable, lambda item: self._outcome(item[1], item[2], now))
        for (taken, job, _), outcome in zip(runnable, outcomes):
            if self._apply(taken, job, outcome, now):
                self._done()

    def _admit(self, taken: TakenJob, now: float) -> dict | None:
        """The job if it needs Plex; otherwise it is settled here (corrupt, superseded) or
        moved back to its schedule (delayed) and None is returned."""
        job = taken.job
        if not isinstance(job, dict) or not isinstance(job.get("data"), dict):
            self._settle(job_policy.corrupt(job), taken, now)
        elif self.queue.is_superseded(job):
            self.queue.ack(taken)
            self.summary.superseded += 1
            log.debug(f"scene {job.get('scene_id')}: an older queued edit skipped (newer one queued)")
        elif float(job.get("not_before") or 0) > now:
            self.queue.reschedule(taken, job)  # a delayed job that reached the ready queue
            return None
        else:
            return job
        self._done()
        return None

    def _done(self) -> None:
        self.processed += 1
        if self.processed % CLEAR_ACKED_EVERY == 0:
            self.queue.clear_acked()
        if self.on_progress is not None:
            self.on_progress(self.processed, self.processed + self._ready_left())

    def _status(self, scene) -> None:
        """Queue Status shows the drain's progress; written at most every STATUS_EVERY_S (a
        commit per job cost more than the rest of an unchanged job's bookkeeping)."""
        now = self.clock()
        if now - self.status_at < STATUS_EVERY_S:
            return
        self.status_at = now
        self.state.update_drain_status(running=True, processed=self.processed,
                                       total=self.processed + 1 + self._ready_left(),
                                       current_scene=scene, started_at=self.started_at)

    def _outcome(self, job: dict, record: dict | None, now: float) -> job_policy.Outcome:
        """The Plex side of one job (runs on the wave's pool: no database here)."""
        return job_policy.run_job(job, cfg=self.ctx.cfg, sync_job=self.ctx.sync_job,
                                  record=record, now=now, rng=self.ctx.rng,
                                  scene_exists=self.ctx.scene_exists, plex_ok_at=self.plex_ok_at)

    def _apply(self, taken: TakenJob, job: dict, outcome: job_policy.Outcome, now: float) -> bool:
        """Feed the breaker and settle; False when the job went back in line instead."""
        if self.halted or (outcome.plex_answered is False and self.breaker.state.name == "open"):
            # In flight beside the job that stopped the drain (token) or opened the breaker:
            # back in line untouched, no retry spent.
            self.queue.put_back(taken)
            return False
        if outcome.plex_answered is True:
            self.plex_ok_at = self.clock()
            self.breaker.record_success()
        elif outcome.plex_answered is False:
            self.breaker.record_failure()
        self.plex_ok = outcome.plex_answered is True  # narrow on failures, errors, auth
        key = job.get("seq", taken.pqid)
        if outcome.kind == job_policy.RETRY:
            self.retrying.add(key)
        else:
            self.retrying.discard(key)
        self.summary.retrying = len(self.retrying)
        self._settle(outcome, taken, now)
        return True

    def _settle(self, outcome: job_policy.Outcome, taken: TakenJob, now: float) -> None:
        job_policy.settle(outcome, taken, self.stores, self.ctx.cfg, now)
        self.summary.count(outcome)
        self.halted = outcome.kind in job_policy.STOPS

    def finish(self, started: float) -> None:
        self.waves.close()
        self.queue.clear_acked()
        self.summary.waiting = self.queue.scheduled_count()
        self.summary.next_due = self.queue.next_due()
        self.summary.elapsed = self.clock() - started
        self.state.update_drain_status(running=False, processed=self.processed,
                                       total=self.processed, started_at=self.started_at)
