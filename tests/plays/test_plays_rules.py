"""worker.plays: the import rules as value tables (no I/O)."""
from __future__ import annotations

import pytest
from graphql import parse, validate

from hooks.stash_documents import parse_version, LEGACY_INCREMENT_PLAY_DOCUMENT, has_add_play, play_state_document
from hooks.scene_hook import SYNCED_INPUT_FIELDS
from tests.stash.test_stash_schema_conformance import PROJECT_ROOT, load_real_schema
from worker import plays as rules

T = 1_700_000_000


@pytest.mark.parametrize("expected, imported, in_stash, to_add, after", [
    ([T, T + 60], [], [], (T, T + 60), (T, T + 60)),                  # first import
    ([T, T + 60], [T, T + 60], [T, T + 60], (), (T, T + 60)),         # nothing new
    ([T, T + 60, T + 90], [T, T + 60], [T, T + 60], (T + 90,), (T, T + 60, T + 90)),
    ([T, T + 60], [], [T], (T + 60,), (T, T + 60)),                  # died after writing T
    ([T, T + 60], [T, T + 60], [], (), (T, T + 60)),                 # deleted in Stash: kept so
    ([T, T], [T], [T], (T,), (T, T)),                               # two plays in one second
    ([T], [], [T + 5], (T,), (T,)),                                  # Stash's own play differs
    ([T, T + 60], [], None, (T, T + 60), (T, T + 60)),              # Stash < 0.25: no history
    ([T + 60], [T], [T], (T + 60,), (T, T + 60)),                   # old item's play stays
])
def test_each_plex_play_reaches_stash_exactly_once(expected, imported, in_stash, to_add, after):
    plan = rules.plan_plays(expected, imported, in_stash)
    assert (plan.to_add, plan.imported) == (to_add, after)


@pytest.mark.parametrize("view_count, last_viewed, history, before", [
    (0, None, [], ()),
    (3, T + 100, [T + 50, T + 100], (T + 50,)),   # one play older than history: first time
    (2, T + 100, [], (T + 100, T + 100)),          # no history at all: the only time Plex has
    (2, T + 100, [T + 20, T + 100], ()),           # history explains every play
    (1, None, [], ()),                             # a count without any time: not invented
])
def test_plays_older_than_plex_history(view_count, last_viewed, history, before):
    assert rules.plays_before_history(view_count, last_viewed, history) == before


@pytest.mark.parametrize("offset_ms, viewed, stash_resume, stash_played, seen, result", [
    (125_000, T + 100, 0.0, None, None, 125.0),           # Plex has one, Stash none
    (125_000, T + 100, 0.0, T + 200, None, None),         # Stash played later: Stash's wins
    (125_000, T + 100, 30.0, T, None, 125.0),             # Plex watched after Stash's last play
    (125_000, T + 100, 125.4, None, None, None),          # same point already
    (125_000, T + 100, 40.0, None, [125_000, T + 100], None),  # Stash moved it after import
    (0, T + 300, 125.0, T, [125_000, T + 100], 0.0),      # finished in Plex: clears it
    (90_000, None, 0.0, None, None, None),                # never viewed: no time, no claim
])
def test_resume_point_comes_from_plex_only_when_newer(offset_ms, viewed, stash_resume,
                                                      stash_played, seen, result):
    assert rules.resume_to_import(offset_ms, viewed, stash_resume, stash_played, seen) == result


@pytest.mark.parametrize("plex, rating100", [(None, None), (0.0, None), (-1.0, None),
                                             (1.0, 10), (7.0, 70), (7.5, 75), (10.0, 100)])
def test_plex_ten_point_rating_is_stash_hundred(plex, rating100):
    assert rules.plex_rating100(plex) == rating100


@pytest.mark.parametrize("plex, stash, last, result", [
    (80, None, None, (True, 80)),                           # first import fills an empty one
    (80, 60, None, (False, 80)),                            # ... but never overwrites one
    (None, 60, None, (False, None)),
    (90, 80, {"plex": 80, "stash": 80}, (True, 90)),        # changed in Plex since
    (90, 70, {"plex": 80, "stash": 80}, (False, 90)),       # changed in both: Stash's wins
    (80, 70, {"plex": 80, "stash": 80}, (False, 80)),       # changed in Stash only
    (None, 80, {"plex": 80, "stash": 80}, (True, None)),    # removed in Plex: cleared
    (90, 90, {"plex": 80, "stash": 80}, (False, 90)),       # already equal
])
def test_rating_changed_in_plex_since_last_import_and_stash_edit_wins(plex, stash, last, result):
    assert rules.rating_to_import(plex, stash, last) == result


@pytest.mark.parametrize("text, epoch", [("2024-01-02T03:04:05Z", 1_704_164_645),
                                         ("2024-01-02T05:04:05+02:00", 1_704_164_645),
                                         (None, None)])
def test_stash_times_round_trip(text, epoch):
    assert rules.epoch(text) == epoch
    if epoch:
        assert rules.stash_timestamp(epoch) == "2024-01-02T03:04:05Z"


@pytest.mark.parametrize("version, parsed, add_play", [
    ("v0.30.1-19-gcf3489efd", (0, 30, 1), True), ("v0.25.1", (0, 25, 1), True),
    ("v0.24.3", (0, 24, 3), False), ("unknown", None, True)])
def test_stash_versions_without_scene_add_play(version, parsed, add_play):
    assert (parse_version(version), has_add_play(version)) == (parsed, add_play)


def test_legacy_documents_are_what_stash_v024_accepts():
    schema_dir = PROJECT_ROOT.parent / "shared" / "stash-schema" / "v0.24.3"
    if not (schema_dir / "schema.graphql").is_file():
        pytest.skip(f"Stash v0.24.3's schema is not at {schema_dir} (../shared/stash-schema)")
    old = load_real_schema(schema_dir)
    for document in (LEGACY_INCREMENT_PLAY_DOCUMENT, play_state_document(2, legacy=True)):
        assert validate(old, parse(document)) == []
    # ... and the new one is what it would refuse: the version switch is needed.
    errors = [e.message for e in validate(old, parse(play_state_document(1)))]
    assert errors == ["Cannot query field 'play_history' on type 'Scene'."]


def test_what_the_import_writes_is_no_field_the_hook_syncs():
    # sceneUpdate(rating100) fires Scene.Update.Post with inputFields ["id", "rating100"]
    # (sceneAddPlay / sceneSaveActivity fire none): the hook must skip those edits unread.
    assert SYNCED_INPUT_FIELDS.isdisjoint({"id", "rating100", "resume_time", "play_count",
                                           "play_duration", "o_counter"})
