"""worker.history_refusal: when a refused Plex history is asked again, and when it is said.
Value tables with an injected `now`; no I/O."""
from __future__ import annotations

import pytest

from worker import history_refusal as rules

T = 1_750_000_000.0
H = 3600.0
EVERY = 300.0


def refused(cause=rules.NOT_OWNER, status=401, token="tok-a", since=T, checked_at=T) -> dict:
    return {"cause": cause, "status": status, "token": token, "since": since,
            "checked_at": checked_at}


@pytest.mark.parametrize("last_attempt, refusal, token, now, due", [
    (None, None, "tok-a", T, True),                              # never asked
    (T, None, "tok-a", T + EVERY - 1, False),                    # the normal 5-minute pace
    (T, None, "tok-a", T + EVERY, True),
    (T, refused(), "tok-a", T + EVERY, False),                   # refused: not after 5 minutes
    (T, refused(), "tok-a", T + 6 * H - 1, False),
    (T, refused(), "tok-a", T + 6 * H, True),                    # ... but after 6 hours
    (T + H, refused(checked_at=T), "tok-a", T + 6 * H, False),   # counted from the last attempt
    (T, refused(checked_at=T + H), "tok-a", T + 6 * H, False),   # ... whichever is later
    (T, refused(), "tok-b", T + EVERY, True),                    # the token changed: at once
    (T, refused(), "tok-b", T + EVERY - 1, False),               # ... at the normal pace
    (T, refused(cause=rules.NO_HISTORY, status=404), "tok-a", T + 5 * H, False),
])
def test_a_lasting_refusal_is_asked_again_only_every_six_hours(last_attempt, refusal, token,
                                                               now, due):
    assert rules.history_due(last_attempt, refusal, token, now, EVERY) is due


@pytest.mark.parametrize("stored, status, token, news, since", [
    (None, 401, "tok-a", True, T + H),                           # the first refusal: said
    (refused(), 401, "tok-a", False, T),                         # the same again: not said
    (refused(), 403, "tok-a", False, T),                         # 403 is the same cause
    (refused(), 404, "tok-a", True, T + H),                      # another cause: said
    (refused(), 401, "tok-b", True, T + H),                      # another token refused: said
    (refused(cause=rules.NO_HISTORY, status=404), 404, "tok-b", True, T + H),
])
def test_each_cause_is_said_once(stored, status, token, news, since):
    value, is_news = rules.after_refusal(stored, status, token, T + H)
    assert is_news is news
    assert (value["since"], value["checked_at"], value["token"]) == (since, T + H, token)
    assert value["cause"] == (rules.NO_HISTORY if status == 404 else rules.NOT_OWNER)


@pytest.mark.parametrize("status, cause, fix", [
    (401, "Plex refused the play history (401): the Plex token is not the server owner's",
     "set the owner's token in 'Plex token' or turn off 'Bring Plex plays into Stash'"),
    (404, "Plex has no play history to read (404): this Plex Media Server is too old for it",
     "update Plex Media Server or turn off 'Bring Plex plays into Stash'"),
])
def test_the_line_names_the_cause_and_the_next_step(status, cause, fix):
    value, _ = rules.after_refusal(None, status, "tok-a", T)
    line = rules.describe(value)
    assert line.startswith(cause) and fix in line.partition(" — ")[2]
    assert "\n" not in line and "tok-a" not in line
