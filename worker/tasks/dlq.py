"""Dead Letters: list them with what to do, retry them (all or one reason), purge old ones.

A dead letter is a job PlexSync gave up on; its reason sentence says what to fix. Retry puts
the jobs back with a fresh retry budget and drains at once, so the answer shows whether the
fix worked. Jobs keep their sequence number: a scene edited since is not overwritten by the
older retried copy (newest wins).
"""
from __future__ import annotations

from sync_queue import dlq
from sync_queue.store import connect
from worker.tasks import formatting as fmt
from worker.tasks.drain import drain_queue, drain_rows, headline, report_data
from worker.tasks.env import TaskEnv, TaskError, TaskResult, days_value

REASON_CODES = (dlq.AMBIGUOUS_MATCH, dlq.BAD_REQUEST, dlq.INVALID_SNAPSHOT, dlq.NOT_FOUND,
                dlq.RETRIES_EXHAUSTED, dlq.UNEXPECTED_ERROR)
LIST_LIMIT = 100  # a Stash log line per entry beyond this helps nobody; --json has them all


def dlq_list(env: TaskEnv) -> TaskResult:
    reason = _reason_arg(env)
    conn = connect(env.data_dir)
    try:
        dead = dlq.DeadLetters(conn)
        counts = dead.counts_by_reason()
        entries = dead.list(reason)
    finally:
        conn.close()
    total = sum(counts.values())
    title = f"Failed Syncs: {total}" + (f" ({fmt.by_reason(counts)})" if total else "")
    if reason:
        title += f"; showing {len(entries)} with reason {reason}"
    lines = [title] + _entry_lines(entries[:LIST_LIMIT])
    if len(entries) > LIST_LIMIT:
        lines.append(f"  … and {len(entries) - LIST_LIMIT} more (process_queue.py dlq list --json)")
    if entries:
        lines.append("Fix what the reason says, then run Retry Failed Syncs "
                     "(process_queue.py dlq retry [--reason REASON]).")
    data = {"counts": counts, "entries": [_entry_data(e) for e in entries]}
    return TaskResult("\n".join(lines), data)


def _entry_lines(entries) -> list[str]:
    if not entries:
        return ["  (none)"]
    head = ("scene", "title", "reason", "attempts", "last failure")
    cells = [(str(e.scene_id), fmt.short(e.title, 30).strip("'") or "(untitled)",
              e.reason_code, str(e.attempts), fmt.when(e.last_failure)) for e in entries]
    widths = [max(len(row[i]) for row in [head, *cells]) for i in range(len(head))]
    indent = " " * (2 + widths[0] + 2)
    lines = ["  " + "  ".join(h.ljust(w) for h, w in zip(head, widths)).rstrip()]
    for entry, row in zip(entries, cells):
        lines.append("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
        # "·" marks an entry's detail lines: Stash's log trims indentation, the bullet stays.
        lines.append(f"{indent}· why: {entry.reason}")
        for candidate in entry.candidates:
            lines.append(f"{indent}· candidate: '{candidate.get('title')}' (ratingKey "
                         f"{candidate.get('rating_key')}, {candidate.get('file')})")
    return lines


def _entry_data(entry) -> dict:
    return {"id": entry.id, "scene_id": entry.scene_id, "title": entry.title,
            "reason_code": entry.reason_code, "reason": entry.reason,
            "error_class": entry.error_class, "candidates": entry.candidates,
            "attempts": entry.attempts, "first_failure": entry.first_failure,
            "last_failure": entry.last_failure}


def dlq_retry(env: TaskEnv) -> TaskResult:
    reason, scene = _reason_arg(env), _scene_arg(env)
    conn = connect(env.data_dir)
    try:
        dead = dlq.DeadLetters(conn)
        before = dead.counts_by_reason()
        requeued = dead.retry(reason, scene_id=scene)
    finally:
        conn.close()
    which = " ".join(part for part in (scene and f"scene {scene}",
                                       reason and f"with reason {reason}") if part) or "all"
    report = drain_queue(env, 0.0, 1.0)
    rows = [("re-queued", f"{requeued} failed syncs ({which}"
                          f"{'; ' + fmt.by_reason(before) if before and not reason else ''})")]
    rows += drain_rows(report)
    data = {"requeued": requeued, "reason": reason, "scene_id": scene, **report_data(report)}
    return TaskResult(fmt.table(headline("Retry Failed Syncs", report), rows), data, report.ok)


def dlq_purge(env: TaskEnv) -> TaskResult:
    days = days_value(env.arg("days", env.cfg.dlq_retention_days))
    conn = connect(env.data_dir)
    try:
        dead = dlq.DeadLetters(conn)
        purged = dead.purge(days)
        left = sum(dead.counts_by_reason().values())
    finally:
        conn.close()
    text = (f"Delete Old Failed Syncs: removed {purged} failed syncs older than {days:g} days; "
            f"{left} left")
    return TaskResult(text, {"purged": purged, "days": days, "left": left})


def dlq_delete(env: TaskEnv) -> TaskResult:
    """Forget one scene's failed syncs (the PlexSync page's Delete): nothing is sent to Plex."""
    scene = _scene_arg(env)
    if scene is None:
        raise TaskError("argument 'scene_id' is required: the scene whose failed sync to delete")
    conn = connect(env.data_dir)
    try:
        deleted = dlq.DeadLetters(conn).delete(scene)
    finally:
        conn.close()
    return TaskResult(f"Delete Failed Sync: scene {scene}: {deleted} removed",
                      {"deleted": deleted, "scene_id": scene}, ok=bool(deleted))


def _scene_arg(env: TaskEnv) -> str | None:
    scene = env.arg("scene_id")
    if scene is None or scene == "":
        return None
    if not str(scene).isdigit():
        raise TaskError(f"argument 'scene_id' must be a Stash scene id; got {scene!r}")
    return str(scene)


def _reason_arg(env: TaskEnv) -> str | None:
    reason = env.arg("reason")
    if reason is None:
        return None
    reason = str(reason).strip().lower()
    if reason not in REASON_CODES:
        raise TaskError(f"argument 'reason' must be one of {', '.join(REASON_CODES)}; "
                        f"got {reason!r}")
    return reason
