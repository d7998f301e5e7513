"""XML documents the Plex emulator serves, shaped like Plex Media Server's own.

Built as strings, not ElementTree: serving 50,000 items must stay cheap. Attribute values are
escaped like PMS does (newlines as `&#10;` so they survive attribute normalisation); control
characters XML 1.0 forbids (e.g. `\x04` in a title) are sent RAW, as real PMS sends them
(python-plexapi issue 1450: plexapi strips them before parsing). Only lone surrogates, which
cannot be encoded at all, are dropped.
"""
from __future__ import annotations

import re
from urllib.parse import quote

from tests.emulators.plex_model import TAG_KINDS, Item, Section
from tests.emulators.plex_state import PlexState

VERSION = "1.41.3.9314-a0bfb8370"
_IDENT = 'identifier="com.plexapp.plugins.library" mediaTagPrefix="/system/bundle/media/flags/"'
# A list view (`/all`) carries only the first few tags of some kinds, like PMS does; code that
# edits tags of a list object without reload() then loses the rest.
LIST_VIEW_TAGS = {"genre": 2, "director": 1, "writer": 1, "country": 2, "actor": 3}
# `excludeFields` as PMS honours it: only these attributes can be left out (summary and tagline
# of an item, file of a Part; WebTools-NG issue 71 lists them, plexapi's _EXCLUDES sends the
# first two). PMS ignores any other name there, and so does the emulator.
EXCLUDABLE_FIELDS = frozenset({"summary", "tagline", "file"})

_SPECIAL = re.compile('[&<>"\x00-\x1f\ud800-\udfff\ufffe\uffff]')
_INVALID = re.compile('[\ud800-\udfff]')


def esc(value) -> str:
    text = str(value)
    if _SPECIAL.search(text) is None:
        return text
    text = _INVALID.sub("", text)
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("\n", "&#10;").replace("\r", "&#13;")
            .replace("\t", "&#9;"))


def attrs(pairs) -> str:
    return " ".join(f'{k}="{esc(v)}"' for k, v in pairs if v is not None and v != "")


def container(inner: str = "", **attributes) -> str:
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<MediaContainer {attrs(attributes.items())}>{inner}</MediaContainer>")


def server_root(machine_id: str, friendly_name: str, updated_at: int) -> str:
    dirs = "".join(f'<Directory count="1" key="{k}" title="{k}"/>' for k in ("library", "system"))
    return container(dirs, size=2, allowCameraUpload=0, allowSync=1, friendlyName=friendly_name,
                     machineIdentifier=machine_id, multiuser=1, myPlex=0, platform="Linux",
                     platformVersion="emulator", transcoderVideo=1, updatedAt=updated_at,
                     version=VERSION)


def identity(machine_id: str) -> str:
    return container(size=0, claimed=0, machineIdentifier=machine_id, version=VERSION)


def library_root() -> str:
    dirs = ('<Directory key="sections" title="Library Sections"/>'
            '<Directory key="recentlyAdded" title="Recently Added Content"/>'
            '<Directory key="onDeck" title="On Deck Content"/>')
    return container(dirs, size=3, allowSync=0, identifier="com.plexapp.plugins.library",
                     title1="Plex Library", title2="")


def sections(items: list[Section]) -> str:
    parts = []
    for s in items:
        locs = "".join(f'<Location id="{s.key * 100 + i}" path="{esc(p)}"/>'
                       for i, p in enumerate(s.locations))
        fields = attrs([("allowSync", 1), ("key", s.key), ("type", s.type), ("title", s.title),
                        ("agent", s.agent), ("scanner", s.scanner), ("language", "xn"),
                        ("uuid", s.uuid), ("createdAt", s.created_at),
                        ("updatedAt", s.created_at), ("refreshing", 0), ("filters", 1),
                        ("content", 1), ("directory", 1)])
        parts.append(f"<Directory {fields}>{locs}</Directory>")
    return container("".join(parts), size=len(items), allowSync=0, title1="Plex Library")


def section_items(state: PlexState, section: Section, page: list[Item], offset: int,
                  total: int, meta: bool, exclude_elements=frozenset(),
                  exclude_fields=frozenset(), guids: bool = False) -> str:
    """`guids`: the listing's includeGuids=1 (PMS lists an item's <Guid>s only when asked)."""
    exclude_fields = EXCLUDABLE_FIELDS & exclude_fields
    if not guids:
        exclude_elements = exclude_elements | {"Guid"}
    body = "".join(video(state, item, False, exclude_elements, exclude_fields) for item in page)
    if meta:
        body = _meta(section) + body
    return container(body, size=len(page), totalSize=total, offset=offset, allowSync=1,
                     identifier="com.plexapp.plugins.library",
                     librarySectionID=section.key, librarySectionTitle=section.title,
                     librarySectionUUID=section.uuid, title1=section.title,
                     title2="All Movies", viewGroup=section.type)


def metadata(state: PlexState, items: list[Item], offset: int, total: int,
             exclude_elements=frozenset(), exclude_fields=frozenset()) -> str:
    exclude_fields = EXCLUDABLE_FIELDS & exclude_fields
    body = "".join(video(state, i, True, exclude_elements, exclude_fields) for i in items)
    section_ids = {i.section_id for i in items}
    extra = {}
    if len(section_ids) == 1:
        section = state.sections[section_ids.pop()]
        extra = dict(librarySectionID=section.key, librarySectionTitle=section.title,
                     librarySectionUUID=section.uuid)
    return container(body, size=len(items), totalSize=total, offset=offset, allowSync=1,
                     identifier="com.plexapp.plugins.library", **extra)


_TEXT_ATTRS = ("studio", "title", "titleSort", "originalTitle", "editionTitle",
               "contentRating", "summary", "tagline")
_NUMBER_ATTRS = ("rating", "audienceRating", "userRating", "year")


def video(state: PlexState, item: Item, full: bool, exclude_elements=frozenset(),
          exclude_fields=frozenset()) -> str:
    """One `<Video>`; hand-unrolled because a 50,000-item listing renders it 50,000 times.
    `exclude_elements` drops those child elements (`Media` takes its Parts along; without
    `Part` the Media says `partCount`, as PMS does); `exclude_fields`, already cut to
    EXCLUDABLE_FIELDS by the caller, those attributes."""
    a, rk, dur = item.attrs, item.rating_key, item.duration
    out = [f'<Video ratingKey="{rk}" key="/library/metadata/{rk}" guid="local://{rk}"'
           f' type="movie"']
    if full:
        s = state.sections[item.section_id]
        out.append(f' librarySectionID="{s.key}" librarySectionTitle="{esc(s.title)}"'
                   f' librarySectionKey="/library/sections/{s.key}"')
    for k in _TEXT_ATTRS:
        v = a.get(k)
        if v and k not in exclude_fields:
            out.append(f' {k}="{esc(v)}"')
    for k in _NUMBER_ATTRS:
        v = a.get(k)
        if v is not None:
            out.append(f' {k}="{v}"')
    if item.thumb:
        out.append(f' thumb="{esc(item.thumb)}"')
    if item.art:
        out.append(f' art="{esc(item.art)}"')
    if dur:
        out.append(f' duration="{dur}"')
    extras = item.extras
    if a.get("originallyAvailableAt"):
        out.append(f' originallyAvailableAt="{a["originallyAvailableAt"]}"')
    # Viewing state, as PMS renders it for the token's account: absent when never played.
    if item.view_count:
        out.append(f' viewCount="{item.view_count}"')
    if item.last_viewed_at:
        out.append(f' lastViewedAt="{item.last_viewed_at}"')
    if item.view_offset:
        out.append(f' viewOffset="{item.view_offset}"')
    if item.last_rated_at:
        out.append(f' lastRatedAt="{item.last_rated_at}"')
    out.append(f' addedAt="{item.added_at}" updatedAt="{item.updated_at}">')
    if "Media" not in exclude_elements:
        out.extend(_media(item, exclude_elements, exclude_fields))
    if item.guids and "Guid" not in exclude_elements:
        out.extend(f'<Guid id="{esc(g)}"/>' for g in item.guids)
    thumbs = state.tag_thumbs
    for kind, names in item.tags.items():
        element = TAG_KINDS[kind][1]
        if not names or element in exclude_elements:
            continue
        if not full:                       # list views: a few names, nothing else
            out.extend(f'<{element} tag="{esc(n)}"/>' for n in names[:LIST_VIEW_TAGS.get(kind, 0)])
            continue
        for name in names:
            tid = state.tag_id(kind, name)
            extra = ""
            if kind == "actor" and item.roles.get(name):
                extra = f' role="{esc(item.roles[name])}"'
            thumb = thumbs.get((kind, name)) if thumbs else None
            if thumb:
                extra += f' thumb="{esc(thumb)}"'
            out.append(f'<{element} id="{tid}" filter="{kind}={tid}" tag="{esc(name)}"{extra}/>')
    if extras:  # trailers and clips: nested <Video>s that are not library items
        out.append(f'<Extras size="{len(extras)}">')
        for n, extra in enumerate(extras):
            xk = 900_000 + rk * 100 + n
            out.append(f'<Video ratingKey="{xk}" key="/library/metadata/{xk}" type="clip"'
                       f' subtype="trailer" extraType="1" title="{esc(extra["title"])}"'
                       f' addedAt="{item.added_at}" updatedAt="{item.updated_at}"><Media'
                       f' id="{xk}"><Part id="{xk}" file="{esc(extra["file"])}"/></Media>'
                       f'</Video>')
        out.append("</Extras>")
    if full and "Field" not in exclude_elements:
        out.extend(f'<Field locked="1" name="{name}"/>' for name in sorted(item.locks))
    out.append("</Video>")
    return "".join(out)


def _media(item: Item, exclude_elements, exclude_fields) -> list[str]:
    out, dur = [], item.duration
    without_parts, without_file = "Part" in exclude_elements, "file" in exclude_fields
    for p in item.parts:
        ext = esc(p.file.rsplit(".", 1)[-1].lower()) if "." in p.file else "mkv"
        media = (f'<Media id="{p.media_id}" duration="{dur}" container="{ext}"'
                 f' videoResolution="1080"')
        if without_parts:
            out.append(f"{media} partCount=\"1\"/>")
            continue
        file = "" if without_file else f' file="{esc(p.file)}"'
        out.append(f'{media}><Part id="{p.part_id}" key="/library/parts/{p.part_id}/'
                   f'{item.added_at}/file.{ext}" duration="{dur}"{file} size="{p.size}"'
                   f' container="{ext}"/></Media>')
    return out


def images(item: Item, kind: str) -> str:
    rk = item.rating_key
    body = []
    for image in item.images[kind]:
        key = f"/library/metadata/{rk}/file?url={quote(image.uri, safe='')}"
        selected = 1 if image.uri == item.selected[kind] else 0
        fields = attrs([("key", key), ("ratingKey", image.uri), ("selected", selected),
                        ("thumb", key)])
        body.append(f"<Photo {fields}/>")
    return container("".join(body), size=len(body), identifier="com.plexapp.plugins.library")


def _meta(section: Section) -> str:
    """The `includeMeta=1` block plexapi reads to validate `sort=` before it sends it."""
    sorts = "".join(f'<Sort default="{d}" defaultDirection="{d}" descKey="{k}:desc" key="{k}" '
                    f'title="{k}"/>' for k, d in (("titleSort", "asc"), ("addedAt", "desc"),
                                                 ("updatedAt", "desc"), ("year", "desc"),
                                                 ("originallyAvailableAt", "desc"),
                                                 ("rating", "desc"), ("duration", "desc")))
    return (f'<Meta><Type key="/library/sections/{section.key}/all?type=1" type="movie" '
            f'title="Movies" active="1">{sorts}</Type>'
            f'<FieldType type="string"><Operator key="=" title="is"/></FieldType></Meta>')


def error_page(status: int, reason: str, detail: str = "") -> str:
    """PMS answers errors with a small HTML page, not XML."""
    text = f"<p>{esc(detail)}</p>" if detail else ""
    return (f"<html><head><title>{reason}</title></head><body><h1>{status} {reason}</h1>"
            f"{text}</body></html>")
