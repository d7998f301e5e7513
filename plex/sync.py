"""sync_scene: one Stash scene onto its Plex item, with the fewest requests.

Steady state (item known from the last sync): 1 GET (full reload, which also re-verifies the
match: its Media/Part files must still include the scene's mapped path) + at most 1 PUT with
every edit + 1 POST per changed image. Nothing changed -> the GET only.
"""
from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass

from plex.cover_freshness import cover_still_current
from plex.edits import FieldChange, describe, plan_edits, record_cuts
from plex.errors import ItemNotFound, scrub
from plex.index import PathIndex
from plex.item_state import ItemState
from plex.matcher import Match, match, plex_paths
from plex.paths import is_under, parent_folder, path_key
from validation.config import Config, setting_label

__all__ = ["FieldChange", "SyncResult", "sync_scene"]
log = logging.getLogger(__name__)

# (Plex image kind, config toggle, word in the summary)
_IMAGES = (("poster", "sync_poster", "poster"), ("art", "sync_background", "background"))


@dataclass(frozen=True)
class SyncResult:
    rating_key: str
    section_id: str
    confidence: str  # "HIGH" | "LOW"
    changes: tuple[FieldChange, ...]  # what was (or, in a dry run, would be) written
    summary: str  # e.g. "title, genres +2 −1, poster" ("" = unchanged)
    record: dict  # the per-scene sync record to store (a dry run returns the old one)
    warnings: tuple[str, ...]


def sync_scene(client, index: PathIndex, cfg: Config, snapshot: dict, record: dict | None,
               fetch_image, *, allow_scan: bool = True, dry_run: bool = False) -> SyncResult:
    """Mirror `snapshot` onto its Plex item. Raises plex.errors only."""
    previous = dict(record or {})
    may_scan = allow_scan and cfg.trigger_plex_scan and not dry_run
    found, item = _locate(client, index, cfg, snapshot, previous, may_scan)
    # What PlexSync wrote to ANOTHER item (the scene was re-matched) says nothing about this one.
    ours = previous if str(previous.get("rating_key")) == item.rating_key else {}
    plan = plan_edits(item, snapshot, cfg, ours or None)
    warnings = [found.warning] if found.warning else []
    if plan.preserved:
        log.debug("scene %s: kept Plex edits of %s", snapshot.get("id"), ", ".join(plan.preserved))
    written, cut = plan.written, plan.cut
    if plan.params and not dry_run:
        delivery = client.put_edits(item.section_id, item.rating_key, plan.params)
        if delivery.cut:
            written, cut = record_cuts(plan, delivery.cut)
            warnings.append(_cut_warning(snapshot, plan, delivery.cut))
    image_changes, images = _sync_images(client, cfg, snapshot, ours, item.rating_key,
                                         fetch_image, dry_run, warnings)
    changes = plan.changes + image_changes
    new_record = dict(previous) if dry_run else {
        "scene_id": snapshot.get("id"), "rating_key": item.rating_key,
        "section_id": item.section_id, "stash_updated_at": snapshot.get("updated_at"),
        "synced_at": time.time(), "written": written, **({"cut": cut} if cut else {}),
        **images}
    return SyncResult(item.rating_key, item.section_id, found.confidence, changes,
                      describe(changes), new_record, tuple(warnings))


def _cut_warning(snapshot: dict, plan, cut: dict) -> str:
    """One line for the log: which field was cut, and what the user can do about it."""
    what = []
    for plex_name, sent in cut.items():
        if isinstance(sent, str):
            whole = next((v for k, v in plan.params.items() if k == f"{plex_name}.value"), "")
            what.append(f"{plex_name}: first {len(sent.rstrip('…'))} of {len(str(whole))} "
                        "characters")
        elif isinstance(sent, list):
            what.append(f"{plex_name}: first {len(sent)} names")
    return (f"scene {snapshot.get('id')}: Plex (or a proxy in front of it) refuses URLs this "
            f"long, and one field did not fit even alone, so only its beginning was sent "
            f"({'; '.join(what)}). Raise the proxy's URL limit (nginx: "
            "large_client_header_buffers) or point the Plex URL setting (plex_url) at Plex "
            "directly to sync it whole")


def _holds(item: ItemState, paths: list[str]) -> bool:
    wanted = {path_key(p) for p in paths}
    return any(path_key(f) in wanted for f in item.files)


def _fetch_or_none(client, index: PathIndex, rating_key: str) -> ItemState | None:
    try:
        return client.fetch_item(rating_key)
    except ItemNotFound:  # deleted in Plex (404)
        index.forget_item(rating_key)
        return None


def _locate(client, index, cfg, snapshot, previous, may_scan) -> tuple[Match, ItemState]:
    """The scene's item, fully reloaded; a cached or indexed match is verified by its files."""
    paths = plex_paths(snapshot, cfg)
    if previous.get("rating_key"):
        item = _fetch_or_none(client, index, str(previous["rating_key"]))
        if item is not None and _holds(item, paths):
            return Match("HIGH", item.rating_key, item.section_id), item
        if item is not None:  # the file moved away from the cached item: fix the index
            index.correct_item(item)
    for _ in range(2):  # the second round runs only when the index pointed at a stale item
        found = _match_or_scan(client, index, cfg, snapshot, paths, may_scan)
        item = _fetch_or_none(client, index, found.rating_key)
        if item is not None and (found.confidence == "LOW" or _holds(item, paths)):
            return found, item
        if item is not None:
            index.correct_item(item)
    raise ItemNotFound(f"Plex items keep changing under {paths[0]}; will retry")


def _match_or_scan(client, index, cfg, snapshot, paths, may_scan) -> Match:
    try:
        return match(client, index, cfg, snapshot)
    except ItemNotFound as exc:
        if not may_scan:
            raise
        target = _scan_target(index, paths)
        if target is None:
            raise ItemNotFound(f"{exc}; no Plex library folder contains it, so no scan was "
                               f"requested (check the {setting_label('path_map')} and "
                               f"{setting_label('plex_libraries')} settings)") from None
        client.scan_path(*target)
        raise ItemNotFound(f"{exc}; asked Plex to scan {target[1]}", scan_requested=True) from None


def _scan_target(index: PathIndex, paths: list[str]) -> tuple[str, str] | None:
    """(section, folder) of the first file that lies inside a library folder."""
    for path in paths:
        for section in index.sections():
            if any(is_under(path, location) for location in section["locations"]):
                return section["id"], parent_folder(path)
    return None


def _sync_images(client, cfg, snapshot, ours, rating_key, fetch_image, dry_run, warnings):
    """Upload the cover as poster/background only when its bytes changed (sha1)."""
    record = {f"{kind}_sha1": ours.get(f"{kind}_sha1") for kind, _, _ in _IMAGES}
    record["cover_url"] = ours.get("cover_url")
    record["cover_fetched_at"] = ours.get("cover_fetched_at")
    cover = snapshot.get("cover_url")
    # Fetched (from Stash, never Plex) and compared by sha1 unless the last fetch was in a
    # later second than the URL's ?t= (plex.cover_freshness): a cover replaced within the
    # second of the last sync keeps its URL, so the URL alone never decides.
    todo = [(kind, word) for kind, toggle, word in _IMAGES if getattr(cfg, toggle)]
    if not cover or not todo:
        return (), record
    # A cover still owed (Stash did not serve it last time) is fetched, whatever its URL says.
    if not ours.get("cover_owed") and cover_still_current(cover, ours, [kind for kind, _ in todo]):
        record["cover_url"] = cover
        return (), record
    if dry_run:  # no fetch: a changed URL (or a cover still owed) means it may have changed
        if cover == ours.get("cover_url") and not ours.get("cover_owed") and \
                all(ours.get(f"{kind}_sha1") for kind, _ in todo):
            return (), record
        return tuple(FieldChange(word, ours.get("cover_url"), cover) for _, word in todo), record
    fetch_started = time.time()
    try:
        data = fetch_image(cover)
    except Exception as exc:  # noqa: BLE001 - any fetch failure is a warning, never a failed job
        # Owed: the next drain and Sync All retry it. A fetcher that already said why (once
        # per drain, e.g. Stash's login expired) marks the error `said`.
        if not getattr(exc, "said", False):
            warnings.append(f"scene {snapshot.get('id')}: could not fetch the cover from Stash "
                            f"({scrub(str(exc))}); metadata was synced, the cover is retried "
                            "by the next sync (next edit, Process Queue or Sync All)")
        record["cover_owed"] = True
        return (), record
    if not data:  # the scene has no cover: Stash's placeholder is not worth a poster
        # Not recorded as fetched, so a placeholder is never taken for the current cover; and
        # awaited (sync_queue.awaited_covers): Stash may generate one later in a job that
        # fires no hook, which worker.cover_watch notices.
        record["cover_placeholder"] = True
        return (), record
    sha1 = hashlib.sha1(data).hexdigest()
    changes = []
    for kind, word in todo:
        if sha1 != ours.get(f"{kind}_sha1"):
            client.upload_image(rating_key, kind, data)
            changes.append(FieldChange(word, ours.get(f"{kind}_sha1"), sha1))
        record[f"{kind}_sha1"] = sha1
    record["cover_url"] = cover
    record["cover_fetched_at"] = fetch_started
    return tuple(changes), record
