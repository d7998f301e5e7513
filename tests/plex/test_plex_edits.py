"""plex.edits: the pure diff as value tables (item state + snapshot + config + record -> PUT)."""
import dataclasses

import pytest

from plex.edits import FieldChange, describe, fingerprint, plan_edits, record_cuts
from validation.sanitize import strip_credentials
from plex.item_state import Actor, ItemState
from validation.config import parse_config

# Plex reaches Stash at http://stash in these tables (the address actor photos are built on).
CFG = parse_config({"plex_url": "http://plex:32400", "plex_token": "tok",
                    "stash_url_for_plex": "http://stash"})


def cfg(**changes):
    return dataclasses.replace(CFG, **changes)


def snap(**changes):
    base = {"id": "42", "title": "Title", "details": "Details", "date": "2024-01-31",
            "studio": "Studio", "parent_studio": None,
            "performers": [{"name": "Ann", "image_url": "http://stash/performer/1/image?t=1"},
                           {"name": "Bob", "image_url": None}],
            "tags": ["Tag A", "Tag B"], "groups": [], "files": ["/data/a.mp4"],
            "cover_url": "http://stash/scene/42/screenshot?t=1", "updated_at": "2024-02-01T00:00:00Z"}
    base.update(changes)
    return base


def item(**changes):
    base = dict(rating_key="7", section_id="1", title="Title", summary="Details", studio="Studio",
                date="2024-01-31", genres=("Tag A", "Tag B"),
                actors=(Actor("Ann", "http://stash/performer/1/image?t=1"), Actor("Bob")),
                collections=("Studio",), files=("/data/a.mp4",))
    base.update(changes)
    return ItemState(**base)


WRITTEN = {"title": "Title", "summary": "Details", "studio": "Studio", "date": "2024-01-31",
           "genres": ["Tag A", "Tag B"], "actors": ["Ann", "Bob"],
           "actor_thumbs": ["http://stash/performer/1/image?t=1", ""], "collections": ["Studio"]}
RECORD = {"rating_key": "7", "written": WRITTEN}


def test_in_sync_item_needs_no_write():
    plan = plan_edits(item(), snap(), CFG, RECORD)
    assert plan.params == {} and plan.changes == ()
    assert plan.written == WRITTEN


def test_fresh_item_gets_every_field_in_one_put_and_locked():
    bare = ItemState(rating_key="7", section_id="1", title="a", files=("/data/a.mp4",))
    plan = plan_edits(bare, snap(parent_studio="Parent", groups=["Group"]), CFG, None)
    assert plan.params == {
        "title.value": "Title", "title.locked": 1,
        "summary.value": "Details", "summary.locked": 1,
        "studio.value": "Studio", "studio.locked": 1,
        "originallyAvailableAt.value": "2024-01-31", "originallyAvailableAt.locked": 1,
        "genre[0].tag.tag": "Tag A", "genre[1].tag.tag": "Tag B", "genre.locked": 1,
        "actor[0].tag.tag": "Ann", "actor[0].tag.thumb": "http://stash/performer/1/image?t=1",
        "actor[1].tag.tag": "Bob", "actor.locked": 1,
        "collection[0].tag.tag": "Studio", "collection[1].tag.tag": "Parent",
        "collection[2].tag.tag": "Group", "collection.locked": 1}
    assert [c.field for c in plan.changes] == ["title", "summary", "studio", "date", "genres",
                                                "actors", "collections"]
    assert plan.written["collections"] == ["Studio", "Parent", "Group"]


@pytest.mark.parametrize("current, tags, params", [
    # Removing one of three: the whole list is replaced (indexed form).
    (("A", "B", "C"), ["A", "C"],
     {"genre[0].tag.tag": "A", "genre[1].tag.tag": "C", "genre.locked": 1}),
    # Removing all: an indexed list cannot say "empty", so the removal form names each one,
    # quoted once here (commas and quotes inside names survive the comma-joined list).
    (("Rock, Pop", 'Say "Hi"', "Plain"), [],
     {"genre[].tag.tag-": "Rock%2C%20Pop,Say%20%22Hi%22,Plain", "genre.locked": 1}),
])
def test_genre_removals_mirror_stash(current, tags, params):
    plan = plan_edits(item(genres=current), snap(tags=tags), CFG, RECORD)
    assert plan.params == params
    assert plan.changes == (FieldChange("genres", list(current), tags),)


@pytest.mark.parametrize("current, tags, changed", [
    (("tag a", "TAG B"), ["Tag A", "Tag B"], False),  # Plex keeps one tag per name, any case
    (("Tag B", "Tag A"), ["Tag A", "Tag B"], False),  # genre order is not meaningful
    (("Tag A",), ["Tag A", "tag a", " Tag A "], False),  # duplicates collapse
    (("Tag A",), ["Tag A", "Tag B"], True),
])
def test_genre_comparison(current, tags, changed):
    assert bool(plan_edits(item(genres=current), snap(tags=tags), CFG, RECORD).params) is changed


def test_max_tags_caps_genres():
    plan = plan_edits(item(genres=()), snap(tags=[f"t{i}" for i in range(10)]), cfg(max_tags=3), None)
    assert [v for k, v in plan.params.items() if k.startswith("genre[")] == ["t0", "t1", "t2"]


def test_performer_removal_to_empty_and_order():
    plan = plan_edits(item(), snap(performers=[]), CFG, RECORD)
    assert plan.params == {"actor[].tag.tag-": "Ann,Bob", "actor.locked": 1}
    plan = plan_edits(item(), snap(performers=[{"name": "Bob"}, {"name": "Ann"}]), CFG, RECORD)
    assert plan.params["actor[0].tag.tag"] == "Bob"  # Stash order is kept
    assert describe(plan.changes) == "actors"


def test_actor_thumbs_never_carry_credentials():
    performers = [{"name": "Ann", "image_url": "http://u:p@stash/performer/1/image?t=1&apikey=S3"}]
    plan = plan_edits(item(actors=()), snap(performers=performers), CFG, None)
    assert plan.params["actor[0].tag.thumb"] == "http://stash/performer/1/image?t=1"
    assert "S3" not in str(plan.params) and "u:p" not in str(plan.params)


@pytest.mark.parametrize("setting, image_url, thumb", [
    # Stash's own address (what the plugin uses) is moved to the address Plex reaches it at.
    ("http://192.168.1.5:9999", "http://127.0.0.1:9999/performer/3/image?t=170",
     "http://192.168.1.5:9999/performer/3/image?t=170"),
    ("https://stash.lan/stash/", "http://localhost:9999/performer/3/image?t=1",
     "https://stash.lan/stash/performer/3/image?t=1"),          # Stash behind a path prefix
    ("http://192.168.1.5:9999", "http://127.0.0.1:9999/performer/3/image?t=1&apikey=S3",
     "http://192.168.1.5:9999/performer/3/image?t=1"),          # the API key never travels
    ("http://192.168.1.5:9999", "http://127.0.0.1:9999/performer/3/image?t=1&default=true",
     None),                                                     # Stash's placeholder: no photo
    ("", "http://127.0.0.1:9999/performer/3/image?t=1", None),  # not set: no photo at all
])
def test_actor_photo_is_an_address_plex_can_load(setting, image_url, thumb):
    performers = [{"name": "Ann", "image_url": image_url}]
    plan = plan_edits(item(actors=()), snap(performers=performers),
                      cfg(stash_url_for_plex=setting), None)
    assert plan.params.get("actor[0].tag.thumb") == thumb
    assert plan.params["actor[0].tag.tag"] == "Ann"


@pytest.mark.parametrize("value", ["http://admin:pw@192.168.1.5:9999",
                                   "http://192.168.1.5:9999/?apikey=S3", "192.168.1.5:9999"])
def test_stash_url_for_plex_refuses_credentials_and_non_urls(value):
    with pytest.raises(ValueError, match="Stash URL for Plex") as err:
        parse_config({"plex_url": "http://plex:32400", "plex_token": "tok",
                      "stash_url_for_plex": value})
    assert "pw" not in str(err.value) and "S3" not in str(err.value)


def test_thumb_rewritten_by_plex_is_not_rewritten_every_sync():
    plex_side = item(actors=(Actor("Ann", "/library/metadata/7/thumb/99"), Actor("Bob")))
    assert plan_edits(plex_side, snap(), CFG, RECORD).params == {}
    changed = snap(performers=[{"name": "Ann", "image_url": "http://stash/performer/1/image?t=2"},
                               {"name": "Bob"}])
    assert "actor[0].tag.thumb" in plan_edits(plex_side, changed, CFG, RECORD).params


def test_studio_change_moves_collection_and_keeps_foreign_ones():
    plex_side = item(studio="Old", collections=("Old", "Favourites"))
    record = {"written": dict(WRITTEN, studio="Old", collections=["Old"])}
    plan = plan_edits(plex_side, snap(studio="New"), CFG, record)
    assert plan.params["studio.value"] == "New"
    assert {k: v for k, v in plan.params.items() if k.startswith("collection")} == {
        "collection[0].tag.tag": "Favourites", "collection[1].tag.tag": "New",
        "collection.locked": 1}
    assert plan.written["collections"] == ["New"]  # only what PlexSync owns
    assert describe(plan.changes) == "studio, collections +1 −1"


def test_without_record_every_existing_collection_is_kept():
    plan = plan_edits(item(collections=("Mine",)), snap(), CFG, None)
    assert [v for k, v in plan.params.items() if k.startswith("collection[")] == ["Mine", "Studio"]


def test_all_collections_removed_uses_removal_form():
    plan = plan_edits(item(collections=("Studio",)), snap(studio=None), CFG, RECORD)
    assert plan.params["collection[].tag.tag-"] == "Studio"


@pytest.mark.parametrize("preserve, plex_title, record, expect_title_write", [
    (True, "Edited by hand", RECORD, False),   # Plex differs from our last write: a person
    (True, "Title", RECORD, True),             # Plex still holds our write: Stash's new value
    (False, "Edited by hand", RECORD, True),   # without the option Stash wins
    (True, "Agent title", None, True),         # never written, not locked: Stash wins
])
def test_preserve_plex_edits_three_way(preserve, plex_title, record, expect_title_write):
    plan = plan_edits(item(title=plex_title), snap(title="New"), cfg(preserve_plex_edits=preserve),
                      record)
    assert ("title.value" in plan.params) is expect_title_write
    assert ("title" in plan.preserved) is (not expect_title_write)
    if not expect_title_write:  # our last write stays the reference, so the edit stays kept
        assert plan.written["title"] == "Title"


def test_preserve_without_record_respects_a_plex_lock():
    plex_side = item(title="Hand", locked=frozenset({"title"}))
    plan = plan_edits(plex_side, snap(title="New"), cfg(preserve_plex_edits=True), None)
    assert "title.value" not in plan.params and plan.preserved == ("title",)


def test_preserve_lists_and_collections():
    c = cfg(preserve_plex_edits=True)
    hand = item(genres=("Tag A", "Hand"), collections=("Favourites",))  # removed our "Studio"
    plan = plan_edits(hand, snap(tags=["Tag C"], studio="New"), c, RECORD)
    assert "genres" in plan.preserved and "collections" in plan.preserved
    added_foreign = item(collections=("Studio", "Favourites"))  # adding one is not an edit of ours
    plan = plan_edits(added_foreign, snap(studio="New"), c, RECORD)
    assert "collections" not in plan.preserved
    assert plan.params["collection[0].tag.tag"] == "Favourites"


@pytest.mark.parametrize("toggle, keys", [
    ("sync_title", ["title.value"]), ("sync_summary", ["summary.value"]),
    ("sync_studio", ["studio.value"]), ("sync_date", ["originallyAvailableAt.value"]),
    ("sync_tags", ["genre[0].tag.tag"]), ("sync_performers", ["actor[0].tag.tag"]),
    ("sync_collections", ["collection[0].tag.tag"]),
])
def test_field_toggles_switch_each_field_off(toggle, keys):
    bare = ItemState(rating_key="7", section_id="1", title="x")
    on = plan_edits(bare, snap(), CFG, None).params
    off = plan_edits(bare, snap(), cfg(**{toggle: False}), RECORD)
    assert all(k in on for k in keys) and not any(k in off.params for k in keys)
    assert len(off.changes) == 6
    field = {"sync_tags": "genres", "sync_performers": "actors"}.get(toggle, toggle[5:])
    assert off.written[field] == WRITTEN[field]  # an off field keeps its last record


def test_empty_stash_title_never_blanks_plex():
    assert "title.value" not in plan_edits(item(), snap(title=""), CFG, RECORD).params


def test_cleared_stash_values_clear_plex():
    plan = plan_edits(item(), snap(details="", date=None), CFG, RECORD)
    assert plan.params["summary.value"] == "" and plan.params["originallyAvailableAt.value"] == ""


@pytest.mark.parametrize("changes, text", [
    ((), ""),
    ((FieldChange("title", "a", "b"),), "title"),
    ((FieldChange("genres", ["a", "b"], ["a", "c", "d"]), FieldChange("poster", None, "x")),
     "genres +2 −1, poster"),
    ((FieldChange("actors", ["a"], ["a", "b"]),), "actors +1"),
])
def test_describe(changes, text):
    assert describe(changes) == text


@pytest.mark.parametrize("url, clean", [
    (None, None),
    ("http://stash:9999/performer/1/image?t=5", "http://stash:9999/performer/1/image?t=5"),
    ("http://stash/p/1/image?apikey=K&t=5", "http://stash/p/1/image?t=5"),
    ("https://user:pw@stash/p/1/image", "https://stash/p/1/image"),
    ("http://stash/p?X-Plex-Token=T&session=s", "http://stash/p"),
])
def test_thumbs_handed_to_plex_carry_no_credentials(url, clean):
    assert strip_credentials(url) == clean


# -- a field a proxy's URL limit made PlexSync cut (issue 11) ------------------------------

LONG = "長い説明文" * 600
CUT = LONG[:900] + "…"


def test_a_cut_field_is_recorded_as_what_plex_holds():
    plan = plan_edits(item(summary="old"), snap(details=LONG), CFG, RECORD)
    assert plan.params["summary.value"] == LONG
    written, marks = record_cuts(plan, {"summary": CUT})
    assert written["summary"] == CUT and marks == {"summary": fingerprint(LONG)}


@pytest.mark.parametrize("details, plex_summary, sends_summary", [
    (LONG, CUT, False),              # Stash unchanged, Plex holds the cut text: in sync
    (LONG + "!", CUT, True),         # Stash's details changed: send (and maybe cut) again
    (LONG, "edited in Plex", True),  # someone changed it in Plex: Stash wins, as for any field
])
def test_a_cut_field_is_not_sent_again_until_stash_changes(details, plex_summary, sends_summary):
    record = {"written": dict(WRITTEN, summary=CUT), "cut": {"summary": fingerprint(LONG)}}
    plan = plan_edits(item(summary=plex_summary), snap(details=details), CFG, record)
    assert ("summary.value" in plan.params) is sends_summary
    assert ("summary" in plan.cut) is not sends_summary  # the mark goes once it is re-sent
    if not sends_summary:
        assert plan.params == {} and plan.written["summary"] == CUT


def test_a_cut_field_is_no_person_edit_under_preserve_plex_edits():
    record = {"written": dict(WRITTEN, summary=CUT), "cut": {"summary": fingerprint(LONG)}}
    plan = plan_edits(item(summary=CUT), snap(details=LONG), cfg(preserve_plex_edits=True), record)
    assert plan.params == {} and plan.preserved == ()
