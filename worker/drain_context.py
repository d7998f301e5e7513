"""What a drain is given (DrainContext: the Plex side as callables, settings, timing) and what
it reports (DrainSummary: the one line Stash's log shows). Plain data: worker/drain.py runs it.
"""
from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from sync_queue.lock import DrainLock
from validation.config import Config
from worker import job as job_policy
from worker.backoff import Uniform
from worker.breaker import Policy

POLL_INTERVAL_S = 0.5  # how often an idle drainer checks for new commits
PREFETCH_BATCH = 100   # jobs whose Plex items are reloaded together (one GET)


@dataclass
class DrainContext:
    """Everything one drain needs; the Plex side is the `sync_job` seam (see worker.job)."""
    data_dir: Path
    cfg: Config
    sync_job: job_policy.SyncJob
    health_check: Callable[[], None] | None = None  # e.g. PlexClient.ping; raises plex.errors
    scene_exists: job_policy.SceneExists | None = None  # e.g. StashClient.scene_exists
    rng: Uniform = random.uniform
    breaker_policy: Policy = Policy()
    lock: DrainLock | None = None  # default: DrainLock(data_dir)
    poll_interval: float = POLL_INTERVAL_S
    # The hook's inbox (sync_queue/inbox.py): `ingest()` turns noted edits into jobs (asks
    # Stash; may raise), `pending_edits()` says whether any wait. None: no inbox to read.
    ingest: Callable[[], int] | None = None
    pending_edits: Callable[[], bool] | None = None
    # Batched reloads (plex.batch_reads): called with the next jobs' (data, record) pairs
    # before they are taken one by one; None = every job reloads its own item.
    prefetch: Callable[[list[tuple[dict, dict | None]]], object] | None = None
    batch_size: int = PREFETCH_BATCH
    wave_width: int = 1  # jobs whose Plex requests may be in flight together (worker.waves)


@dataclass
class DrainSummary:
    synced: int = 0
    unchanged: int = 0
    superseded: int = 0
    skipped: int = 0
    dropped: int = 0           # deleted in Stash while queued: nothing left to sync
    dead_lettered: int = 0
    covers_owed: int = 0       # synced without the cover (Stash did not serve it): owed
    retrying: int = 0          # distinct jobs that failed and still wait for a retry
    errors: list[str] = field(default_factory=list)
    elapsed: float = 0.0
    lock_busy: bool = False    # another process was draining; nothing was done here
    auth_blocked: bool = False  # Plex rejected this token before: nothing was taken
    auth_stopped: bool = False  # Plex rejected the token (or plex_libraries) in this drain
    breaker_open: bool = False  # stopped because Plex is unavailable (idle_exit_after=None)
    breaker_opened: int = 0    # CLOSED -> OPEN transitions during this drain
    waiting: int = 0           # jobs left scheduled for later (retries, new scenes)
    next_due: float | None = None

    @property
    def processed(self) -> int:
        return (self.synced + self.unchanged + self.superseded + self.skipped
                + self.dropped + self.dead_lettered)

    def count(self, outcome: job_policy.Outcome) -> None:
        """Add one settled job to the counts; problems a person must act on go to errors."""
        counter = _COUNTERS.get(outcome.kind)
        if counter:
            setattr(self, counter, getattr(self, counter) + 1)
        if outcome.kind in (job_policy.DEAD_LETTER, *job_policy.STOPS):
            self.errors.append(outcome.headline)
        self.auth_stopped = self.auth_stopped or outcome.kind in job_policy.STOPS
        if outcome.result is not None and (outcome.result.record or {}).get("cover_owed"):
            self.covers_owed += 1

    def line(self) -> str:
        """One line for Stash's log: counts, time, and the errors a person must act on."""
        if self.lock_busy:
            return "another PlexSync drainer is running; nothing done here"
        parts = [f"synced {self.synced}", f"unchanged {self.unchanged}"]
        for label, value in (("superseded", self.superseded), ("skipped", self.skipped),
                             ("dropped (deleted in Stash)", self.dropped),
                             ("retrying", self.retrying), ("dead-lettered", self.dead_lettered)):
            if value:
                parts.append(f"{label} {value}")
        text = ", ".join(parts) + f" in {self.elapsed:.1f} s"
        if self.waiting:
            text += f"; {self.waiting} waiting"
            if self.next_due:
                # "due", not "next": this line is read later (the next hook or task shows it)
                text += f" (first due at {time.strftime('%H:%M:%S', time.localtime(self.next_due))})"
        if self.breaker_open:
            text += "; paused: Plex is unavailable (circuit breaker open)"
        if self.covers_owed:
            text += (f"; {self.covers_owed} cover(s) owed: Stash did not serve them (see "
                     "drainer.log), retried by the next sync")
        if self.errors:
            shown = self.errors[:3]
            more = f" (+{len(self.errors) - 3} more)" if len(self.errors) > 3 else ""
            text += "; errors: " + " | ".join(shown) + more
        return text


_COUNTERS = {job_policy.SYNCED: "synced", job_policy.UNCHANGED: "unchanged",
             job_policy.SKIPPED: "skipped", job_policy.DEAD_LETTER: "dead_lettered",
             job_policy.GONE: "dropped"}
