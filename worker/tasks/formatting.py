"""Text helpers shared by the task answers: aligned two-column tables, times, counts.

Every task answers with a few lines a person reads in Stash's log or a terminal, so the
formatting rules live in one place and the answers look alike.
"""
from __future__ import annotations

import time


def table(title: str, rows: list[tuple[str, str]]) -> str:
    """A title line, then `label  value` rows with the values aligned in one column."""
    width = max((len(label) for label, _ in rows), default=0)
    lines = [title]
    for label, value in rows:
        head, *rest = str(value).splitlines() or [""]
        lines.append(f"  {label.ljust(width)}  {head}".rstrip())
        lines.extend(f"  {' ' * width}  {more}" for more in rest)
    return "\n".join(lines)


def when(epoch: float | None) -> str:
    """A local date and time, e.g. '2024-05-01 14:03:10'; '-' for never."""
    if not epoch:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch))


def clock(epoch: float | None) -> str:
    """A local time of day for something due soon, e.g. '14:03:10'."""
    return time.strftime("%H:%M:%S", time.localtime(epoch)) if epoch else "-"


def due(epoch: float, now: float | None = None) -> str:
    """When something scheduled is due: 'next at 14:03:10', or 'due since 14:03:10' once that
    moment has passed (a time in the past must never read as the next one)."""
    now = time.time() if now is None else now
    moment = clock(epoch) if abs(epoch - now) < 43200 else when(epoch)
    return f"next at {moment}" if epoch > now else f"due since {moment}"


def ago(epoch: float | None, now: float | None = None) -> str:
    """'2024-05-01 14:03:10 (5 min ago)'; '-' for never."""
    if not epoch:
        return "never"
    seconds = max(0.0, (time.time() if now is None else now) - epoch)
    if seconds < 90:
        span = f"{seconds:.0f} s"
    elif seconds < 5400:
        span = f"{seconds / 60:.0f} min"
    elif seconds < 172800:
        span = f"{seconds / 3600:.0f} h"
    else:
        span = f"{seconds / 86400:.0f} days"
    return f"{when(epoch)} ({span} ago)"


def by_reason(counts: dict) -> str:
    """'ambiguous_match 2, not_found 1' (largest first); '' when empty."""
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return ", ".join(f"{reason} {count}" for reason, count in ordered)


def short(value, limit: int = 60) -> str:
    """A field value for one line: lists joined, newlines shown as '⏎', long text cut."""
    if value is None or value == "" or value == []:
        return "(empty)"
    if isinstance(value, (list, tuple)):
        text = "[" + ", ".join(str(v) for v in value) + "]"
    else:
        text = repr(str(value).replace("\n", "⏎"))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def seconds(value: float) -> str:
    return f"{value:.1f} s" if value < 120 else f"{value / 60:.1f} min"
