"""The Plex emulator's viewing activity, driven through python-plexapi as a Plex app would:
markPlayed (/:/scrobble), rate (/:/rate), updateTimeline (/:/timeline), history()."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
import requests
from plexapi.server import PlexServer

from tests.emulators.plex_server import PlexEmulator


class Clock:
    def __init__(self, now: float = 1_750_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def rig():
    clock = Clock()
    plex = PlexEmulator(token="plex-token", clock=clock).start()
    section = plex.add_section("Movies", location="/data/movies")
    rk = plex.add_item(section, "Clip", files=["/data/movies/clip.mp4"], duration=600_000)
    session = requests.Session()
    server = PlexServer(plex.url, plex.token, session=session, timeout=5)
    try:
        yield plex, server, rk, clock
    finally:
        session.close()
        plex.stop()
    assert not plex.errors, plex.errors


def test_a_finished_playback_is_one_history_entry_with_its_time(rig):
    plex, server, rk, clock = rig
    video = server.fetchItem(rk)
    video.updateTimeline(300_000, state="playing", duration=600_000)
    clock.now += 200
    video.updateTimeline(550_000, state="playing", duration=600_000)   # past 90 %: a play
    video.updateTimeline(560_000, state="stopped", duration=600_000)   # no second play
    video.reload()
    assert (video.viewCount, video.viewOffset) == (1, 0)
    assert video.lastViewedAt == datetime.fromtimestamp(1_750_000_200)
    entries = server.history()
    assert [(e.ratingKey, e.accountID, e.viewedAt) for e in entries] == [
        (rk, 1, datetime.fromtimestamp(1_750_000_200))]
    assert entries[0].historyKey.startswith("/status/sessions/history/")


def test_stopping_early_leaves_a_resume_point_and_no_play(rig):
    plex, server, rk, clock = rig
    server.fetchItem(rk).updateTimeline(125_000, state="stopped", duration=600_000)
    video = server.fetchItem(rk)
    assert (video.viewCount, video.viewOffset) == (0, 125_000)
    assert video.lastViewedAt == datetime.fromtimestamp(clock.now)
    assert server.history() == []


def test_mark_played_rate_and_unrate(rig):
    plex, server, rk, clock = rig
    video = server.fetchItem(rk)
    video.markPlayed()
    video.rate(7.0)
    video.reload()
    assert (video.viewCount, video.userRating) == (1, 7.0)
    assert video.lastRatedAt == datetime.fromtimestamp(clock.now)
    assert plex.count("PUT", "/:/rate") == 1 and plex.count("GET", "/:/scrobble") == 1
    video.rate(None)
    assert server.fetchItem(rk).userRating is None


def test_history_filters_by_account_and_time_and_pages(rig):
    plex, server, rk, clock = rig
    for n in range(5):
        plex.add_play(rk, 1_700_000_000 + n * 10, account_id=1)
    plex.add_play(rk, 1_700_000_005, account_id=2)          # a shared user's play
    assert plex.item(rk)["viewCount"] == 5                  # the owner's count only
    mine = server.history(accountID=1)
    assert [int(e.viewedAt.timestamp()) for e in mine] == [1_700_000_000 + n * 10
                                                           for n in (4, 3, 2, 1, 0)]
    since = datetime.fromtimestamp(1_700_000_020, tz=timezone.utc)
    assert len(server.history(mindate=since)) == 3          # viewedAt>= on the wire
    assert len(server.history(maxresults=2)) == 2
    raw = server.query("/status/sessions/history/all",
                       headers={"X-Plex-Container-Start": "4", "X-Plex-Container-Size": "10"})
    assert (raw.attrib["totalSize"], raw.attrib["size"]) == ("6", "2")
    mine[0].delete()
    assert len(server.history(accountID=1)) == 4


def test_a_token_that_is_not_the_owners_reads_items_but_not_history(rig):
    """PMS's answers to a Plex Home / shared user's token, as python-plexapi meets them."""
    from plexapi.exceptions import Unauthorized
    plex, _, rk, _ = rig
    plex.add_user_token("home-user-token")
    user = PlexServer(plex.url, "home-user-token", timeout=5)
    assert user.fetchItem(rk).title == "Clip"
    with pytest.raises(Unauthorized, match=r"^\(401\) unauthorized"):
        user.history()
    with pytest.raises(Unauthorized):
        user.fetchItem(rk).editTitle("not the owner's to edit")
    assert plex.item(rk)["title"] == "Clip"


def test_an_older_server_without_history_answers_404(rig):
    from plexapi.exceptions import NotFound
    plex, server, _, _ = rig
    plex.has_history = False
    with pytest.raises(NotFound, match=r"^\(404\) not_found"):
        server.history()
    assert [r.status for r in plex.records(path_prefix="/status/sessions/history")] == [404]
