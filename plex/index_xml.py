"""One page of /library/sections/{id}/all as the path index reads it: raw XML, no tree.

Asking for less: the index needs ratingKey, title, updatedAt and every Part@file, nothing
else. PMS leaves out the tag elements named in `excludeElements` (Genre, Role, ...; python-
plexapi sends the same names in PlexPartialObject._EXCLUDES), the summary and tagline named in
`excludeFields` (the only item fields PMS honours there; WebTools-NG issue 71), and sends no
<Guid> with `includeGuids=0`. Media and Part stay: they carry the files. Measured on the
emulator's 2,500-item page: 1.78 MB -> 1.41 MB, 8 elements per item -> 3.

Parsing: expat with a start handler only (measured on that lean page, CPU: 17.5 ms; the
previous ElementTree target with start and end callbacks 19.5 ms; expat with no handler at all
8.4 ms, with an empty one 14.8 ms: building each element's attribute dict is most of the rest).
End events are needed only to skip an element that may nest other items (an <Extras>
trailer's <Video> is not a library item, and neither are its Part files); the end handler is
set only while one is skipped (_FLAT). A regular-expression scanner of the same page measured
about 2x slower than expat (its attribute lists backtrack), so there is none.

Real PMS sends raw control characters (e.g. \x04) inside attribute values, which XML 1.0
forbids and expat refuses; python-plexapi strips them before parsing (its issue 1450). The
page is parsed as sent first (the common case costs nothing extra), and only after a parse
error again with those characters removed, so one odd title never makes the whole page, and
with it every scene, unreadable.
"""
from __future__ import annotations

import re
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Iterator
from xml.parsers import expat

from plex.errors import translate

# What an index page asks for besides paging (see the module docstring).
LEAN_LISTING = {
    "type": 1, "includeGuids": 0, "excludeFields": "summary,tagline",
    "excludeElements": "Genre,Country,Director,Writer,Producer,Role,Collection,Label",
}
# Besides <Video> and <Part>: the elements an item is made of, known to hold no other item
# (Media, Stream, tags, locks, images). Any other element (an item's <Extras> of trailers,
# <Related> clips, a <Hub>, <Meta>) is skipped whole, items and files inside it included: a
# library item is a <Video> directly in the container, as PMS lists them.
_FLAT = frozenset({"Media", "Stream", "Genre", "Country", "Director", "Writer", "Producer",
                   "Role", "Collection", "Label", "Mood", "Style", "Similar", "Guid", "Rating",
                   "Field", "Image", "UltraBlurColors"})


@dataclass
class Video:
    rating_key: str
    title: str
    updated_at: int
    files: list


class _PageReader:
    """Expat handlers that keep only what the index needs from a page of /all: the
    container's totalSize and, per library item, ratingKey/title/updatedAt and its Part
    files. No tree is built; every other element is seen and dropped."""

    def __init__(self):
        self.total = 0
        self.videos: list[Video] = []
        self._skipping = 0  # depth inside an element skipped whole; 0 = not skipping
        self._parser = expat.ParserCreate()
        self._parser.StartElementHandler = self._start

    def parse(self, body: bytes) -> "_PageReader":
        try:
            self._parser.Parse(body, True)
        finally:  # its handlers refer back to self: without this, each page's items would wait
            self._parser = None  # for the cyclic GC (measured, 20 pages: 48 MB peak, not 26)
        return self

    def _start(self, tag: str, attrib: dict) -> None:
        if tag == "Part":  # Video/Media/Part of the last library item
            file = attrib.get("file")
            if file and self.videos:
                self.videos[-1].files.append(file)
        elif tag == "Video":
            self.videos.append(Video(attrib.get("ratingKey", ""), attrib.get("title", ""),
                                     int(attrib.get("updatedAt") or 0), []))
        elif tag == "MediaContainer" and not self.videos:
            self.total = int(attrib.get("totalSize") or attrib.get("size") or 0)
        elif tag not in _FLAT:  # skipped whole: only here are end events needed
            self._skipping = 1
            self._parser.StartElementHandler = self._start_skipped
            self._parser.EndElementHandler = self._end_skipped

    def _start_skipped(self, tag: str, attrib: dict) -> None:
        self._skipping += 1

    def _end_skipped(self, tag: str) -> None:
        self._skipping -= 1
        if not self._skipping:  # back among library items: start events only again
            self._parser.StartElementHandler = self._start
            self._parser.EndElementHandler = None


# What XML 1.0 forbids but PMS sends raw inside attribute values (python-plexapi issue 1450):
# C0 controls except tab/LF/CR, as bytes (in UTF-8 they never occur inside a multi-byte
# character), U+FFFE/U+FFFF, and the same characters written as character references.
_FORBIDDEN_XML = re.compile(
    rb"[\x00-\x08\x0b\x0c\x0e-\x1f]|\xef\xbf[\xbe\xbf]"
    rb"|&#(?:0*(?:[0-8]|1[1-2]|1[4-9]|2[0-9]|3[01])|[xX]0*(?:[0-8]|[bBcCeEfF]|1[0-9a-fA-F]));")


def strip_forbidden_xml(body: bytes) -> bytes:
    """Drop what XML 1.0 forbids, as plexapi does before parsing, and replace bytes that are
    not UTF-8 (a file name from an old filesystem) with U+FFFD: one odd item must not make
    the whole page, and so every scene, unreadable."""
    return _FORBIDDEN_XML.sub(b"", body).decode("utf-8", "replace").encode("utf-8")


def fetch_page(client, section_id: str, start: int, size: int, sort: str = "") -> bytes:
    params = {**LEAN_LISTING, "X-Plex-Container-Start": start, "X-Plex-Container-Size": size}
    if sort:
        params["sort"] = sort
    return client.query_bytes(f"/library/sections/{section_id}/all", params)


def parse_body(body: bytes) -> _PageReader:
    try:  # the clean parse first: stripping costs a pass over megabytes, rarely needed
        return _PageReader().parse(body)
    except expat.ExpatError:
        pass
    try:
        return _PageReader().parse(strip_forbidden_xml(body))
    except expat.ExpatError as exc:  # a body cut short: the connection dropped
        raise translate(exc) from None


def read_page(client, section_id: str, start: int, size: int, sort: str = "") -> _PageReader:
    return parse_body(fetch_page(client, section_id, start, size, sort))


def fetched_ahead(client, section_id: str, starts, size: int) -> Iterator[bytes]:
    """The bodies of these pages in order, each next one requested before the current one is
    handed out (a single helper thread: one request in flight at a time), so Plex serves the
    next page while this process parses the current one; memory holds at most two pages."""
    with ThreadPoolExecutor(1, thread_name_prefix="plexsync-index") as pool:
        pending: deque = deque()
        for start in starts:
            pending.append(pool.submit(fetch_page, client, section_id, start, size))
            if len(pending) > 1:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
