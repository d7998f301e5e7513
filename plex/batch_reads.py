"""Batched reloads: many Plex items in ONE request, handed out one job at a time.

PMS answers `GET /library/metadata/{k1},{k2},...` with a full `<Video>` for every key it has
(python-plexapi's fetchItems builds the same URL from a list of ints); keys it does not have
are simply absent, and it answers 404 only when it has none of them. So the drain reloads the
items of its next batch of jobs in one request, and plex.sync's per-job `fetch_item` takes its
item from that batch instead of a GET of its own.

Each prefetched item is handed out ONCE: after a job has read it, that job may PUT to it, so a
second job for the same item (two scenes on one file, a re-queued scene) reloads it from Plex.
The batch is replaced at every prefetch, so memory stays at one batch. A failed batch read is
only logged: the jobs then reload one by one and meet the same error where the worker's
policy (retry, breaker, auth stop) classifies it.
"""
from __future__ import annotations

import logging
import time
from typing import Callable, Iterable

from plex.errors import ItemNotFound, PlexSyncError
from plex.index import PathIndex
from plex.item_state import ItemState
from plex.matcher import plex_paths
from validation.config import Config

log = logging.getLogger(__name__)

# Keys per request: ~700 characters of URL for 7-digit keys, far below any proxy's limit, and
# a response of ~100 full items (tens of KB).
MAX_KEYS = 100
# A batch older than this is not used: the drain may have paused (breaker open, a long job)
# and a person may have edited the item in Plex meanwhile.
MAX_AGE_S = 20.0


def fetch_items(client, rating_keys: Iterable[str]) -> dict[str, ItemState]:
    """{ratingKey: full item} for every key Plex has, one GET per MAX_KEYS keys."""
    keys = list(dict.fromkeys(str(k) for k in rating_keys if str(k).isdigit()))
    found: dict[str, ItemState] = {}
    for start in range(0, len(keys), MAX_KEYS):
        chunk = keys[start:start + MAX_KEYS]
        try:
            root = client.query_xml(f"/library/metadata/{','.join(chunk)}")
        except ItemNotFound:  # Plex has none of them (all deleted)
            continue
        for video in root.findall("Video"):
            try:
                item = ItemState.from_xml(video)
            except ValueError:
                continue
            if not item.section_id:  # only a container-level section id: one section answered
                item = ItemState.from_xml(_single(root, video))
            found[item.rating_key] = item
    return found


def _single(root, video):
    """A container holding just this video, for ItemState.from_xml's container fallback."""
    container = root.makeelement(root.tag, dict(root.attrib))
    container.append(video)
    return container


def likely_rating_key(data: dict, record: dict | None, index: PathIndex, cfg: Config) -> str | None:
    """The item a job will most likely reload: its last sync's, else the index's only match for
    the primary file (no request either way; the job itself still verifies the files)."""
    if record and record.get("rating_key"):
        return str(record["rating_key"])
    try:
        paths = plex_paths(data, cfg)
    except (TypeError, AttributeError):  # a malformed job: the drain dead-letters it
        return None
    entries = index.lookup(paths[0]) if paths else []
    return entries[0].rating_key if len({e.rating_key for e in entries}) == 1 else None


class BatchedReads:
    """Wraps a PlexClient: `prefetch` loads a batch, `fetch_item` serves from it once."""

    def __init__(self, client, clock: Callable[[], float] = time.monotonic):
        self._client = client
        self._clock = clock
        self._batch: dict[str, ItemState] = {}
        self._loaded_at = 0.0
        self.batch_requests = 0  # batched GETs sent (for logs and tests)

    def __getattr__(self, name):  # everything else is the client's own
        return getattr(self._client, name)

    def prefetch(self, rating_keys: Iterable[str]) -> int:
        """Replace the batch with these items; returns how many Plex had. Never raises."""
        self._batch = {}
        keys = [k for k in rating_keys if k]
        if len(keys) < 2:  # one key: the job's own GET costs the same
            return 0
        try:
            self._loaded_at = self._clock()
            self._batch = fetch_items(self._client, keys)
            self.batch_requests += -(-len(set(keys)) // MAX_KEYS)
        except PlexSyncError as exc:
            log.debug(f"batched reload of {len(keys)} items failed ({type(exc).__name__}); "
                      "reloading one by one")
        return len(self._batch)

    def fetch_item(self, rating_key: str) -> ItemState:
        item = self._batch.pop(str(rating_key), None)
        if item is not None and self._clock() - self._loaded_at > MAX_AGE_S:
            self._batch, item = {}, None
        return item if item is not None else self._client.fetch_item(rating_key)

    def forget(self) -> None:
        self._batch = {}
