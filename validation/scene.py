"""Stash's Scene JSON -> the sanitised snapshot a job carries (shape: docs/architecture.md).

The snapshot holds exactly what Plex will be given, so the worker never needs Stash's raw
shape and a job can be synced long after the hook that queued it has exited.
"""
from __future__ import annotations

from validation.sanitize import (SUMMARY_MAX, TAG_MAX, TITLE_MAX, clean_date, clean_text,
                                 strip_credentials, unique_names)

# Stash caps nothing; Plex lists beyond these sizes are unreadable anyway.
MAX_PERFORMERS = 200
MAX_GROUPS = 50


def snapshot_from_stash(scene: dict, max_tags: int) -> tuple[dict, list[str]]:
    """The sanitised snapshot of one Stash scene, and a warning per value that had to change."""
    scene_id = str(scene.get("id"))
    warnings: list[str] = []

    def text(field: str, limit: int, multiline: bool = False) -> str:
        raw = scene.get(field) or ""
        cleaned = clean_text(raw, limit, multiline=multiline)
        if len(str(raw)) > limit:
            warnings.append(f"scene {scene_id}: {field} is {len(str(raw))} characters; "
                            f"Plex gets the first {limit}")
        elif cleaned != " ".join(str(raw).split()) and not multiline:
            warnings.append(f"scene {scene_id}: {field} had control or hidden characters; removed")
        return cleaned

    date = clean_date(scene.get("date"))
    if scene.get("date") and date is None:
        warnings.append(f"scene {scene_id}: date {str(scene.get('date'))[:40]!r} is not a valid "
                        "date; syncing without a date (fix it in Stash)")

    studio = scene.get("studio") or {}
    parent = studio.get("parent_studio") or {}
    groups = sorted(scene.get("groups") or [], key=lambda g: (g.get("scene_index") is None,
                                                             g.get("scene_index") or 0))
    snapshot = {
        "id": scene_id,
        "title": text("title", TITLE_MAX),
        "details": text("details", SUMMARY_MAX, multiline=True),
        "date": date,
        "studio": clean_text(studio.get("name"), TAG_MAX) or None,
        "parent_studio": clean_text(parent.get("name"), TAG_MAX) or None,
        "performers": _performers(scene.get("performers") or []),
        "tags": unique_names([t.get("name") for t in scene.get("tags") or []], max_tags),
        "groups": unique_names([(g.get("group") or {}).get("name") for g in groups], MAX_GROUPS),
        "files": [f["path"] for f in scene.get("files") or [] if f.get("path")],
        "cover_url": (scene.get("paths") or {}).get("screenshot") or None,
        "updated_at": str(scene.get("updated_at") or ""),
    }
    if not snapshot["files"]:
        warnings.append(f"scene {scene_id}: has no file in Stash; nothing to match in Plex")
    return snapshot, warnings


def _performers(performers: list) -> list[dict]:
    names = unique_names([p.get("name") for p in performers], MAX_PERFORMERS)
    images = {clean_text(p.get("name"), TAG_MAX).casefold(): p.get("image_path") for p in performers}
    return [{"name": name, "image_url": strip_credentials(images.get(name.casefold()))}
            for name in names]
