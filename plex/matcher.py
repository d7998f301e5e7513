"""Which Plex item is this Stash scene? Identity is the file path, never the title.

Every file of the scene (primary first) goes through path_map and is looked up in the PathIndex:
exactly one item -> HIGH. Several items (a duplicate in two libraries, or the scene's files
spread over different items) -> LOW with every candidate. No item has the path -> the index is
refreshed once. A path inside a library folder is then simply not imported yet: ItemNotFound
(the caller asks Plex to scan and retries), never a guess, or a new `new/video.mp4` would take
over an old `old/video.mp4`. Before that verdict, the sections holding the path are re-read in
full (a renamed file keeps its item and its updatedAt, so the incremental refresh cannot see
it), at most once per section every few minutes. Only a path outside every library folder (a
wrong or missing path_map) gets the fallbacks: file NAMES against every indexed file (no
request), then Plex's items with exactly the scene's title (one request per library) -> LOW.
Under strict_matching a LOW match raises AmbiguousMatch; otherwise the best candidate (the
one holding the primary file, else the first title match) is used.
"""
from __future__ import annotations

from dataclasses import dataclass

from plex.errors import AmbiguousMatch, ItemNotFound
from plex.index import Entry, PathIndex
from plex.paths import is_under, map_path, path_key
from validation.config import Config, setting_label


@dataclass(frozen=True)
class Match:
    confidence: str  # "HIGH" | "LOW"
    rating_key: str
    section_id: str
    candidates: tuple[dict, ...] = ()
    warning: str = ""


def plex_paths(snapshot: dict, cfg: Config) -> list[str]:
    """The scene's files as Plex sees them (primary first), through path_map."""
    return [map_path(f, cfg.path_map) for f in snapshot.get("files") or [] if f]


def candidate(entry: Entry) -> dict:
    return {"title": entry.title, "rating_key": entry.rating_key, "file": entry.file}


def _distinct_items(entries: list[Entry]) -> list[Entry]:
    seen, items = set(), []
    for entry in entries:
        if (entry.section_id, entry.rating_key) not in seen:
            seen.add((entry.section_id, entry.rating_key))
            items.append(entry)
    return items


def _by_path(index: PathIndex, paths: list[str]) -> list[Entry]:
    return [entry for path in paths for entry in index.lookup(path)]


def match(client, index: PathIndex, cfg: Config, snapshot: dict) -> Match:
    """Find the scene's Plex item; raises ItemNotFound or (strict) AmbiguousMatch."""
    paths = plex_paths(snapshot, cfg)
    if not paths:
        raise ItemNotFound(f"scene {snapshot.get('id')} has no file in Stash to match in Plex")
    index.ensure(client, cfg)
    entries = _by_path(index, paths)
    if not entries:  # Plex may have added the file since the index was last refreshed
        index.refresh(client, cfg)
        entries = _by_path(index, paths)
    # A renamed file keeps its item AND its updatedAt in Plex: only a full re-read of the
    # section finds its new path (bounded per section, see FULL_REREAD_EVERY).
    if not entries and index.reread_sections_holding(client, paths):
        entries = _by_path(index, paths)
    if len(_distinct_items(entries)) > 1:
        # Several items by the index: ask Plex about each now. A person who removed the
        # duplicate in Plex to fix an ambiguous match (then pressed Retry) must be seen.
        entries = _still_holding(client, index, entries, paths)
    by_path = bool(entries)
    if by_path:
        why = "several Plex items hold this scene's files"
    elif _inside_a_library(index, paths):
        raise ItemNotFound(f"no Plex item has the file {paths[0]} (mapped from "
                           f"{snapshot['files'][0]}) yet; it lies in a Plex library folder",
                           path=paths[0])
    else:
        entries = [e for path in paths for e in index.lookup_basename(path)]
        why = f"no Plex item has the file {paths[0]}; found only by file name (check the Path map setting)"
        if not entries:
            entries = _by_title(client, index, snapshot.get("title") or "")
            why = f"no Plex item has the file {paths[0]}; found only by title"
    items = _distinct_items(entries)
    if not items:
        raise ItemNotFound(f"no Plex item has the file {paths[0]} (mapped from "
                           f"{snapshot['files'][0]}) in the libraries PlexSync matches in",
                           path=paths[0])
    best = items[0]  # entries come primary file first
    if by_path and len(items) == 1:
        return Match("HIGH", best.rating_key, best.section_id, (candidate(best),))
    candidates = tuple(candidate(e) for e in _distinct_files(entries))
    if cfg.strict_matching:
        raise AmbiguousMatch(list(candidates), why)
    listed = ", ".join(f"'{c['title']}' ({c['rating_key']})" for c in candidates)
    warning = (f"scene {snapshot.get('id')}: low-confidence match ({why}); wrote Plex item "
               f"'{best.title}' (ratingKey {best.rating_key}) of candidates {listed}. Turn on "
               f"{setting_label('strict_matching')} to list such scenes under Failed Syncs instead")
    return Match("LOW", best.rating_key, best.section_id, candidates, warning)


def _still_holding(client, index: PathIndex, entries: list[Entry], paths: list[str]) -> list[Entry]:
    """The entries whose item Plex still has with one of `paths` (one GET per item; only for
    an ambiguous match); the index forgets or corrects the others."""
    wanted = {path_key(p) for p in paths}
    gone = set()
    for entry in _distinct_items(entries):
        try:
            item = client.fetch_item(entry.rating_key)
        except ItemNotFound:
            index.forget_item(entry.rating_key)
            gone.add(entry.rating_key)
            continue
        if not wanted & {path_key(f) for f in item.files}:
            index.correct_item(item)
            gone.add(entry.rating_key)
    return [e for e in entries if e.rating_key not in gone]


def _inside_a_library(index: PathIndex, paths: list[str]) -> bool:
    return any(is_under(path, location) for path in paths for section in index.sections()
               for location in section["locations"])


def _by_title(client, index: PathIndex, title: str) -> list[Entry]:
    """Items whose title equals the scene's (Plex's title filter matches substrings)."""
    if not title:
        return []
    found = []
    for section in index.sections():
        root = client.query_xml(f"/library/sections/{section['id']}/all", {"type": 1, "title": title})
        for video in root.findall("Video"):  # library items only, not nested extras
            if (video.get("title") or "").casefold() == title.casefold():
                part = video.find("Media/Part")
                found.append(Entry(section["id"], video.get("ratingKey"), video.get("title"),
                                   part.get("file", "") if part is not None else ""))
    return found


def _distinct_files(entries: list[Entry]) -> list[Entry]:
    seen, out = set(), []
    for entry in entries:
        key = (entry.section_id, entry.rating_key, entry.file)
        if key not in seen:
            seen.add(key)
            out.append(entry)
    return out
