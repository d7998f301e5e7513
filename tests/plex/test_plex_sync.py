"""sync_scene through the Plex emulator (real plexapi, real HTTP): matching, mirroring, images,
and the number of requests each scenario costs, counted from the emulator's request log."""
import dataclasses
import hashlib
import time

import pytest

from plex.client import PlexClient
from plex.errors import AmbiguousMatch, ItemNotFound
from plex.index import PathIndex
from plex.sync import sync_scene
from tests.emulators.plex_library import (MULTI_FILES, PART_I_FILE, PART_II_FILE, RICH_FILE,
                                          SAME_NAME_MOVIES_FILE, SAME_NAME_OTHER_FILE)
from validation.config import parse_config

COVER_1, COVER_2 = b"\x89PNG cover one", b"\x89PNG cover two"
# Stash's ?t= is the scene's updated_at; these lie in the future, so every fetch counts as "in
# the same second or before" and is repeated (the skip rule has tests of its own below).
_LATER = int(time.time()) + 86400
URL1, URL2, URL3 = (f"http://stash/scene/42/screenshot?t={_LATER + n}" for n in (1, 2, 3))
# What the small library's "Saga Part I" already holds, as Stash would describe it.
PART1 = dict(details="The first part.", studio="Saga Films", date="2020-05-01",
             tags=["Adventure"], performers=[{"name": "Ann Able", "image_url": None}])


def scene(*files, **fields):
    snapshot = {"id": "42", "title": "Stash Title", "details": "", "date": None, "studio": None,
                "parent_studio": None, "performers": [], "tags": [], "groups": [],
                "files": list(files), "cover_url": None, "updated_at": "2024-01-01T00:00:00Z"}
    snapshot.update(fields)
    return snapshot


class Rig:
    """One PlexSync data folder talking to the emulator; `sync` keeps the record like the worker."""

    def __init__(self, plex, data_dir, **settings):
        self.plex = plex
        self.cfg = parse_config({"plex_url": plex.url, "plex_token": plex.token, **settings})
        self.client = PlexClient(self.cfg, data_dir)
        self.index = PathIndex(data_dir)
        self.images = {URL1: COVER_1,
                       URL2: COVER_1,
                       URL3: COVER_2}
        self.fetched = []
        self.record = None

    def fetch_image(self, url):
        self.fetched.append(url)
        return self.images[url]

    def configure(self, **changes):
        self.cfg = dataclasses.replace(self.cfg, **changes)

    def sync(self, snapshot, **kwargs):
        result = sync_scene(self.client, self.index, self.cfg, snapshot, self.record,
                            self.fetch_image, **kwargs)
        if not kwargs.get("dry_run"):
            self.record = result.record
        return result

    def warm(self):
        """Connected and indexed, log cleared: the steady state the request budget is about."""
        self.index.ensure(self.client, self.cfg)
        self.client.ping()
        self.plex.clear_log()

    def requests(self):
        return [(r.method, r.path) for r in self.plex.requests]


@pytest.fixture
def rig(plex, tmp_path):
    return Rig(plex, tmp_path)


def test_docker_path_map_writes_the_right_item_and_plexapi_reads_it_back(plex, plex_library,
                                                                          plex_api, tmp_path):
    rig = Rig(plex, tmp_path, path_map="/stash/media => /data")
    before_part1 = plex.item(plex_library.keys["part1"])
    result = rig.sync(scene(
        "/stash/media/movies/Saga/Saga Part II.mkv", title="Part Two", details="Second.",
        date="2022-02-02", studio="Saga Films", parent_studio="Saga Group", groups=["Saga"],
        tags=["Adventure", "Epic"], performers=[{"name": "Bob", "image_url": None},
                                               {"name": "Ann Able", "image_url": None}]))
    assert (result.confidence, int(result.rating_key)) == ("HIGH", plex_library.keys["part2"])
    assert result.summary == "title, summary, date, genres +1, actors +1, collections +3"
    movie = plex_api.fetchItem(int(result.rating_key))
    assert (movie.title, movie.summary, movie.studio) == ("Part Two", "Second.", "Saga Films")
    assert movie.originallyAvailableAt.strftime("%Y-%m-%d") == "2022-02-02"
    assert [g.tag for g in movie.genres] == ["Adventure", "Epic"]
    assert [r.tag for r in movie.roles] == ["Bob", "Ann Able"]
    assert [c.tag for c in movie.collections] == ["Saga Films", "Saga Group", "Saga"]
    assert {"title", "summary", "genre", "actor", "collection"} <= set(
        plex.item(result.rating_key)["locks"])
    assert plex.item(plex_library.keys["part1"]) == before_part1  # Part I never touched


@pytest.mark.parametrize("stash_file, path_map", [
    ("/data/Sub/Clip One.mp4", "/data => D:\\Videos"),   # Linux Stash, Windows Plex
    ("d:/videos/sub/Clip One.mp4", ""),                  # Windows Stash, other case, no map
])
def test_windows_plex_paths(plex_empty, tmp_path, stash_file, path_map):
    section = plex_empty.add_section("Win", location="D:\\Videos")
    rk = plex_empty.add_item(section, "Clip One", files=["D:\\Videos\\Sub\\Clip One.mp4"])
    result = Rig(plex_empty, tmp_path, path_map=path_map).sync(scene(stash_file))
    assert (result.confidence, int(result.rating_key)) == ("HIGH", rk)
    assert plex_empty.item(rk)["title"] == "Stash Title"


def test_windows_scan_request_uses_plex_folder(plex_empty, tmp_path):
    section = plex_empty.add_section("Win", location="D:\\Videos")
    rig = Rig(plex_empty, tmp_path, path_map="/data => D:\\Videos")
    with pytest.raises(ItemNotFound) as caught:
        rig.sync(scene("/data/Sub/New.mp4"))
    assert caught.value.scan_requested
    assert [(s["section_id"], s["path"]) for s in plex_empty.scans] == [(section, "D:\\Videos\\Sub")]


@pytest.mark.parametrize("file, slug", [(PART_I_FILE, "part1"), (PART_II_FILE, "part2"),
                                        (SAME_NAME_MOVIES_FILE, "same_a"),
                                        (SAME_NAME_OTHER_FILE, "same_b"), (MULTI_FILES[1], "multi")])
def test_path_identity_never_mixes_up_look_alikes(rig, plex_library, file, slug):
    result = rig.sync(scene(file))
    assert (result.confidence, int(result.rating_key)) == ("HIGH", plex_library.keys[slug])
    titles = {s: rig.plex.item(k)["title"] for s, k in plex_library.keys.items()}
    assert [s for s, t in titles.items() if t == "Stash Title"] == [slug]


def test_multi_file_scene_on_one_item_is_high(rig, plex_library):
    assert rig.sync(scene(*MULTI_FILES)).confidence == "HIGH"


def test_scene_files_on_two_items_strict_vs_not(rig, plex, plex_library):
    with pytest.raises(AmbiguousMatch) as caught:
        rig.sync(scene(PART_I_FILE, PART_II_FILE))
    for slug in ("part1", "part2"):
        assert f"ratingKey {plex_library.keys[slug]}" in str(caught.value)
    assert "Saga Part I'" in str(caught.value) and PART_II_FILE in str(caught.value)
    assert plex.count("PUT") == 0
    rig.configure(strict_matching=False)
    result = rig.sync(scene(PART_I_FILE, PART_II_FILE))  # the primary file's item wins
    assert (result.confidence, int(result.rating_key)) == ("LOW", plex_library.keys["part1"])
    assert len(result.warnings) == 1
    assert "low-confidence" in result.warnings[0] and "Saga Part II" in result.warnings[0]


def test_file_name_only_fallback_is_low(rig, plex, plex_library):
    with pytest.raises(AmbiguousMatch) as caught:  # same name in two folders, wrong mount
        rig.sync(scene("/elsewhere/scene.mp4"))
    assert [c["file"] for c in caught.value.candidates] == [SAME_NAME_MOVIES_FILE,
                                                            SAME_NAME_OTHER_FILE]
    assert "check the Path map setting" in str(caught.value)
    with pytest.raises(AmbiguousMatch):  # even ONE file-name match is never written when strict
        rig.sync(scene("/elsewhere/Saga Part I.mkv"))
    assert plex.count("PUT") == 0
    rig.configure(strict_matching=False)
    result = rig.sync(scene("/elsewhere/Saga Part I.mkv"))
    assert (result.confidence, int(result.rating_key)) == ("LOW", plex_library.keys["part1"])


def test_moved_file_on_the_same_item_is_verified_by_the_reload_alone(rig, plex, plex_library):
    rig.sync(scene(PART_I_FILE))
    plex.set_item(plex_library.keys["part1"], files=["/data/movies/new/Part I.mkv"], lock=False)
    rig.warm()
    result = rig.sync(scene("/data/movies/new/Part I.mkv"))
    assert int(result.rating_key) == plex_library.keys["part1"] and result.summary == ""
    assert rig.requests() == [("GET", f"/library/metadata/{result.rating_key}")]


def test_moved_file_on_a_new_item_drops_the_cached_match(rig, plex, plex_library):
    rig.sync(scene(PART_I_FILE))
    new_rk = plex.add_item(plex_library.sections["movies"], "Saga Part I",
                           files=["/data/movies/moved/Saga Part I.mkv"])
    result = rig.sync(scene("/data/movies/moved/Saga Part I.mkv"))
    assert (result.confidence, int(result.rating_key)) == ("HIGH", new_rk)
    assert rig.record["rating_key"] == str(new_rk)
    assert plex.item(new_rk)["title"] == "Stash Title"


def test_removals_mirror_stash_down_to_empty(rig, plex, plex_library):
    rk = plex_library.keys["rich"]  # 5 genres incl. "Rock, Pop" and 'Say "Hi"', 5 actors
    result = rig.sync(scene(RICH_FILE, tags=["Drama", "Rock, Pop", 'Say "Hi"'],
                            performers=[{"name": "Ann Able"}, {"name": "Dan, Jr."}]))
    assert "genres −2" in result.summary and "actors −3" in result.summary
    assert plex.item(rk)["genres"] == ["Drama", "Rock, Pop", 'Say "Hi"']
    result = rig.sync(scene(RICH_FILE, tags=[], performers=[]))
    assert "genres −3" in result.summary and "actors −2" in result.summary
    assert plex.item(rk)["genres"] == [] and plex.item(rk)["actors"] == []
    assert rig.sync(scene(RICH_FILE, tags=[], performers=[])).summary == ""


def test_studio_change_moves_collections_and_keeps_foreign_ones(rig, plex, plex_library):
    rk = plex_library.keys["part1"]
    rig.sync(scene(PART_I_FILE, studio="Saga Films", groups=["Saga"]))
    plex.set_item(rk, collections=["Saga Films", "Saga", "Favourites"])  # a person adds one
    result = rig.sync(scene(PART_I_FILE, studio="New Films", groups=["Saga"]))
    assert "collections +1 −1" in result.summary
    assert sorted(plex.item(rk)["collections"]) == ["Favourites", "New Films", "Saga"]
    assert plex.item(rk)["studio"] == "New Films"


def test_cover_is_uploaded_only_when_its_bytes_change(rig, plex, plex_library):
    rk = plex_library.keys["part1"]
    first = rig.sync(scene(PART_I_FILE, cover_url=URL1))
    assert first.summary.endswith("poster, background") and plex.count("POST") == 2
    assert plex.item(rk)["posterSha1"] == hashlib.sha1(COVER_1).hexdigest()
    assert plex.item(rk)["artSha1"] == hashlib.sha1(COVER_1).hexdigest()
    rig.warm()
    assert rig.sync(scene(PART_I_FILE, cover_url=URL1)).summary == ""
    assert rig.sync(scene(PART_I_FILE, cover_url=URL2)).summary == ""
    assert len(rig.fetched) == 3 and plex.count("POST") == 0  # fetched from Stash, same bytes
    assert rig.requests() == [("GET", f"/library/metadata/{rk}")] * 2
    # Replaced within the same second: same URL, new bytes -> uploaded all the same.
    rig.images[URL2] = COVER_2
    assert rig.sync(scene(PART_I_FILE, cover_url=URL2)).summary \
        == "poster, background"
    rig.images[URL3] = COVER_1
    plex.clear_log()
    rig.configure(sync_background=False)
    result = rig.sync(scene(PART_I_FILE, cover_url=URL3))
    assert result.summary == "poster" and plex.count("POST") == 1
    assert plex.item(rk)["posterSha1"] == hashlib.sha1(COVER_1).hexdigest()


def test_cover_fetch_failure_is_a_warning_and_metadata_lands(rig, plex, plex_library):
    result = rig.sync(scene(PART_I_FILE, cover_url="http://stash/scene/42/screenshot?apikey=K"))
    assert result.summary.startswith("title,") and "poster" not in result.summary
    assert plex.item(plex_library.keys["part1"])["title"] == "Stash Title"
    assert plex.count("POST") == 0
    assert "could not fetch the cover" in result.warnings[0] and "=K" not in result.warnings[0]
    rig.images["http://stash/scene/42/screenshot?apikey=K"] = COVER_1
    assert rig.sync(scene(PART_I_FILE, cover_url="http://stash/scene/42/screenshot?apikey=K")
                    ).summary == "poster, background"  # retried on the next sync


@pytest.mark.parametrize("preserve, expected", [(True, "Typed in Plex"), (False, "Stash v2")])
def test_preserve_plex_edits_both_ways(plex, plex_library, tmp_path, preserve, expected):
    rig = Rig(plex, tmp_path, preserve_plex_edits=preserve)
    rk = plex_library.keys["part1"]
    rig.sync(scene(PART_I_FILE, title="Stash v1", tags=["A"]))
    plex.set_item(rk, title="Typed in Plex")
    rig.sync(scene(PART_I_FILE, title="Stash v2", tags=["A", "B"]))
    assert plex.item(rk)["title"] == expected
    assert plex.item(rk)["genres"] == ["A", "B"]  # untouched fields still follow Stash


def test_not_found_asks_plex_to_scan_once_then_matches(rig, plex, plex_library):
    plex.add_pending_file(plex_library.sections["movies"], "/data/movies/new/New.mp4", "New")
    with pytest.raises(ItemNotFound) as caught:
        rig.sync(scene("/data/movies/new/New.mp4"))
    assert caught.value.scan_requested and "asked Plex to scan /data/movies/new" in str(caught.value)
    assert [s["path"] for s in plex.scans] == ["/data/movies/new"]
    result = rig.sync(scene("/data/movies/new/New.mp4"), allow_scan=False)  # the worker's retry
    assert result.confidence == "HIGH" and len(plex.scans) == 1


@pytest.mark.parametrize("settings, kwargs, reason", [
    ({"trigger_plex_scan": False}, {}, "no Plex item has the file"),
    ({}, {"allow_scan": False}, "no Plex item has the file"),
    ({}, {"dry_run": True}, "no Plex item has the file"),
    ({}, {"file": "/outside/x.mp4"}, "no Plex library folder contains it"),
])
def test_not_found_without_a_scan(plex, plex_library, tmp_path, settings, kwargs, reason):
    rig = Rig(plex, tmp_path, **settings)
    file = kwargs.pop("file", "/data/movies/none.mp4")
    with pytest.raises(ItemNotFound, match=reason) as caught:
        rig.sync(scene(file), **kwargs)
    assert not caught.value.scan_requested and plex.scans == []


def test_field_toggles_leave_plex_fields_alone(plex, plex_library, tmp_path):
    rig = Rig(plex, tmp_path, sync_title=False, sync_tags=False, sync_poster=False)
    rk = plex_library.keys["part1"]
    result = rig.sync(scene(PART_I_FILE, **dict(PART1, tags=["X"], details="New summary"),
                            cover_url=URL1))
    assert result.summary == "summary, collections +1, background"
    item = plex.item(rk)
    assert (item["title"], item["genres"], item["posterSha1"]) == ("Saga Part I", ["Adventure"], None)


def test_request_budget_per_scenario(rig, plex, plex_library):
    rk = plex_library.keys["part1"]
    rig.warm()  # index warm, no record yet: match costs nothing, the reload 1 GET
    rig.sync(scene(PART_I_FILE, cover_url=URL1))
    put_path = f"/library/sections/{plex_library.sections['movies']}/all"
    assert rig.requests() == [("GET", f"/library/metadata/{rk}"), ("PUT", put_path),
                              ("POST", f"/library/metadata/{rk}/posters"),
                              ("POST", f"/library/metadata/{rk}/arts")]
    put = plex.records("PUT")[0]
    assert (put.query["type"], put.query["id"]) == ("1", str(rk))
    plex.clear_log()  # changed scene, steady state: 1 GET + 1 PUT
    rig.sync(scene(PART_I_FILE, title="Changed", tags=["A", "B"],
                   cover_url=URL1))
    assert rig.requests() == [("GET", f"/library/metadata/{rk}"), ("PUT", put_path)]
    plex.clear_log()  # unchanged re-sync: no write at all
    assert rig.sync(scene(PART_I_FILE, title="Changed", tags=["A", "B"],
                          cover_url=URL1)).summary == ""
    assert rig.requests() == [("GET", f"/library/metadata/{rk}")]


def test_dry_run_writes_nothing(rig, plex, plex_library):
    rk = plex_library.keys["part1"]
    before = plex.item(rk)
    result = rig.sync(scene(PART_I_FILE, **dict(PART1, tags=["New"]),
                            cover_url=URL1), dry_run=True)
    assert result.summary == "title, genres +1 −1, collections +1, poster, background"
    assert [(c.field, c.old, c.new) for c in result.changes][:2] == [
        ("title", "Saga Part I", "Stash Title"), ("genres", ["Adventure"], ["New"])]
    assert plex.count("PUT") == plex.count("POST") == 0 and rig.fetched == []
    assert plex.item(rk) == before and result.record == {}


def test_item_recreated_in_plex_is_matched_again(rig, plex, plex_library):
    rig.sync(scene(PART_I_FILE))
    plex.remove_item(plex_library.keys["part1"])  # e.g. Plex re-created it after "empty trash"
    new_rk = plex.add_item(plex_library.sections["movies"], "Saga Part I", files=[PART_I_FILE])
    assert int(rig.sync(scene(PART_I_FILE)).rating_key) == new_rk


def test_stale_index_entry_is_corrected_not_trusted(rig, plex, plex_library):
    rig.warm()
    plex.set_item(plex_library.keys["part1"], files=["/data/movies/gone.mkv"], lock=False)
    with pytest.raises(ItemNotFound):  # the index still says part1 has the file; the reload not
        rig.sync(scene(PART_I_FILE), allow_scan=False)
    assert rig.index.lookup(PART_I_FILE) == [] and plex.count("PUT") == 0


def test_scene_without_files_and_scene_without_cover(rig, plex, plex_library):
    with pytest.raises(ItemNotFound, match="no file"):
        rig.sync(scene())
    rig.images["http://stash/placeholder"] = b""  # what fetch_image gives for Stash's SVG
    result = rig.sync(scene(PART_I_FILE, cover_url="http://stash/placeholder"))
    assert result.warnings == () and plex.count("POST") == 0
