"""Dry Run: what Sync All would change in Plex, scene by scene and field by field.

The same scene selection as Sync All (worker.tasks.scenes) and the same diff as a real sync
(plex.sync.sync_scene with dry_run=True: no PUT, no upload, no scan, no record written), so
the preview cannot drift from what a sync does. Only the local path index is refreshed.
"""
from __future__ import annotations

from pydantic import ValidationError

from plex.client import PlexClient
from plex.errors import (AmbiguousMatch, ItemNotFound, PlexAuthError, PlexSyncError,
                         PlexUnavailable)
from plex.index import PathIndex
from plex.sync import sync_scene
from validation.models import SyncMetadata
from validation.scene import snapshot_from_stash
from worker.tasks import formatting as fmt
from worker.tasks import import_plays
from worker.tasks.env import TaskEnv, TaskResult
from worker.tasks.scenes import Selection, changed_pages

SHOWN_SCENES = 100  # scenes detailed in the text; --json carries every one
OUTCOMES = ("would change", "unchanged", "not in Plex", "ambiguous", "invalid", "error")


def dry_run(env: TaskEnv) -> TaskResult:
    client, index = PlexClient(env.cfg, env.data_dir), PathIndex(env.data_dir)
    selection, counts = Selection(), dict.fromkeys(OUTCOMES, 0)
    scenes, lines, stopped_by, fields = [], [], "", 0
    try:
        for pairs in changed_pages(env, selection, label="comparing scenes with Plex"):
            for scene, record in pairs:
                try:
                    entry = preview(env, client, index, scene, record)
                except (PlexUnavailable, PlexAuthError) as exc:
                    stopped_by = str(exc)  # every further scene would fail the same way
                    break
                counts[entry["outcome"]] += 1
                done = selection.in_sync + selection.dead + sum(counts.values())
                env.reporter.update(done, selection.total)  # a Plex round trip per scene
                fields += len(entry["changes"])
                scenes.append(entry)
                if entry["outcome"] != "unchanged" and len(lines) < SHOWN_SCENES:
                    lines.append(_entry_text(entry))
            if stopped_by:
                break
    finally:
        index.close()
    shown_changes = counts["would change"] + counts["not in Plex"] + counts["ambiguous"]
    compared = sum(counts.values())
    if stopped_by:  # the counts cover only the scenes compared before Plex went away
        title = (f"Dry Run stopped after {compared} of {selection.total or selection.seen} "
                 f"scenes: {stopped_by}; nothing was written")
        body = lines or ["  (no scene compared yet: nothing is known about the others)"]
    else:
        title = (f"Dry Run: {counts['would change']} of {selection.seen} scenes would change "
                 f"in Plex ({fields} field changes); nothing was written")
        body = lines or ["  (no scene would change)"]
    if shown_changes > len(lines):
        body.append(f"  … and {shown_changes - len(lines)} more (process_queue.py dry-run --json)")
    summary = (f"Summary{' of the scenes compared' if stopped_by else ''}: {counts['would change']} would change, {counts['unchanged']} unchanged, "
               f"{counts['not in Plex']} not in Plex, {counts['ambiguous']} ambiguous, "
               f"{selection.in_sync} already in sync since their last sync")
    if counts["invalid"] or counts["error"]:
        summary += f", {counts['invalid']} invalid, {counts['error']} errors"
    from_plex, imports = import_plays.preview(env)  # the other direction, also unwritten
    tail = from_plex + [summary]
    data = {"counts": counts, "field_changes": fields, "selection": selection.as_dict(),
            "scenes": scenes, "stopped_by": stopped_by or None, "from_plex": imports}
    ok = not (stopped_by or counts["invalid"] or counts["error"])
    return TaskResult("\n".join([title, *body, *tail]), data, ok)


def preview(env: TaskEnv, client, index, scene: dict, record: dict | None) -> dict:
    """One scene's would-be sync: outcome, Plex item, field changes (old -> new)."""
    snapshot, _ = snapshot_from_stash(scene, env.cfg.max_tags)
    entry = {"scene_id": snapshot["id"], "title": snapshot["title"], "outcome": "",
             "rating_key": None, "confidence": None, "changes": [], "detail": ""}
    try:  # the worker validates every job with this model before syncing it
        snapshot = SyncMetadata.model_validate(snapshot).as_snapshot()
        result = sync_scene(client, index, env.cfg, snapshot, record, env.stash.fetch_image,
                            allow_scan=False, dry_run=True)
    except ValidationError as exc:
        return {**entry, "outcome": "invalid", "detail": f"{exc.error_count()} invalid field(s)"}
    except ItemNotFound as exc:
        return {**entry, "outcome": "not in Plex", "detail": str(exc)}
    except AmbiguousMatch as exc:
        return {**entry, "outcome": "ambiguous", "detail": str(exc)}
    except (PlexUnavailable, PlexAuthError):
        raise
    except PlexSyncError as exc:
        return {**entry, "outcome": "error", "detail": str(exc)}
    changes = [{"field": c.field, "old": c.old, "new": c.new} for c in result.changes]
    return {**entry, "outcome": "would change" if changes else "unchanged",
            "rating_key": result.rating_key, "confidence": result.confidence,
            "changes": changes, "detail": "; ".join(result.warnings)}


def _change(old, new) -> str:
    if old == new:  # same names: what differs is a detail of them (e.g. an actor's photo)
        return f"{fmt.short(new)} (photos or roles differ)"
    return f"{fmt.short(old)} → {fmt.short(new)}"


def _entry_text(entry: dict) -> str:
    name = f"scene {entry['scene_id']} {fmt.short(entry['title'], 40)}"
    if entry["outcome"] != "would change":
        return f"  {name}: {entry['outcome']}: {entry['detail']}"
    lines = [f"  {name} → Plex {entry['rating_key']} ({entry['confidence']})"]
    # "·" marks the field lines: Stash's log trims indentation, the bullet stays.
    lines += [f"    · {c['field']}: {_change(c['old'], c['new'])}" for c in entry["changes"]]
    if entry["detail"]:
        lines.append(f"    · warning: {entry['detail']}")
    return "\n".join(lines)
