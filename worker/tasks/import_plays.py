"""Import Plex plays: plays, resume points and ratings made in Plex, into Stash, now.

The task is a full run of worker.plays_import (every synced scene, with progress); Dry Run
shows the same run without writing (`preview_lines`). Errors reading Plex or Stash stop the
task with the sentence their boundary wrote; nothing is half-recorded (see worker.plays).
"""
from __future__ import annotations

from hooks.stash_api import StashError
from plex.client import PlexClient
from plex.errors import PlexSyncError
from worker.plays_import import ImportReport, run_import
from worker.tasks import formatting as fmt
from worker.tasks.env import TaskEnv, TaskResult

SHOWN_SCENES = 50


def import_plays(env: TaskEnv) -> TaskResult:
    try:
        report = run_import(env.cfg, env.stash, PlexClient(env.cfg, env.data_dir), env.data_dir,
                            full=True, reporter=env.reporter)
    except (PlexSyncError, StashError) as exc:
        return TaskResult(f"Import Plex plays stopped: {exc}", {"error": str(exc)}, ok=False)
    if report.refused:
        return TaskResult(f"Import Plex plays stopped: {report.refused}",
                          {"error": report.refused}, ok=False)
    title = f"Import Plex plays: {report.line()}"
    rows = [] if report.skipped else _rows(report)
    return TaskResult(fmt.table(title, rows), report_data(report), ok=True)


def preview(env: TaskEnv) -> tuple[list[str], dict]:
    """Dry Run's part: what an import would bring from Plex, written nowhere."""
    if not env.cfg.imports_anything:
        return [], {}
    try:
        report = run_import(env.cfg, env.stash, PlexClient(env.cfg, env.data_dir), env.data_dir,
                            full=True, dry_run=True)
    except (PlexSyncError, StashError) as exc:
        return [f"From Plex: could not check ({exc})"], {"error": str(exc)}
    if report.refused:
        return [f"From Plex: could not check ({report.refused})"], {"error": report.refused}
    if not report.scenes_with_changes:
        return [], report_data(report)  # nothing would come back: no line
    lines = [f"From Plex, would bring into Stash: {report.line().replace('from Plex: ', '')}"]
    lines += scene_lines(report)
    return lines, report_data(report)


def scene_lines(report: ImportReport) -> list[str]:
    changed = [s for s in report.scenes if s.changes]
    lines = []
    for scene in changed[:SHOWN_SCENES]:
        parts = []
        if scene.plays:
            when = ", ".join(fmt.when(t) for t in scene.plays[:3])
            more = f" +{len(scene.plays) - 3}" if len(scene.plays) > 3 else ""
            parts.append(f"{len(scene.plays)} play(s) at {when}{more}")
        if scene.resume is not None:
            parts.append(f"resume point {_clock(scene.resume)}")
        if scene.rating[0]:
            parts.append(f"rating {scene.rating[1] if scene.rating[1] is not None else 'cleared'}")
        lines.append(f"  · scene {scene.scene_id} (Plex {scene.rating_key}): " + "; ".join(parts))
    if len(changed) > SHOWN_SCENES:
        lines.append(f"  … and {len(changed) - SHOWN_SCENES} more scenes")
    return lines


def _rows(report: ImportReport) -> list[tuple[str, str]]:
    rows = [("plays added", str(report.plays_added)),
            ("resume points", str(report.resume_points)),
            ("ratings", str(report.ratings)),
            ("scenes checked", str(report.scenes_checked)),
            ("requests", f"{report.plex_requests} to Plex, {report.stash_requests} to Stash")]
    if report.legacy_stash:
        rows.append(("note", "this Stash has no play history (before v0.25): play counts were "
                             "raised instead, without times"))
    details = scene_lines(report)
    if details:
        rows.append(("changed", "\n".join(line.strip() for line in details)))
    return rows


def _clock(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


def report_data(report: ImportReport) -> dict:
    return {"plays_added": report.plays_added, "resume_points": report.resume_points,
            "ratings": report.ratings, "scenes_checked": report.scenes_checked,
            "new_history": report.new_history, "plex_requests": report.plex_requests,
            "stash_requests": report.stash_requests, "skipped": report.skipped or None,
            "scenes": [{"scene_id": s.scene_id, "rating_key": s.rating_key,
                        "plays": list(s.plays), "resume": s.resume,
                        "rating": s.rating[1] if s.rating[0] else None}
                       for s in report.scenes if s.changes]}
