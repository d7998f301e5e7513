"""When Plex refuses the play history: say it once, show it with the fix, ask rarely. Pure rules.

PMS answers `/status/sessions/history/all` with 401 to a token that is not the server owner's
(a Plex Home or shared user's: only the owner sees the server's dashboard and history) and
with 404 on a server too old to have it (a 401 counts only when the same token still reads
the library: worker.plays_import asks; else the token is wrong, which the drain handles). Neither changes by asking again in five minutes, so
such a refusal is remembered in queue.db (`sync_queue.plays`, value below) and history is asked
again only after RETRY_REFUSED_S, or at once when the Plex token setting changed. A timeout
or a 5xx is no refusal: it keeps the normal 5-minute pace of worker.plays_import.

The remembered value: {"cause", "status", "token", "since", "checked_at"}; "token" is the
token's fingerprint (never the token), "since" the first refusal of this cause.
"""
from __future__ import annotations

from validation.config import setting_label

RETRY_REFUSED_S = 6 * 3600.0
NOT_OWNER, NO_HISTORY = "not_owner", "no_history"
_TURN_OFF = ("import_plays", "import_resume_points", "import_ratings")


def cause_of(status: int | None) -> str:
    """The lasting cause behind a refused history request."""
    return NO_HISTORY if status == 404 else NOT_OWNER


def describe(refusal: dict) -> str:
    """One line: what Plex refused, why, and what the user can do."""
    status = refusal.get("status")
    off = " / ".join(f"'{setting_label(key)}'" for key in _TURN_OFF)
    if refusal.get("cause") == NO_HISTORY:
        return (f"Plex has no play history to read ({status}): this Plex Media Server is too "
                f"old for it; plays can't be imported — update Plex Media Server or turn off "
                f"{off}")
    return (f"Plex refused the play history ({status}): the Plex token is not the server "
            f"owner's; plays can't be imported — set the owner's token in "
            f"'{setting_label('plex_token')}' or turn off {off}")


def history_due(last_attempt: float | None, refusal: dict | None, token: str, now: float,
                every: float) -> bool:
    """May a background drain ask Plex's history now? Every `every` seconds normally; after a
    lasting refusal only every RETRY_REFUSED_S, unless the token changed since."""
    last = float(last_attempt or 0)
    if refusal is not None and refusal.get("token") == token:
        last = max(last, float(refusal.get("checked_at") or 0))
        return now - last >= RETRY_REFUSED_S
    return now - last >= every


def after_refusal(stored: dict | None, status: int | None, token: str,
                  now: float) -> tuple[dict, bool]:
    """The refusal to remember, and whether it is news (a new cause, or a new token refused):
    only news is said; a repeat only moves `checked_at`."""
    cause = cause_of(status)
    same = stored is not None and stored.get("cause") == cause and stored.get("token") == token
    since = stored.get("since", now) if same else now
    return ({"cause": cause, "status": status, "token": token, "since": since,
             "checked_at": now}, not same)
