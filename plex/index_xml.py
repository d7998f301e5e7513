"""One page of /library/sections/{id}/all as the path index reads it: raw XML, no tree.

Real PMS sends raw control characters (e.g. \x04) inside attribute values, which XML 1.0
forbids and expat refuses; python-plexapi strips them before parsing (its issue 1450). The
page is parsed as sent first (the common case costs nothing extra), and only after a parse
error again with those characters removed, so one odd title never makes the whole page, and
with it every scene, unreadable. Telling library items from nested <Video>s (extras) needs
the element depth, i.e. an end() callback per element: measured on one 50,000-item page
(36 MB), 0.94 s of CPU instead of 0.84 s; the strip pass, run only after a failed parse, 0.58 s.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Iterator
from xml.etree import ElementTree

from plex.errors import translate


@dataclass
class Video:
    rating_key: str
    title: str
    updated_at: int
    files: list


class _PageReader:
    """ElementTree parser target that keeps only what the index needs from a page of /all:
    the container's totalSize and, per library item, ratingKey/title/updatedAt and its Part
    files. No tree is built (Genre, Role, Media... elements are seen and dropped). Only a
    <Video> directly inside the MediaContainer is a library item: a <Video> nested deeper
    (an <Extras> trailer, a related clip) is not, and neither are its Part files."""

    def __init__(self):
        self.total = 0
        self.videos: list[Video] = []
        self._depth = 0
        self._item_depth = 0  # depth of the library item being read; 0 = none

    def start(self, tag: str, attrib: dict) -> None:
        self._depth += 1
        if tag == "MediaContainer" and self._depth == 1:
            self.total = int(attrib.get("totalSize") or attrib.get("size") or 0)
        elif tag == "Video" and self._depth == 2:
            self._item_depth = 2
            self.videos.append(Video(attrib.get("ratingKey", ""), attrib.get("title", ""),
                                      int(attrib.get("updatedAt") or 0), []))
        elif tag == "Part" and self._depth == 4 and self._item_depth and attrib.get("file"):
            self.videos[-1].files.append(attrib["file"])  # Video/Media/Part of the item itself

    def end(self, tag: str) -> None:
        if self._depth == self._item_depth:
            self._item_depth = 0
        self._depth -= 1

    def close(self) -> "_PageReader":
        return self


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


def _parse_page(body: bytes) -> _PageReader:
    parser = ElementTree.XMLParser(target=_PageReader())
    parser.feed(body)
    return parser.close()


def fetch_page(client, section_id: str, start: int, size: int, sort: str = "") -> bytes:
    params = {"type": 1, "X-Plex-Container-Start": start, "X-Plex-Container-Size": size}
    if sort:
        params["sort"] = sort
    return client.query_bytes(f"/library/sections/{section_id}/all", params)


def parse_body(body: bytes) -> _PageReader:
    try:  # the clean parse first: stripping costs a pass over megabytes, rarely needed
        return _parse_page(body)
    except ElementTree.ParseError:
        pass
    try:
        return _parse_page(strip_forbidden_xml(body))
    except ElementTree.ParseError as exc:  # a body cut short: the connection dropped
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
