"""Run one job and decide what happens to it: the per-job error policy, in one place.

run_job() validates the snapshot, calls the sync seam and turns the result or the error into
an Outcome; it touches no database. The drain loop applies the Outcome (ack, reschedule,
dead-letter, stop) and feeds the breaker, so the policy is testable as a plain function.

Policy (the error class alone decides, plex.errors translated it at the boundary):
- PlexUnavailable: a breaker failure; retry on the STANDARD schedule, then dead-letter, but
  only once Plex has answered another request since this job last failed: while the outage
  lasts (no success since), the job keeps retrying at the schedule's longest delay. An outage
  is Plex's problem, not the job's.
- PlexAuthError: stop draining, one clear error; the job goes back untouched (no DLQ entry).
- PlexSettingsError (plex_libraries names no Plex library): the same stop, remembered until
  the setting changes; every job would fail alike, so none is dead-lettered.
- PlexBadRequest, AmbiguousMatch, an invalid snapshot: dead-letter at once, with the reason.
- ItemNotFound: first ask Stash whether the scene still exists: a deleted scene (its file is
  gone too) is dropped with one info line instead of ~45 minutes of retries. Else record and
  skip (skip_not_found), else retry, then DLQ; only the first attempt may ask Plex to scan the
  folder (one scan per job, not one per retry). After a scan the job polls on the short
  AFTER_SCAN schedule (Plex imports a new file in seconds), then on the long NOT_FOUND one; a
  file no scan was asked for waits on NOT_FOUND from the start.
- Anything else: STANDARD retries, then dead-letter naming the error class.
"""
from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from typing import Callable, Protocol

from pydantic import ValidationError

from plex.errors import (AmbiguousMatch, ItemNotFound, PlexAuthError, PlexBadRequest,
                         PlexSettingsError, PlexUnavailable)
from sync_queue import dlq
from sync_queue.dlq import DeadLetters
from sync_queue.jobs import JobQueue, TakenJob
from sync_queue.records import SyncRecords
from sync_queue.state import QueueState
from validation.config import Config, setting_label
from validation.models import SyncMetadata
from worker.backoff import AFTER_SCAN, NOT_FOUND, Schedule, Uniform, standard_for

log = logging.getLogger(__name__)

SYNCED, UNCHANGED, SKIPPED, RETRY, DEAD_LETTER, AUTH_STOP, SETTINGS_STOP, GONE = (
    "synced", "unchanged", "skipped", "retry", "dead_letter", "auth_stop", "settings_stop",
    "gone")
STOPS = (AUTH_STOP, SETTINGS_STOP)  # the drain stops; the job goes back untouched


class SyncResultLike(Protocol):
    """What the drain reads of plex.sync.SyncResult."""
    rating_key: str
    summary: str
    record: dict
    warnings: tuple


# (snapshot, previous record, allow_scan) -> SyncResult; raises plex.errors only.
SyncJob = Callable[[dict, "dict | None", bool], SyncResultLike]
# scene id -> does Stash still have it? Raises when Stash cannot tell (then: not deleted).
SceneExists = Callable[[object], bool]


@dataclass(frozen=True)
class Outcome:
    kind: str
    job: dict                      # for RETRY: the updated copy (attempts, not_before)
    result: SyncResultLike | None = None
    reason_code: str = ""
    reason: str = ""               # a sentence for a person (DLQ, summary, log)
    error_class: str = ""
    candidates: tuple = ()
    plex_answered: bool | None = None  # True: breaker success; False: breaker failure

    @property
    def scene_id(self):
        return self.job.get("scene_id")

    @property
    def headline(self) -> str:
        """The line a person reads in the summary and the log."""
        return self.reason if self.kind in STOPS else f"scene {self.scene_id}: {self.reason}"


@dataclass(frozen=True)
class Stores:
    """Where outcomes land; all on the drain's queue.db connection."""
    queue: JobQueue
    records: SyncRecords
    dead: DeadLetters
    state: QueueState


def run_job(job: dict, *, cfg: Config, sync_job: SyncJob, record: dict | None, now: float,
            rng: Uniform = random.uniform, scene_exists: SceneExists | None = None,
            plex_ok_at: float | None = None) -> Outcome:
    """`plex_ok_at`: when Plex last answered a job or the health probe (None: not yet)."""
    """Sync one job and classify what happened; never raises for a job-level problem."""
    try:
        snapshot = SyncMetadata.model_validate(job.get("data")).as_snapshot()
    except ValidationError as exc:
        return _dead(job, now, dlq.INVALID_SNAPSHOT, exc,
                     f"the queued scene data is invalid ({_validation_summary(exc)}); "
                     "save the scene in Stash again to queue a fresh copy")
    attempts = int(job.get("attempts") or 0)
    try:
        result = sync_job(snapshot, record, attempts == 0)
    except PlexUnavailable as exc:
        outage = plex_ok_at is None or plex_ok_at <= float(job.get("last_failed_at") or 0)
        return _retry_or_dead(job, now, rng, standard_for(cfg.max_retries), exc,
                              dlq.RETRIES_EXHAUSTED, plex_answered=False, may_give_up=not outage)
    except PlexAuthError as exc:
        return Outcome(AUTH_STOP, job, reason=str(exc), error_class=type(exc).__name__)
    except PlexSettingsError as exc:
        return Outcome(SETTINGS_STOP, job, reason=str(exc), error_class=type(exc).__name__,
                       plex_answered=True)
    except AmbiguousMatch as exc:
        return _dead(job, now, dlq.AMBIGUOUS_MATCH, exc, str(exc), tuple(exc.candidates),
                     plex_answered=True)
    except PlexBadRequest as exc:
        return _dead(job, now, dlq.BAD_REQUEST, exc, f"Plex refused the edit: {exc}",
                     plex_answered=True)
    except ItemNotFound as exc:
        if _deleted_in_stash(job, scene_exists):
            return Outcome(GONE, job, reason="deleted in Stash and Plex has no item for it; "
                           "dropped from the queue", error_class=type(exc).__name__,
                           plex_answered=True)
        if cfg.skip_not_found:
            return Outcome(SKIPPED, job, reason=f"not in Plex, skipped ({setting_label('skip_not_found')}): {exc}",
                           error_class=type(exc).__name__, plex_answered=True)
        # Plex was asked to scan the file's folder (now or on an earlier attempt): poll on
        # the short schedule first; a file outside every scan waits on the long one.
        scanned = exc.scan_requested or bool(job.get("scan_requested_at"))
        outcome = _retry_or_dead(job, now, rng, AFTER_SCAN if scanned else NOT_FOUND, exc,
                                 dlq.NOT_FOUND, plex_answered=True)
        if exc.scan_requested and outcome.kind == RETRY:
            outcome.job["scan_requested_at"] = now
        return outcome
    except Exception as exc:  # noqa: BLE001 - the policy's catch-all: retry, then dead-letter
        return _retry_or_dead(job, now, rng, standard_for(cfg.max_retries), exc,
                              dlq.UNEXPECTED_ERROR)
    return Outcome(SYNCED if result.summary else UNCHANGED, job, result=result, plex_answered=True)


def _deleted_in_stash(job: dict, scene_exists: SceneExists | None) -> bool:
    """True only when Stash answered that the scene is gone; unsure (Stash away) is False."""
    if scene_exists is None:
        return False
    try:
        return scene_exists(job.get("scene_id")) is False
    except Exception as exc:  # noqa: BLE001 - Stash away: keep the normal not-found schedule
        log.debug(f"could not ask Stash about scene {job.get('scene_id')}: {exc}")
        return False


def _retry_or_dead(job: dict, now: float, rng: Uniform, schedule: Schedule, exc: Exception,
                   reason_code: str, plex_answered: bool | None = None,
                   may_give_up: bool = True) -> Outcome:
    failures = int(job.get("attempts") or 0) + 1
    failed = dict(job, attempts=failures, first_failed_at=job.get("first_failed_at") or now,
                  last_failed_at=now, last_error=f"{type(exc).__name__}: {exc}"[:500])
    if getattr(exc, "path", ""):  # the path Plex lacks: Stash's scene panel shows it
        failed["looked_for"] = exc.path
    if schedule.exhausted(failures) and may_give_up:
        return _dead(failed, now, reason_code, exc, _gave_up(reason_code, failures, exc, job),
                     plex_answered=plex_answered)
    failed["not_before"] = now + schedule.delay(min(failures - 1, schedule.max_retries), rng)
    return Outcome(RETRY, failed, reason=f"{type(exc).__name__}: {exc}",
                   error_class=type(exc).__name__, plex_answered=plex_answered)


def _dead(job: dict, now: float, reason_code: str, exc: Exception, reason: str,
          candidates: tuple = (), plex_answered: bool | None = None) -> Outcome:
    job = dict(job, first_failed_at=job.get("first_failed_at") or now)
    return Outcome(DEAD_LETTER, job, reason_code=reason_code, reason=reason,
                   error_class=type(exc).__name__, candidates=candidates,
                   plex_answered=plex_answered)


def _gave_up(reason_code: str, failures: int, exc: Exception, job: dict) -> str:
    if reason_code == dlq.NOT_FOUND:
        files = (job.get("data") or {}).get("files") or ["?"]
        return (f"Plex still has no item for {files[0]} after {failures} attempts ({exc}); "
                f"check the {setting_label('path_map')} and {setting_label('plex_libraries')} "
                f"settings, or turn on {setting_label('skip_not_found')}")
    if reason_code == dlq.RETRIES_EXHAUSTED:
        return f"Plex kept failing, gave up after {failures} attempts: {exc}"
    return f"unexpected {type(exc).__name__} after {failures} attempts: {exc}"


def _validation_summary(exc: ValidationError) -> str:
    # Field path and message only: the input value may be 100,000 characters of hostile text.
    parts = [f"{'.'.join(str(p) for p in err['loc']) or 'data'}: {err['msg']}"
             for err in exc.errors()[:3]]
    return "; ".join(parts)


def corrupt(raw: object) -> Outcome:
    """The outcome for a queue row that is not a PlexSync job at all (hand-edited queue.db)."""
    job = raw if isinstance(raw, dict) else {"scene_id": "?", "raw": raw}
    return Outcome(DEAD_LETTER, job, reason_code=dlq.INVALID_SNAPSHOT, error_class="CorruptJob",
                   reason="a queued job is malformed (not a PlexSync job); it was set aside")


def settle(outcome: Outcome, taken: TakenJob, stores: Stores, cfg: Config, now: float) -> None:
    """Apply an outcome. The job's next home (record, scheduled copy, dead letter) is committed
    before its queue row is acked: a crash in between repeats work, never loses it."""
    scene, kind = outcome.scene_id, outcome.kind
    if kind in (SYNCED, UNCHANGED):
        result = outcome.result
        if result.record:
            owed = outcome.job if result.record.get("cover_owed") else None
            stores.records.put(scene, result.record, owed_job=owed)
        stores.queue.ack(taken)
        for warning in result.warnings or ():
            log.warning(warning)  # plex/ warnings already name the scene
        if kind == SYNCED:
            log.info(f"scene {scene} → Plex {result.rating_key}: {result.summary}")
        else:
            log.debug(f"scene {scene} → Plex {result.rating_key}: unchanged")
    elif kind == SKIPPED:
        stores.records.mark_skipped(scene, outcome.reason)
        stores.queue.ack(taken)
        log.info(outcome.headline)
    elif kind == GONE:
        stores.queue.ack(taken)
        log.info(outcome.headline)
    elif kind == RETRY:
        stores.queue.reschedule(taken, outcome.job)
        delay = max(0.0, outcome.job["not_before"] - now)
        log.warning(f"{outcome.headline}; retry {outcome.job['attempts']} in {delay:.0f} s")
    elif kind == DEAD_LETTER:
        stores.dead.add(outcome.job, reason_code=outcome.reason_code, reason=outcome.reason,
                        error_class=outcome.error_class, candidates=outcome.candidates)
        stores.queue.ack(taken)
        log.error(f"{outcome.headline} (listed under Failed Syncs)")
    elif kind == AUTH_STOP:
        stores.queue.put_back(taken)  # not the job's fault: no DLQ entry, no retry spent
        stores.state.record_auth_failure(cfg.token_fingerprint, outcome.reason)
        log.error(f"{outcome.reason}; syncing stops until the token is changed")
    elif kind == SETTINGS_STOP:
        stores.queue.put_back(taken)
        stores.state.record_settings_failure("plex_libraries", cfg.libraries_fingerprint,
                                             outcome.reason)
        log.error(f"{outcome.reason}; syncing stops until the setting is changed "
                  "(queued edits are kept)")
