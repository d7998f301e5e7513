"""Retry delays: full-jitter exponential backoff, `uniform(0, min(cap, base * 2**attempt))`.

Full jitter (rather than a fixed exponential step) spreads the retries of many jobs that
failed together — e.g. a whole bulk edit during a Plex restart — so they do not return as one
burst. `attempt` counts from 0: the first retry after the first failure uses attempt 0.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, replace
from typing import Callable

Uniform = Callable[[float, float], float]


def ceiling(attempt: int, base: float, cap: float) -> float:
    """The largest delay allowed for this attempt: min(cap, base * 2**attempt)."""
    return min(cap, base * 2 ** max(0, attempt))


def full_jitter(attempt: int, base: float, cap: float, rng: Uniform = random.uniform) -> float:
    """A delay drawn uniformly from [0, ceiling(attempt, base, cap)]."""
    return rng(0.0, ceiling(attempt, base, cap))


@dataclass(frozen=True)
class Schedule:
    """A named backoff policy: base and cap in seconds, and how many retries it allows."""
    name: str
    base: float
    cap: float
    max_retries: int

    def delay(self, attempt: int, rng: Uniform = random.uniform) -> float:
        """The full-jitter delay before retry number `attempt` (0-based)."""
        return full_jitter(attempt, self.base, self.cap, rng)

    def exhausted(self, failures: int) -> bool:
        """True once a job has failed more often than this schedule retries."""
        return failures > self.max_retries


# Transient Plex errors (5xx, timeouts, refused connections): 5, 10, 20, 40, 80 s ceilings.
STANDARD = Schedule("standard", base=5.0, cap=80.0, max_retries=5)
# Plex has no item for the file yet (it may still be importing it): minutes, not seconds.
NOT_FOUND = Schedule("not_found", base=30.0, cap=600.0, max_retries=12)


def standard_for(max_retries: int) -> Schedule:
    """STANDARD with the user's max_retries setting."""
    return replace(STANDARD, max_retries=max_retries)


# After PlexSync asked Plex to scan a folder, Plex usually imports the new file within
# seconds: look again soon. Equal jitter (half the ceiling plus up to half) spreads a scan of
# many new scenes without ever looking again at once. Once this short window (~20-32 s) has
# passed, Plex truly lacks the file and the NOT_FOUND schedule takes over.
SCAN_POLL_CEILINGS = (1.0, 1.0, 2.0, 2.0, 2.0, 3.0, 3.0, 5.0, 5.0, 8.0)


@dataclass(frozen=True)
class ShortThenLong:
    """Short polls first (`short` ceilings, equal jitter), then the `then` schedule."""
    name: str
    short: tuple[float, ...]
    then: Schedule

    def delay(self, attempt: int, rng: Uniform = random.uniform) -> float:
        if attempt < len(self.short):
            top = self.short[attempt]
            return top / 2 + rng(0.0, top / 2)
        return self.then.delay(attempt - len(self.short), rng)

    @property
    def max_retries(self) -> int:
        """Retries before giving up: the short polls, then the long schedule's."""
        return len(self.short) + self.then.max_retries

    def exhausted(self, failures: int) -> bool:
        return failures > self.max_retries


AFTER_SCAN = ShortThenLong("after_scan", SCAN_POLL_CEILINGS, NOT_FOUND)
