"""The pure diff: (Plex item now, Stash snapshot, config, what PlexSync last wrote) -> ONE PUT.

No I/O here, so every rule is a row in a value table (tests/plex/test_plex_edits.py):
- Lists mirror Stash: what Stash removed is removed in Plex. Tag lists are compared
  case-insensitively because Plex stores one tag per name whatever its case.
- Collections PlexSync never wrote (absent from previous["written"]["collections"]) are kept.
- preserve_plex_edits: a field whose Plex value differs from what PlexSync last wrote was edited
  by a person in Plex and is left alone (three-way merge). Without a record of ours, a field
  locked in Plex counts as a person's edit. Without the option, Stash wins.
- Everything written is locked, so Plex's agents do not overwrite it on the next refresh.
- A field a proxy's URL limit made PlexSync cut (plex/edit_split.py) is recorded with a
  fingerprint of the whole value; while Stash's value is unchanged and Plex still shows what
  was sent, the field counts as in sync (no re-send, no repeated warning, and under
  preserve_plex_edits the cut text is not mistaken for a person's edit).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from plex.item_state import ItemState
from validation.config import Config
from validation.sanitize import strip_credentials

# Our field name -> (Plex edit name, config toggle)
SCALARS = {"title": ("title", "sync_title"), "summary": ("summary", "sync_summary"),
           "studio": ("studio", "sync_studio"), "date": ("originallyAvailableAt", "sync_date")}
LISTS = {"genres": ("genre", "sync_tags"), "actors": ("actor", "sync_performers"),
         "collections": ("collection", "sync_collections")}
PLEX_TO_OURS = {plex: ours for ours, (plex, _) in {**SCALARS, **LISTS}.items()}


@dataclass(frozen=True)
class FieldChange:
    field: str
    old: object
    new: object


@dataclass(frozen=True)
class EditPlan:
    params: dict  # query parameters of the one PUT (without type/id); {} = nothing to write
    changes: tuple[FieldChange, ...]
    written: dict  # the new record["written"]
    preserved: tuple[str, ...] = field(default=())  # fields kept because a person edited them
    sent: dict = field(default_factory=dict)  # our field -> the whole value the PUT carries
    cut: dict = field(default_factory=dict)  # our field -> fingerprint of a value sent cut


def _unique(names) -> list[str]:
    seen, out = set(), []
    for name in names:
        name = (name or "").strip()
        if name and name.casefold() not in seen:
            seen.add(name.casefold())
            out.append(name)
    return out


def actor_photo(image_url: str | None, stash_url_for_plex: str) -> str:
    """The performer image as PLEX must fetch it: Stash's path on the address Plex reaches
    Stash at (the plugin's own address, often 127.0.0.1, means Plex's machine, not Stash's).
    No address set, or only Stash's placeholder (default=true): no photo, never a dead URL.
    Credentials never travel: Plex stores the URL and hands it to every client."""
    url = strip_credentials(image_url)
    if not url or not stash_url_for_plex:
        return ""
    parts = urlsplit(url)
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    if ("default", "true") in pairs:
        return ""
    query = f"?{urlencode(pairs)}" if pairs else ""
    return f"{stash_url_for_plex.rstrip('/')}{parts.path}{query}"


def desired_values(snapshot: dict, cfg: Config) -> dict:
    """What Stash wants in Plex, per field (actors as (name, thumb) pairs in Stash order)."""
    thumbs = {}
    for performer in snapshot.get("performers") or []:
        thumbs.setdefault((performer.get("name") or "").strip().casefold(),
                          actor_photo(performer.get("image_url"), cfg.stash_url_for_plex))
    actor_names = _unique(p.get("name") for p in snapshot.get("performers") or [])
    return {
        "title": (snapshot.get("title") or "").strip(),
        "summary": snapshot.get("details") or "",
        "studio": snapshot.get("studio") or "",
        "date": snapshot.get("date") or "",
        "genres": _unique(snapshot.get("tags") or [])[: cfg.max_tags],
        "actors": [(name, thumbs.get(name.casefold(), "")) for name in actor_names],
        "collections": _unique([snapshot.get("studio"), snapshot.get("parent_studio"),
                                *(snapshot.get("groups") or [])]),
    }


def _folded(names) -> list[str]:
    return [n.casefold() for n in names]


def _current(item: ItemState, name: str):
    if name == "actors":
        return [(a.name, a.thumb) for a in item.actors]
    return list(getattr(item, name)) if name in LISTS else getattr(item, name)


def _same(name: str, plex_value, wanted, written_thumbs: dict) -> bool:
    if name == "actors":
        if _folded(n for n, _ in plex_value) != _folded(n for n, _ in wanted):
            return False
        # A thumb counts as unchanged when Plex shows it OR it is what PlexSync last sent
        # (Plex may rewrite thumb URLs it stores; that must not cause a rewrite every sync).
        plex_thumbs = {n.casefold(): t for n, t in plex_value}
        return all(not t or t in (plex_thumbs.get(n.casefold()), written_thumbs.get(n.casefold()))
                   for n, t in wanted)
    if name in LISTS:
        return set(_folded(plex_value)) == set(_folded(wanted))
    return (plex_value or "").strip() == (wanted or "").strip()


def _edited_in_plex(name: str, item: ItemState, written: dict) -> bool:
    """Three-way merge: did a person change this field in Plex since PlexSync last wrote it?"""
    plex_name = (SCALARS.get(name) or LISTS[name])[0]
    if name not in written:
        return plex_name in item.locked
    current = _current(item, name)
    if name == "actors":
        return _folded(n for n, _ in current) != _folded(written[name])
    if name == "collections":  # foreign collections may be added; ours must all still be there
        return not set(_folded(written[name])) <= set(_folded(current))
    return not _same(name, current, written[name], {})


def _list_params(tag: str, names: list, current: list, thumbs: list | None) -> dict:
    params: dict = {f"{tag}.locked": 1}
    if not names:
        # An indexed list cannot say "empty"; remove every current tag instead. Each name is
        # quoted once here and again when the query is built, so commas and quotes survive.
        params[f"{tag}[].tag.tag-"] = ",".join(quote(n) for n in current)
        return params
    for i, name in enumerate(names):
        params[f"{tag}[{i}].tag.tag"] = name
        if thumbs and thumbs[i]:
            params[f"{tag}[{i}].tag.thumb"] = thumbs[i]
    return params


def plan_edits(item: ItemState, snapshot: dict, cfg: Config, previous: dict | None) -> EditPlan:
    """Compute the single PUT that makes `item` mirror `snapshot`, and the record to store."""
    written_before = dict((previous or {}).get("written") or {})
    written_thumbs = dict(zip(_folded(written_before.get("actors") or []),
                              written_before.get("actor_thumbs") or []))
    wanted_all = desired_values(snapshot, cfg)
    params, changes, preserved = {}, [], []
    written = dict(written_before)
    cut = dict((previous or {}).get("cut") or {})
    sent = {}
    for name in (*SCALARS, *LISTS):
        plex_name, toggle = (SCALARS.get(name) or LISTS[name])
        wanted, current = wanted_all[name], _current(item, name)
        if not getattr(cfg, toggle) or (name == "title" and not wanted):
            continue  # switched off; an empty Stash title never blanks Plex's title
        if cfg.preserve_plex_edits and _edited_in_plex(name, item, written_before):
            preserved.append(name)
            continue
        ours = wanted
        if name == "collections":  # keep collections PlexSync never wrote
            ours_before = set(_folded(written_before.get("collections") or []))
            foreign = [c for c in current if c.casefold() not in ours_before]
            wanted = _unique([*foreign, *wanted])
        if name == "actors":
            written["actors"] = [n for n, _ in ours]
            written["actor_thumbs"] = [t for _, t in ours]
        else:
            written[name] = ours
        if _same(name, current, wanted, written_thumbs):
            cut.pop(name, None)
            continue
        if cut.get(name) == fingerprint(wanted) and name in written_before and _same(
                name, current, _as_sent(name, written_before), {}):
            written[name] = written_before[name]  # still the cut value Plex holds
            if name == "actors":
                written["actor_thumbs"] = written_before.get("actor_thumbs") or []
            continue
        cut.pop(name, None)
        sent[name] = wanted
        if name in SCALARS:
            params.update({f"{plex_name}.value": wanted, f"{plex_name}.locked": 1})
            changes.append(FieldChange(name, current, wanted))
        elif name == "actors":
            params.update(_list_params(plex_name, [n for n, _ in wanted],
                                       [n for n, _ in current], [t for _, t in wanted]))
            changes.append(FieldChange(name, [n for n, _ in current], [n for n, _ in wanted]))
        else:
            params.update(_list_params(plex_name, wanted, current, None))
            changes.append(FieldChange(name, current, wanted))
    return EditPlan(params, tuple(changes), written, tuple(preserved), sent, cut)


def fingerprint(value) -> str:
    """A short stable digest of a field's whole value (what a cut record remembers)."""
    return hashlib.sha1(json.dumps(value, ensure_ascii=False).encode()).hexdigest()[:16]


def _as_sent(name: str, written: dict):
    if name == "actors":
        return list(zip(written.get("actors") or [], written.get("actor_thumbs") or []))
    return written.get(name)


def record_cuts(plan: EditPlan, cut: dict) -> tuple[dict, dict]:
    """(written, cut fingerprints) to store after edit_split had to cut fields: what Plex now
    holds is the beginning that was sent, and the fingerprint says of which whole value."""
    written, marks = dict(plan.written), dict(plan.cut)
    for plex_name, sent in cut.items():
        name = PLEX_TO_OURS.get(plex_name)
        if name is None or sent is None:  # a removal list split into several PUTs: all sent
            continue
        marks[name] = fingerprint(plan.sent[name])
        if name in SCALARS:
            written[name] = sent
            continue
        kept = {n.casefold() for n in sent}
        if name == "actors":
            pairs = [(n, t) for n, t in zip(written["actors"], written["actor_thumbs"])
                     if n.casefold() in kept]
            written["actors"] = [n for n, _ in pairs]
            written["actor_thumbs"] = [t for _, t in pairs]
        else:
            written[name] = [n for n in written[name] if n.casefold() in kept]
    return written, marks


def describe(changes) -> str:
    """'title, genres +2 −1, actors +1, poster' ('' when nothing changed)."""
    words = []
    for change in changes:
        if isinstance(change.old, list) and isinstance(change.new, list):
            old, new = set(_folded(change.old)), set(_folded(change.new))
            counts = [f"+{len(new - old)}"] if new - old else []
            counts += [f"−{len(old - new)}"] if old - new else []
            words.append(" ".join([change.field, *counts]))
        else:
            words.append(change.field)
    return ", ".join(words)
