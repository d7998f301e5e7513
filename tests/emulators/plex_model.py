"""Plain-data model of the Plex emulator's library: what a section, item, part and image are.

Kept free of behaviour (that is plex_state.py) so 50,000 items are cheap dataclasses.
"""
from __future__ import annotations

from dataclasses import dataclass, field

# Tag kinds of a movie, by the name Plex's edit API uses (`genre[0].tag.tag`), with the plural
# used in `add_item(...)` / `item(...)` and the XML element name Plex renders.
TAG_KINDS = {
    "genre": ("genres", "Genre"),
    "actor": ("actors", "Role"),
    "collection": ("collections", "Collection"),
    "label": ("labels", "Label"),
    "director": ("directors", "Director"),
    "writer": ("writers", "Writer"),
    "producer": ("producers", "Producer"),
    "country": ("countries", "Country"),
}
PLURAL_TO_KIND = {plural: kind for kind, (plural, _) in TAG_KINDS.items()}

# Scalar metadata fields editable with `<name>.value`, and how their values are typed.
SCALAR_FIELDS = {
    "title": "str", "titleSort": "str", "originalTitle": "str", "summary": "str",
    "tagline": "str", "studio": "str", "contentRating": "str", "editionTitle": "str",
    "originallyAvailableAt": "date", "year": "int",
    "rating": "float", "audienceRating": "float", "userRating": "float",
}

# Sort keys of `/all?sort=`; the second value is the direction Plex uses when none is given.
SORTS = {
    "addedAt": ("added_at", True), "updatedAt": ("updated_at", True),
    "titleSort": ("sort_title", False), "title": ("sort_title", False),
    "originallyAvailableAt": ("date", True), "year": ("year", True),
    "rating": ("rating", True), "audienceRating": ("audienceRating", True),
    "userRating": ("userRating", True), "duration": ("duration", True),
    "id": ("rating_key", False), "ratingKey": ("rating_key", False),
}


class UnknownKey(KeyError):
    """No such section or ratingKey: the server answers 404."""


@dataclass
class Section:
    key: int
    title: str
    type: str
    locations: list
    uuid: str
    created_at: int
    agent: str = "tv.plex.agents.none"
    scanner: str = "Plex Video Files Scanner"


@dataclass
class Part:
    media_id: int
    part_id: int
    file: str
    size: int


@dataclass
class Image:
    """One poster or background Plex knows for an item (uploaded bytes or a fetched URL)."""
    uri: str            # what Plex calls the resource's ratingKey: upload://posters/<sha1>
    sha1: str
    data: bytes
    source: str         # "bytes" or the URL it was fetched from


@dataclass
class Item:
    rating_key: int
    section_id: int
    attrs: dict                     # SCALAR_FIELDS by Plex name; missing = unset
    added_at: int
    updated_at: int
    parts: list
    duration: int = 0
    tags: dict = field(default_factory=dict)     # kind -> [name, ...] in Plex order
    roles: dict = field(default_factory=dict)    # actor name -> role text (per tagging)
    locks: set = field(default_factory=set)
    thumb: str | None = None
    art: str | None = None
    images: dict = field(default_factory=lambda: {"posters": [], "arts": []})
    selected: dict = field(default_factory=lambda: {"posters": None, "arts": None})
    extras: list = field(default_factory=list)   # [{"title", "file"}]: trailers, clips
    guids: list = field(default_factory=list)    # an agent's external ids, "imdb://tt..."
    # The token owner's viewing state (plex_plays.py): what PMS renders as viewCount,
    # lastViewedAt, viewOffset (ms) and lastRatedAt; userRating is in attrs.
    view_count: int = 0
    last_viewed_at: int | None = None
    view_offset: int = 0
    last_rated_at: int | None = None

    def sort_value(self, key: str):
        if key == "sort_title":
            return (self.attrs.get("titleSort") or self.attrs.get("title") or "").lower()
        if key == "date":
            return self.attrs.get("originallyAvailableAt") or ""
        if key in ("added_at", "updated_at", "duration", "rating_key"):
            return getattr(self, key)
        value = self.attrs.get(key)
        return 0 if value is None else value
