"""Reading what was watched in Plex: play history and each item's viewing state.

Raw XML through PlexClient.query_xml (no plexapi objects: 10,000 history rows must stay cheap)
and only the token's own account: PlexSync's token is the server owner's (editing metadata
needs it), whose local account id on the server is 1. Plays of shared or managed users are
history rows with another accountID and are never read (`accountID=` filters them out).
"""
from __future__ import annotations

from dataclasses import dataclass

from plex.errors import ItemNotFound, PlexAuthError, PlexSyncError

OWNER_ACCOUNT_ID = 1
HISTORY_PAGE = 1000   # rows per request; 10,000 rows = 10 requests
ACTIVITY_BATCH = 100  # ratingKeys per /library/metadata/{a,b,...} request (URL length)
HISTORY_PATH = "/status/sessions/history/all"
# Everything an item's viewing state does not need: the answer stays small.
_SKIP_ELEMENTS = "Media,Genre,Role,Director,Writer,Producer,Country,Collection,Label,Field"


class HistoryRefused(PlexSyncError):
    """Plex refused the history request in a way asking again soon cannot change: 401/403
    (the token is not the server owner's: only the owner may read the server's history) or
    404 (a Plex Media Server without the endpoint). worker.history_refusal words it."""


@dataclass(frozen=True)
class HistoryEntry:
    entry_id: int       # from historyKey /status/sessions/history/<id>: unique per play
    rating_key: str
    viewed_at: int      # epoch seconds


@dataclass(frozen=True)
class Activity:
    """One item's viewing state for the token's account, as Plex has it now."""
    rating_key: str
    view_count: int = 0
    last_viewed_at: int | None = None
    view_offset_ms: int = 0
    user_rating: float | None = None   # 0-10; None = not rated
    last_rated_at: int | None = None


def read_history(client, since: int | None = None, page_size: int = HISTORY_PAGE,
                 account_id: int = OWNER_ACCOUNT_ID) -> tuple[list[HistoryEntry], int]:
    """The account's plays with viewedAt >= since (all when None), newest first, and the
    number of requests it took. One request when nothing is new."""
    params = {"sort": "viewedAt:desc", "accountID": account_id}
    if since:
        params["viewedAt>"] = int(since)   # plexapi's mindate form: `viewedAt>=epoch`
    entries: list[HistoryEntry] = []
    requests = 0
    start = 0
    while True:
        root = _history_page(client, {**params, "X-Plex-Container-Start": start,
                                      "X-Plex-Container-Size": page_size})
        requests += 1
        rows = [e for e in root if e.attrib.get("viewedAt")]
        entries.extend(e for e in map(_entry, rows) if e is not None)
        total = _int(root.attrib.get("totalSize"))
        start += len(list(root))
        if len(list(root)) < page_size or (total is not None and start >= total):
            return entries, requests


def check_history(client, account_id: int = OWNER_ACCOUNT_ID) -> int | None:
    """Ask for no rows, only the count (Health Check): raises HistoryRefused when Plex
    refuses the history; returns how many plays of the account Plex keeps, if it says."""
    root = _history_page(client, {"accountID": account_id, "X-Plex-Container-Start": 0,
                                  "X-Plex-Container-Size": 0})
    return _int(root.attrib.get("totalSize"))


def _history_page(client, params: dict):
    try:
        return client.query_xml_direct(HISTORY_PATH, params)
    except PlexAuthError as exc:
        raise HistoryRefused(str(exc), exc.status or 401) from None
    except ItemNotFound as exc:
        raise HistoryRefused(str(exc), 404) from None


def read_activity(client, rating_keys, batch: int = ACTIVITY_BATCH) -> tuple[dict, int]:
    """ratingKey -> Activity for every key Plex still has, and the number of requests."""
    keys = sorted({str(k) for k in rating_keys}, key=lambda k: (len(k), k))
    found: dict[str, Activity] = {}
    requests = 0
    for start in range(0, len(keys), batch):
        chunk = keys[start:start + batch]
        try:
            root = client.query_xml_direct(f"/library/metadata/{','.join(chunk)}",
                                    {"excludeElements": _SKIP_ELEMENTS})
        except ItemNotFound:  # Plex deleted every item of this batch
            root = []
        requests += 1
        for video in root:
            activity = activity_from_attrs(video.attrib)
            if activity is not None:
                found[activity.rating_key] = activity
    return found, requests


def activity_from_attrs(attrib: dict) -> Activity | None:
    rating_key = attrib.get("ratingKey")
    if not rating_key:
        return None
    rating = attrib.get("userRating")
    return Activity(rating_key=rating_key, view_count=_int(attrib.get("viewCount")) or 0,
                    last_viewed_at=_int(attrib.get("lastViewedAt")),
                    view_offset_ms=_int(attrib.get("viewOffset")) or 0,
                    user_rating=float(rating) if rating not in (None, "") else None,
                    last_rated_at=_int(attrib.get("lastRatedAt")))


def _entry(video) -> HistoryEntry | None:
    get = video.attrib.get
    key = (get("historyKey") or "").rsplit("/", 1)[-1]
    rating_key = get("ratingKey") or (get("key") or "").rsplit("/", 1)[-1]
    viewed_at = _int(get("viewedAt"))
    if not key.isdigit() or not rating_key or viewed_at is None:
        return None
    return HistoryEntry(int(key), rating_key, viewed_at)


def _int(value) -> int | None:
    try:
        return int(float(value)) if value not in (None, "") else None
    except ValueError:
        return None
