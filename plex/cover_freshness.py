"""Is the cover PlexSync fetched last time still Stash's current cover? Decided without a request.

Stash's screenshot URL is `.../scene/{id}/screenshot?t=<updated_at>` with updated_at in whole
seconds, and replacing a cover updates the scene. So a cover fetched in a LATER whole second
than that updated_at was fetched after the scene's last change and is still the current one:
Sync All and steady-state edits need not download it again. A cover fetched within the same
second as the last change may predate it (the URL cannot tell), so it is fetched again and
compared by sha1, as before. Clocks: the fetch time is the drainer's clock and updated_at is
Stash's; they are the same machine in the usual install, and a Stash clock running ahead
only causes extra downloads, never a missed cover.
"""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit


def url_stamp(url: str | None) -> int | None:
    """The whole-second `t` of a Stash screenshot URL; None if it carries none."""
    if not url:
        return None
    values = parse_qs(urlsplit(url).query).get("t")
    try:
        return int(values[0]) if values else None
    except ValueError:
        return None


def _without_query(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.netloc}{parts.path}"


def cover_still_current(cover_url: str | None, ours: dict, kinds) -> bool:
    """True when the last fetch (ours["cover_fetched_at"]) was of this scene's cover, in a
    later second than the URL's updated_at, and every wanted image kind was uploaded then."""
    fetched_at, last_url = ours.get("cover_fetched_at"), ours.get("cover_url")
    stamp = url_stamp(cover_url)
    if stamp is None or not fetched_at or not last_url:
        return False
    if _without_query(last_url) != _without_query(cover_url):
        return False
    if not all(ours.get(f"{kind}_sha1") for kind in kinds):
        return False  # an image kind was never uploaded (switched on since, no cover, a failure)
    return int(float(fetched_at)) > stamp
