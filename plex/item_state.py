"""What a Plex item holds now, read from ONE full reload (GET /library/metadata/{ratingKey}).

Read from the raw XML on purpose: plexapi objects reload themselves silently when an empty
attribute is touched, and list views truncate tags; the diff must see the complete item once.
"""
from __future__ import annotations

from dataclasses import dataclass
from xml.etree.ElementTree import Element


@dataclass(frozen=True)
class Actor:
    name: str
    thumb: str = ""


@dataclass(frozen=True)
class ItemState:
    rating_key: str
    section_id: str
    title: str = ""
    summary: str = ""
    studio: str = ""
    date: str = ""  # originallyAvailableAt, YYYY-MM-DD or ""
    genres: tuple[str, ...] = ()
    actors: tuple[Actor, ...] = ()
    collections: tuple[str, ...] = ()
    files: tuple[str, ...] = ()  # every Media/Part file, as Plex spells it
    locked: frozenset[str] = frozenset()  # fields a person or PlexSync locked
    updated_at: int = 0

    @classmethod
    def from_xml(cls, container: Element) -> "ItemState":
        """Build from the MediaContainer of a full metadata reload (first Video element)."""
        video = container.find("Video") if container.tag == "MediaContainer" else container
        if video is None:
            raise ValueError("Plex answered without a Video element")
        get = video.attrib.get
        section = get("librarySectionID") or container.attrib.get("librarySectionID", "")
        return cls(
            rating_key=get("ratingKey", ""),
            section_id=str(section),
            title=get("title", ""),
            summary=get("summary", ""),
            studio=get("studio", ""),
            date=(get("originallyAvailableAt") or "")[:10],
            genres=_tags(video, "Genre"),
            actors=tuple(Actor(r.attrib.get("tag", ""), r.attrib.get("thumb", ""))
                         for r in video.findall("Role")),
            collections=_tags(video, "Collection"),
            files=tuple(p.attrib["file"] for p in video.iterfind("Media/Part")
                        if p.attrib.get("file")),
            locked=frozenset(f.attrib.get("name", "") for f in video.findall("Field")
                             if f.attrib.get("locked") == "1"),
            updated_at=int(get("updatedAt") or 0),
        )


def _tags(video: Element, tag: str) -> tuple[str, ...]:
    return tuple(e.attrib.get("tag", "") for e in video.findall(tag) if e.attrib.get("tag"))
