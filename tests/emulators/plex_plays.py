"""Viewing activity of the Plex emulator: play history, viewCount, viewOffset, userRating.

What a Plex app does while someone watches, as python-plexapi sends it (reference only):
  GET  /:/timeline?ratingKey=&key=&identifier=com.plexapp.plugins.library&time=ms&state=&duration=
  GET  /:/progress?key=&identifier=&time=ms&state=            (Video.updateProgress)
  GET  /:/scrobble?key=&identifier=                           (markPlayed)
  GET  /:/unscrobble?key=&identifier=                         (markUnplayed)
  PUT  /:/rate?key=&identifier=&rating=0..10 (-1 = remove)     (RatingMixin.rate)
  GET  /status/sessions/history/all?sort=viewedAt:desc&accountID=&metadataItemID=
       &librarySectionID=&viewedAt>=epoch                      (PlexServer.history)
  DELETE /status/sessions/history/{id}                        (PlexHistory.delete)

PMS rules reproduced: a playback that passes 90 % of the duration counts as a play (viewCount
+1, lastViewedAt, one history row, viewOffset cleared); progress below that stores viewOffset
and lastViewedAt; marking played adds a history row too; history rows carry the account that
played, and the token used here is the server owner's (accountID 1), whose viewing state is
what item XML shows. Other accounts' plays exist only as history rows (`add_play`).

Refusals (plex_app.PlexApp): a token that is not the owner's (`PlexEmulator.add_user_token`)
gets 401 with PMS's small "Unauthorized" HTML page for anything under HISTORY_PREFIX (only the
owner sees the server's history; python-plexapi issue #1506), and a server too old for the
endpoint (`PlexEmulator.has_history = False`) answers it 404 "Not Found".
"""
from __future__ import annotations

from tests.emulators.plex_model import Item
from tests.emulators.plex_state import PlexState
from tests.emulators.plex_xml import attrs, container, esc

OWNER_ACCOUNT = 1
WATCHED_SHARE = 0.9       # PMS's default "video played threshold"
LIBRARY_IDENTIFIER = "com.plexapp.plugins.library"
HISTORY_PREFIX = "/status/sessions/history"


def add_play(state: PlexState, item: Item, viewed_at: int, account_id: int = OWNER_ACCOUNT,
             device_id: int = 1) -> int:
    """One finished play: a history row; the owner's also counts on the item."""
    entry_id = state._new_id("history")
    state.history.append({"id": entry_id, "rating_key": item.rating_key,
                          "section_id": item.section_id, "viewed_at": int(viewed_at),
                          "account_id": int(account_id), "device_id": int(device_id)})
    if account_id == OWNER_ACCOUNT:
        item.view_count += 1
        if int(viewed_at) >= (item.last_viewed_at or 0):  # a back-dated play (fixtures) leaves
            item.last_viewed_at = int(viewed_at)          # a newer resume point alone
            item.view_offset = 0
    state.version += 1
    return entry_id


def scrobble(state: PlexState, item: Item) -> None:
    add_play(state, item, state.now())


def unscrobble(state: PlexState, item: Item) -> None:
    item.view_count, item.last_viewed_at, item.view_offset = 0, None, 0
    state.version += 1


def rate(state: PlexState, item: Item, rating: float) -> None:
    if rating < 0:
        item.attrs.pop("userRating", None)
    elif rating > 10:
        raise ValueError("Rating must be between 0 to 10.")
    else:
        item.attrs["userRating"] = float(rating)
    item.last_rated_at = state.now()
    state.version += 1


def progress(state: PlexState, item: Item, time_ms: int, play_state: str,
             duration_ms: int | None = None) -> None:
    """A player's timeline report: a play once 90 % is passed, else a resume point."""
    duration = duration_ms or item.duration
    before = state.playing.get(item.rating_key, item.view_offset)
    threshold = duration * WATCHED_SHARE if duration else None
    if threshold is not None and before < threshold <= time_ms:
        scrobble(state, item)
    elif threshold is None or time_ms < threshold:
        item.view_offset = int(time_ms)
        item.last_viewed_at = state.now()
        state.version += 1
    if play_state == "stopped":
        state.playing.pop(item.rating_key, None)
    else:
        state.playing[item.rating_key] = int(time_ms)


def history_rows(state: PlexState, query: dict) -> list[dict]:
    """History filtered like PMS: accountID, metadataItemID, librarySectionID, viewedAt>(=)."""
    rows = list(state.history)
    for name, key in (("accountID", "account_id"), ("metadataItemID", "rating_key"),
                      ("librarySectionID", "section_id")):
        if query.get(name):
            rows = [r for r in rows if r[key] == int(query[name])]
    if query.get("viewedAt>"):            # plexapi's mindate: `viewedAt>=epoch` on the wire
        rows = [r for r in rows if r["viewed_at"] >= int(query["viewedAt>"])]
    if query.get("viewedAt>>"):
        rows = [r for r in rows if r["viewed_at"] > int(query["viewedAt>>"])]
    sort = query.get("sort") or "viewedAt:desc"
    if sort not in ("viewedAt:desc", "viewedAt:asc", "viewedAt"):
        raise ValueError(f"unknown sort {sort!r}")
    rows.sort(key=lambda r: (r["viewed_at"], r["id"]), reverse=sort == "viewedAt:desc")
    return rows


def history_page(state: PlexState, rows: list[dict], start: int, total: int) -> str:
    body = []
    for row in rows:
        item = state.items.get(row["rating_key"])
        rk = row["rating_key"]
        fields = attrs([("historyKey", f"/status/sessions/history/{row['id']}"),
                        ("key", f"/library/metadata/{rk}"), ("ratingKey", rk),
                        ("librarySectionID", row["section_id"]),
                        ("title", item.attrs.get("title") if item else None), ("type", "movie"),
                        ("thumb", item.thumb if item else None),
                        ("originallyAvailableAt",
                         item.attrs.get("originallyAvailableAt") if item else None),
                        ("viewedAt", row["viewed_at"]), ("accountID", row["account_id"]),
                        ("deviceID", row["device_id"])])
        body.append(f"<Video {fields}/>")
    return container("".join(body), size=len(rows), totalSize=total, offset=start)


def delete_history(state: PlexState, entry_id: int) -> None:
    before = len(state.history)
    state.history[:] = [r for r in state.history if r["id"] != entry_id]
    if len(state.history) == before:
        raise ValueError(f"no history entry {entry_id}")


def item_for(state: PlexState, query: dict, name: str = "key") -> Item:
    """The item a `/:/` request names: key=<ratingKey> or key=/library/metadata/<ratingKey>."""
    if query.get("identifier") not in (None, LIBRARY_IDENTIFIER):
        raise ValueError(f"unknown identifier {esc(query.get('identifier'))}")
    raw = str(query.get(name) or query.get("ratingKey") or "").rsplit("/", 1)[-1]
    if not raw.isdigit():
        raise ValueError(f"missing {name}")
    return state.get(raw)


# ---- routes (plex_app wraps them: state lock, paging, XML response) --------------------------
def _history_route(state, query, paging):
    start, size = paging
    rows = history_rows(state, query)
    page = rows[start:] if size is None else rows[start:start + size]
    return history_page(state, page, start, len(rows))


def _delete_route(state, query, paging, entry_id):
    delete_history(state, int(entry_id))


def _scrobble_route(state, query, paging):
    scrobble(state, item_for(state, query))


def _unscrobble_route(state, query, paging):
    unscrobble(state, item_for(state, query))


def _rate_route(state, query, paging):
    rate(state, item_for(state, query), float(query.get("rating", "-1")))


def _timeline_route(state, query, paging):
    duration = query.get("duration")
    progress(state, item_for(state, query, "ratingKey"), int(query.get("time", "0")),
             query.get("state", "stopped"), int(duration) if duration else None)


def _progress_route(state, query, paging):
    progress(state, item_for(state, query), int(query.get("time", "0")),
             query.get("state", "stopped"))


ROUTES = [
    ("GET", r"/status/sessions/history/all", _history_route),
    ("DELETE", r"/status/sessions/history/(\d+)", _delete_route),
    ("GET", r"/:/scrobble", _scrobble_route), ("GET", r"/:/unscrobble", _unscrobble_route),
    ("PUT", r"/:/rate", _rate_route), ("GET", r"/:/rate", _rate_route),
    ("GET", r"/:/timeline", _timeline_route), ("GET", r"/:/progress", _progress_route),
]
