"""The rules of bringing Plex activity back to Stash: pure functions, no I/O.

Plays are multisets of epoch seconds. A scene's expected plays are its Plex history rows plus
the plays Plex counted before its history began (frozen once, at the scene's first import);
`imported` is what PlexSync already added; Stash's own play_history is consulted so that a
run that died between writing Stash and recording it never adds the same play again.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone

WATCH_RATING_SCALE = 10        # Plex userRating 0-10 -> Stash rating100 1-100
RESUME_TOLERANCE_S = 1.0       # resume points this close are the same point


@dataclass(frozen=True)
class PlayPlan:
    to_add: tuple[int, ...]    # times to send with sceneAddPlay, oldest first
    imported: tuple[int, ...]  # the scene's imported plays after the write succeeded


def plays_before_history(view_count: int, last_viewed_at: int | None,
                         history_times: list[int]) -> tuple[int, ...]:
    """Plays Plex counts (viewCount) that no history row accounts for: made before Plex kept
    history for this account, or rows deleted since. Plex has no time for them but the item's
    last-viewed time, so they get that one, or the item's first history time if older."""
    missing = view_count - len(history_times)
    if missing <= 0 or last_viewed_at is None:
        return ()
    when = min([last_viewed_at, *history_times])
    return (when,) * missing


def plan_plays(expected: list[int], imported: list[int], in_stash: list[int] | None) -> PlayPlan:
    """Which expected plays still go to Stash, never one twice.

    - already imported (recorded) plays are never sent again, even if someone deleted them in
      Stash since: that deletion is respected;
    - a pending play Stash already has at that exact second (beyond those we recorded) was
      written by a run that died before recording it: not sent again;
    - in_stash=None: Stash cannot list plays (before v0.25): recorded plays are all we know.
    """
    done = Counter(imported)
    pending = Counter(expected) - done
    if in_stash is not None:
        found = pending & (Counter(in_stash) - done)
        to_add = pending - found
    else:
        to_add = pending
    return PlayPlan(tuple(sorted(to_add.elements())), tuple(sorted((done + pending).elements())))


def resume_to_import(view_offset_ms: int, last_viewed_at: int | None, stash_resume: float | None,
                     stash_last_played_at: int | None, last_seen: list | None) -> float | None:
    """Plex's resume point (seconds) if it is the newer one, else None.

    Newer means: Plex's state changed since the import last saw it (so a resume point set in
    Stash after an import is not overwritten by the same old Plex state), and Plex's
    lastViewedAt is later than Stash's last play. 0 clears Stash's point (watched to the end).
    """
    if last_viewed_at is None:
        return None
    if last_seen is not None and list(last_seen) == [view_offset_ms, last_viewed_at]:
        return None
    if stash_last_played_at is not None and stash_last_played_at >= last_viewed_at:
        return None
    seconds = round(view_offset_ms / 1000.0, 3)
    if abs(seconds - (stash_resume or 0.0)) < RESUME_TOLERANCE_S:
        return None
    return seconds


def plex_rating100(user_rating: float | None) -> int | None:
    """Plex 0-10 (half stars are odd numbers) -> Stash 1-100; 0 or none = unrated."""
    if user_rating is None or user_rating <= 0:
        return None
    return max(1, min(100, round(user_rating * WATCH_RATING_SCALE)))


def rating_to_import(plex_rating: int | None, stash_rating: int | None,
                     last: dict | None) -> tuple[bool, int | None]:
    """(write?, rating100) under 'changed in Plex since the last import; Stash edits win'.

    First import (last=None): Plex's rating only fills an unrated Stash scene. After that:
    Plex's rating is written when it changed since the last import and Stash's did not
    (a rating changed in Stash after the last import wins). A rating removed in Plex clears
    Stash's the same way.
    """
    if last is None:
        return (plex_rating is not None and stash_rating is None), plex_rating
    plex_changed = plex_rating != last.get("plex")
    stash_changed = stash_rating != last.get("stash")
    return (plex_changed and not stash_changed and plex_rating != stash_rating), plex_rating


def epoch(stash_time: str | None) -> int | None:
    """Stash's Time ('2024-01-02T03:04:05Z' or with an offset) -> epoch seconds."""
    if not stash_time:
        return None
    return int(datetime.fromisoformat(stash_time.replace("Z", "+00:00")).timestamp())


def stash_timestamp(seconds: int) -> str:
    """Epoch seconds -> the RFC3339 form Stash's Timestamp input takes."""
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
