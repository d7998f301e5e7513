"""Plex -> Stash import against both emulators: plays once with their real times, resume
points, ratings (off by default), the request budget, Dry Run, and no write to Plex."""
from __future__ import annotations

import pytest

from hooks.stash_api import StashClient
from plex.client import PlexClient
from plex.errors import PlexUnavailable
from sync_queue.plays import PlayImports
from sync_queue.records import SyncRecords
from tests.emulators.plex_plays import progress, rate
from tests.emulators.plex_server import PlexEmulator
from tests.emulators.stash_server import StashEmulator
from validation.config import parse_config
from worker.plays_import import import_if_due, run_import

T0 = 1_750_000_000
FILE = "/data/movies/clip.mp4"


class Clock:
    def __init__(self):
        self.now = float(T0)

    def __call__(self) -> float:
        return self.now


class Rig:
    def __init__(self, tmp_path, clock):
        self.clock = clock
        self.plex = PlexEmulator(token="plex-token", clock=clock).start()
        self.stash = StashEmulator(version="v0.30.1").start()
        section = self.plex.add_section("Movies", location="/data/movies")
        self.rk = self.plex.add_item(section, "Clip", files=[FILE], duration=600_000)
        self.other_rk = self.plex.add_item(section, "Other", files=["/data/movies/o.mp4"])
        self.scene = self.stash.add_scene("Clip", files=[FILE])
        self.data_dir = tmp_path / "data"
        SyncRecords(self.data_dir).put(self.scene, {"scene_id": self.scene,
                                                    "rating_key": str(self.rk)})
        self.settings = {"plex_url": self.plex.url, "plex_token": "plex-token"}

    def run(self, full=True, dry_run=False, **settings):
        cfg = parse_config({**self.settings, **settings})
        self.plex.clear_log()
        self.stash.clear_logs()
        return run_import(cfg, StashClient(self.stash.url), PlexClient(cfg, self.data_dir),
                          self.data_dir, full=full, dry_run=dry_run, clock=self.clock)

    def due(self, **settings):
        cfg = parse_config({**self.settings, **settings})
        self.plex.clear_log()
        self.stash.clear_logs()
        return import_if_due(cfg, StashClient(self.stash.url), PlexClient(cfg, self.data_dir),
                             self.data_dir, clock=self.clock)

    def scene_state(self) -> dict:
        query = ("query($id: ID) { findScene(id: $id) { play_count play_history last_played_at "
                 "resume_time rating100 } }")
        return self.stash.graphql(query, {"id": str(self.scene)})["data"]["findScene"]

    def plex_writes(self) -> int:
        return (self.plex.count("PUT") + self.plex.count("POST") + self.plex.count("DELETE")
                + self.plex.count(path_prefix="/:/"))


@pytest.fixture
def rig(tmp_path):
    clock = Clock()
    rig = Rig(tmp_path, clock)
    try:
        yield rig
    finally:
        rig.plex.stop()
        rig.stash.stop()
    assert not rig.plex.errors, rig.plex.errors


def test_plays_come_back_once_with_their_real_times(rig):
    rig.plex.add_play(rig.rk, T0 - 7200)
    rig.plex.add_play(rig.rk, T0 - 3600)
    rig.plex.add_play(rig.rk, T0 - 1800, account_id=2)     # a shared user's play: not ours
    rig.plex.add_play(rig.other_rk, T0 - 60)               # an item no scene is synced to
    report = rig.run()
    state = rig.scene_state()
    assert sorted(state["play_history"]) == ["2025-06-15T13:06:40Z", "2025-06-15T14:06:40Z"]
    assert (state["play_count"], state["last_played_at"]) == (2, "2025-06-15T14:06:40Z")
    assert report.plays_added == 2 and rig.plex_writes() == 0
    again = rig.run()
    assert again.plays_added == 0 and rig.scene_state()["play_count"] == 2


def test_plays_made_before_plex_kept_history_use_its_last_viewed_time(rig):
    with rig.plex.state.lock:
        item = rig.plex.state.get(rig.rk)
        item.view_count, item.last_viewed_at = 2, T0 - 86_400   # no history rows at all
    rig.run()
    assert rig.scene_state()["play_history"] == ["2025-06-14T15:06:40Z"] * 2
    rig.plex.add_play(rig.rk, T0 - 10)                          # later: viewCount 3, 1 row
    rig.clock.now += 400
    rig.due()
    assert rig.scene_state()["play_count"] == 3                 # the old two not again


def test_incremental_run_costs_one_request_when_nothing_is_new(rig):
    rig.plex.add_play(rig.rk, T0 - 100)
    rig.run()
    rig.clock.now += 301
    report = rig.due()
    assert report.plays_added == 0
    assert (rig.plex.count(), len(rig.stash.graphql_requests())) == (1, 0)
    assert rig.plex.records()[0].path == "/status/sessions/history/all"
    rig.clock.now += 60
    assert rig.due() is None and rig.plex.count() == 0          # < 5 minutes: no request


def test_a_new_play_after_a_drain_is_added_once(rig):
    rig.run()
    rig.clock.now += 400
    rig.plex.add_play(rig.rk, int(rig.clock.now) - 5)
    assert rig.due().plays_added == 1
    rig.clock.now += 400
    assert rig.due().plays_added == 0
    assert rig.scene_state()["play_history"] == ["2025-06-15T15:13:15Z"]


def test_a_run_that_died_after_writing_stash_adds_nothing_twice(rig):
    rig.plex.add_play(rig.rk, T0 - 100)
    rig.run()
    PlayImports(rig.data_dir).db.execute("DELETE FROM play_imports")  # as if never recorded
    assert rig.run().plays_added == 0 and rig.scene_state()["play_count"] == 1


def test_resume_point_from_plex_when_newer(rig):
    with rig.plex.state.lock:
        progress(rig.plex.state, rig.plex.state.get(rig.rk), 125_000, "stopped")
    rig.run()
    assert rig.scene_state()["resume_time"] == 125.0
    rig.stash.graphql("mutation { sceneSaveActivity(id: \"%s\", resume_time: 30) }" % rig.scene)
    rig.run()                                                   # same Plex state: Stash's stays
    assert rig.scene_state()["resume_time"] == 30.0
    assert rig.run(import_resume_points=False).resume_points == 0


def test_ratings_only_when_turned_on_and_a_stash_change_wins(rig):
    with rig.plex.state.lock:
        rate(rig.plex.state, rig.plex.state.get(rig.rk), 8.0)
    rig.run()
    assert rig.scene_state()["rating100"] is None               # off by default
    rig.run(import_ratings=True)
    assert rig.scene_state()["rating100"] == 80
    hooks = [h for h in rig.stash.hook_log]
    assert [(h.hook_type, sorted(h.input_fields)) for h in hooks] == [
        ("Scene.Update.Post", ["id", "rating100"])]
    rig.stash.graphql('mutation { sceneUpdate(input: {id: "%s", rating100: 60}) { id } }' % rig.scene)
    rig.run(import_ratings=True)
    assert rig.scene_state()["rating100"] == 60                 # Stash's later change wins
    assert rig.plex_writes() == 0


def test_dry_run_lists_and_writes_nothing(rig):
    rig.plex.add_play(rig.rk, T0 - 100)
    report = rig.run(dry_run=True)
    assert [(s.scene_id, s.plays) for s in report.scenes] == [(str(rig.scene), (T0 - 100,))]
    assert rig.scene_state()["play_count"] == 0
    assert [r.operation_name for r in rig.stash.graphql_requests()
            if "mutation" in r.query] == []
    assert rig.run().plays_added == 1                           # the real run still imports


def test_everything_off_asks_nobody(rig):
    report = rig.run(import_plays=False, import_resume_points=False)
    assert report.skipped and rig.plex.count() == 0


def test_old_stash_gets_play_counts_without_times(tmp_path):
    rig = Rig(tmp_path, Clock())
    try:
        rig.stash.version["version"] = "v0.24.3"   # no sceneAddPlay, no play_history yet
        rig.plex.add_play(rig.rk, T0 - 100)
        rig.plex.add_play(rig.rk, T0 - 50)
        report = rig.run()
        sent = [r.query for r in rig.stash.graphql_requests() if "mutation" in r.query]
        assert report.plays_added == 2 and report.legacy_stash
        assert len(sent) == 2 and all("sceneIncrementPlayCount" in q for q in sent)
        assert not any("play_history" in r.query for r in rig.stash.graphql_requests())
        assert rig.scene_state()["play_count"] == 2
        assert rig.run().plays_added == 0
    finally:
        rig.plex.stop()
        rig.stash.stop()


def test_a_plex_that_is_down_is_asked_at_most_once_per_five_minutes(rig):
    rig.plex.down()
    with pytest.raises(PlexUnavailable):
        rig.due()
    rig.plex.up()
    rig.clock.now += 60
    assert rig.due() is None and rig.plex.count() == 0
    rig.clock.now += 300
    assert rig.due() is not None
    assert rig.plex.count("GET", "/status/sessions/history/all") == 1


def test_an_older_plex_without_history_is_said_once_and_asked_every_six_hours(rig):
    rig.plex.has_history = False
    first = rig.due()
    assert first.refused.startswith("Plex has no play history to read (404)")
    assert first.refusal_is_news and first.line() == f"Plex plays: {first.refused}"
    for _ in range(3):                         # drains every 5 minutes: Plex is not asked
        rig.clock.now += 301
        assert rig.due() is None and rig.plex.count() == 0
    rig.clock.now = T0 + 6 * 3600
    again = rig.due()
    assert again.refused == first.refused and not again.refusal_is_news   # not said twice
    assert rig.plex.count("GET", "/status/sessions/history") == 1
    rig.plex.has_history = True                # Plex upgraded: plays come back, refusal gone
    rig.plex.add_play(rig.rk, T0 - 100)
    rig.clock.now += 6 * 3600
    back = rig.due()
    assert back.plays_added == 1 and back.history_back and not back.refused
    assert PlayImports(rig.data_dir).refusal() is None
    rig.clock.now += 301                       # the normal pace again
    assert rig.due() is not None


def test_a_token_that_is_not_the_owners_is_refused_then_a_new_token_is_asked_at_once(rig):
    rig.plex.add_user_token("home-user-token")
    report = rig.due(plex_token="home-user-token")
    assert report.refused.startswith("Plex refused the play history (401): the Plex token "
                                     "is not the server owner's")
    assert "home-user-token" not in report.refused
    rig.clock.now += 301
    assert rig.due(plex_token="home-user-token") is None
    assert rig.due().plays_added == 0 and rig.plex.count("GET", "/status/sessions/history") == 1
    assert PlayImports(rig.data_dir).refusal() is None


def test_a_transient_history_error_keeps_the_five_minute_pace(rig):
    rig.plex.fail_next(1, 503, path_prefix="/status/sessions/history")
    with pytest.raises(PlexUnavailable):
        rig.due()
    assert PlayImports(rig.data_dir).refusal() is None
    rig.clock.now += 301
    assert rig.due() is not None


def test_the_task_stops_with_the_refusal_and_dry_run_leaves_it_unrecorded(rig):
    rig.plex.has_history = False
    assert rig.run(dry_run=True).refused and PlayImports(rig.data_dir).refusal() is None
    assert rig.run().refused and PlayImports(rig.data_dir).refusal()["status"] == 404


def test_a_token_plex_refuses_for_everything_is_no_history_refusal(rig):
    from plex.errors import PlexAuthError
    with pytest.raises(PlexAuthError):
        rig.due(plex_token="no-such-token")
    assert PlayImports(rig.data_dir).refusal() is None
