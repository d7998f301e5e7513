"""PathIndex through the Plex emulator: raw-XML build, paging, incremental refresh, scale.
(Speed is measured by bench/index_build.py, not asserted here.)"""
import dataclasses

import pytest

from plex.client import PlexClient
from plex.errors import PlexSettingsError
from plex.index import FULL_PAGE, FULL_REREAD_EVERY, RECENT_PAGE, PathIndex
from plex.item_state import ItemState
from plex.matcher import match
from tests.plex.test_plex_emulator import raw, xml_of
from tests.emulators.plex_library import (MULTI_FILES, PART_I_FILE, PART_II_FILE,
                                          SAME_NAME_MOVIES_FILE, SAME_NAME_OTHER_FILE,
                                          load_generated_library)
from validation.config import parse_config


def settings(plex, **extra):
    return parse_config({"plex_url": plex.url, "plex_token": plex.token, **extra})


@pytest.fixture
def built(plex, tmp_path):
    """(cfg, client, index) with the index built over the small library; log cleared."""
    cfg = settings(plex)
    client, index = PlexClient(cfg, tmp_path), PathIndex(tmp_path)
    index.ensure(client, cfg)
    plex.clear_log()
    yield cfg, client, index
    index.close()


def keys(entries):
    return [int(e.rating_key) for e in entries]


def test_every_file_of_every_movie_section_is_indexed(built, plex_library):
    _, _, index = built
    k = plex_library.keys
    assert keys(index.lookup(PART_I_FILE)) == [k["part1"]]
    assert keys(index.lookup(PART_II_FILE)) == [k["part2"]]
    assert keys(index.lookup(SAME_NAME_MOVIES_FILE)) == [k["same_a"]]
    assert keys(index.lookup(SAME_NAME_OTHER_FILE)) == [k["same_b"]]
    assert [keys(index.lookup(f)) for f in MULTI_FILES] == [[k["multi"]], [k["multi"]]]
    assert keys(index.lookup_basename("/anywhere/SCENE.mp4")) == [k["same_a"], k["same_b"]]
    assert index.lookup("/data/movies/Saga/Saga Part") == []
    entry = index.lookup(PART_I_FILE)[0]
    assert (entry.title, entry.section_id, entry.file) == ("Saga Part I", "1", PART_I_FILE)


def test_plex_libraries_limits_the_sections(plex, tmp_path):
    cfg = settings(plex, plex_libraries="other videos")  # titles compare case-insensitively
    index = PathIndex(tmp_path)
    index.ensure(PlexClient(cfg, tmp_path), cfg)
    assert index.lookup(PART_I_FILE) == [] and len(index.lookup(SAME_NAME_OTHER_FILE)) == 1
    assert [s["title"] for s in index.sections()] == ["Other Videos"]


def test_unknown_library_title_names_the_setting(plex, tmp_path):
    cfg = settings(plex, plex_libraries="Nope")
    with pytest.raises(PlexSettingsError, match=r"Plex libraries setting names Nope.*Movies, Other Videos"):
        PathIndex(tmp_path).ensure(PlexClient(cfg, tmp_path), cfg)
    cfg = settings(plex, plex_libraries="Nope, Movies")  # one good title: use it, warn
    index = PathIndex(tmp_path)
    index.ensure(PlexClient(cfg, tmp_path), cfg)
    assert [s["title"] for s in index.sections()] == ["Movies"]


def test_warm_index_costs_no_request_and_survives_the_process(built, plex, tmp_path):
    cfg, client, index = built
    index.ensure(client, cfg)
    again = PathIndex(tmp_path)  # a new process opening the same data folder
    again.ensure(client, cfg)
    assert len(again.lookup(PART_I_FILE)) == 1
    assert plex.count() == 0


def test_changed_server_or_libraries_rebuilds(built, plex):
    cfg, client, index = built
    index.ensure(client, dataclasses.replace(cfg, plex_libraries=("Movies",)))
    assert plex.count("GET", "/library/sections") > 0
    assert index.lookup(SAME_NAME_OTHER_FILE) == []


def test_incremental_refresh_reads_only_the_newest_page(built, plex, plex_library):
    cfg, client, index = built
    rk = plex.add_item(plex_library.sections["movies"], "New One", files=["/data/movies/new.mp4"])
    index.refresh(client, cfg)
    assert keys(index.lookup("/data/movies/new.mp4")) == [rk]
    pages = plex.records("GET", "/library/sections/1/all")
    assert len(pages) == 1 and pages[0].query["sort"] == "updatedAt:desc"
    assert len(plex.records("GET", "/library/sections/2/all")) == 1  # nothing new there


def test_a_file_moved_in_plex_is_re_read(built, plex, plex_library):
    cfg, client, index = built
    plex.set_item(plex_library.keys["part1"], files=["/data/movies/moved/Part I.mkv"])
    index.refresh(client, cfg)
    assert index.lookup(PART_I_FILE) == []
    assert keys(index.lookup("/data/movies/moved/Part I.mkv")) == [plex_library.keys["part1"]]


def test_deleted_item_makes_the_count_disagree_and_the_section_rebuild(built, plex, plex_library):
    cfg, client, index = built
    plex.remove_item(plex_library.keys["part1"])
    index.refresh(client, cfg)
    assert index.lookup(PART_I_FILE) == []
    full = [r for r in plex.records("GET", "/library/sections/1/all")
            if r.query.get("X-Plex-Container-Size") == str(FULL_PAGE)]
    assert len(full) == 1 and index.item_count("1") == 5


def test_correct_and_forget_item(built, plex_library):
    _, _, index = built
    rk = str(plex_library.keys["part1"])
    index.correct_item(ItemState(rating_key=rk, section_id="1", files=("/data/movies/x.mkv",)))
    assert index.lookup(PART_I_FILE) == [] and keys(index.lookup("/data/movies/x.mkv")) == [int(rk)]
    index.forget_item(rk)
    assert index.lookup("/data/movies/x.mkv") == [] and index.item_count("1") == 5


def test_large_section_is_read_in_large_pages(plex_empty, tmp_path):
    section = load_generated_library(plex_empty, 12_000)
    cfg = settings(plex_empty)
    index = PathIndex(tmp_path)
    index.ensure(PlexClient(cfg, tmp_path), cfg)
    pages = plex_empty.records("GET", f"/library/sections/{section}/all")
    assert [int(r.query["X-Plex-Container-Start"]) for r in pages] == list(
        range(0, 12_000, FULL_PAGE))  # every page once, in order, fetched one page ahead
    assert index.item_count(str(section)) == 12_000
    assert keys(index.lookup("/data/big/011/scene_011999.mp4")) == [12_000]


def test_index_pages_ask_plex_only_for_what_the_index_reads(plex, plex_library, tmp_path):
    plex.set_item(plex_library.keys["part1"], guids=["imdb://tt0000001"], lock=False)
    cfg = settings(plex)
    index = PathIndex(tmp_path)
    index.ensure(PlexClient(cfg, tmp_path), cfg)
    pages = plex.records("GET", "/library/sections/1/all")
    assert pages
    for page in pages:
        excluded = set(page.query["excludeElements"].split(","))
        assert {"Genre", "Role", "Director", "Writer", "Country", "Collection"} <= excluded
        assert not excluded & {"Media", "Part"}  # they carry the files
        assert set(page.query["excludeFields"].split(",")) == {"summary", "tagline"}
        assert page.query["includeGuids"] == "0"
    # What Plex answers that request holds no tag and no summary, and every file.
    answer = xml_of(raw(plex, "/library/sections/1/all", **pages[0].query))
    assert answer.findall("Video/Genre") == answer.findall("Video/Role") == []
    assert answer.findall("Video/Guid") == []
    assert all(v.get("summary") is None for v in answer.iter("Video"))
    files = {p.get("file") for p in answer.findall("Video/Media/Part")}
    assert files >= {PART_I_FILE, PART_II_FILE, *MULTI_FILES}
    assert len(index.lookup(PART_I_FILE)) == 1


def part_indexes(index) -> set:
    return {row[1] for row in index._db.execute("PRAGMA index_list(parts)")}


def test_a_build_leaves_the_lookup_indexes_in_place_even_when_it_fails(plex, plex_library,
                                                                      tmp_path):
    index = PathIndex(tmp_path)
    expected = {"parts_by_path", "parts_by_base", "parts_by_item"}
    assert part_indexes(index) == expected
    cfg = settings(plex)
    index.ensure(PlexClient(cfg, tmp_path), cfg)  # built without them, then given them back
    assert part_indexes(index) == expected
    plan = index._db.execute("EXPLAIN QUERY PLAN SELECT * FROM parts WHERE path_key = ?",
                             (PART_I_FILE,)).fetchall()
    assert "parts_by_path" in str(plan)
    bad = settings(plex, plex_libraries="Nope")
    with pytest.raises(PlexSettingsError):
        index.ensure(PlexClient(bad, tmp_path), bad)
    assert part_indexes(index) == expected


@pytest.mark.slow
def test_50k_items_are_all_indexed_in_large_pages_and_matched(plex_empty, tmp_path):
    # Correctness at scale only: how fast this is lives in bench/index_build.py (figure 4).
    section = load_generated_library(plex_empty, 50_000)
    cfg = settings(plex_empty)
    client, index = PlexClient(cfg, tmp_path), PathIndex(tmp_path)
    index.ensure(client, cfg)
    pages = plex_empty.records("GET", f"/library/sections/{section}/all")
    starts = [int(r.query["X-Plex-Container-Start"]) for r in pages]
    assert starts == list(range(0, 50_000, FULL_PAGE))
    assert index.item_count(str(section)) == 50_000
    with plex_empty.state.lock:  # the emulator's own truth, read in one pass
        truth = {p.file: i.rating_key for i in plex_empty.state.items.values() for p in i.parts}
    assert len(truth) == 50_000
    for i in range(0, 50_000, 50):
        path = f"/data/big/{i // 1000:03d}/scene_{i:06d}.mp4"
        assert keys(index.lookup(path)) == [truth[path]], path
        found = match(client, index, cfg, {"id": str(i), "files": [path]})
        assert (found.confidence, int(found.rating_key)) == ("HIGH", truth[path])
    plex_empty.clear_log()
    match(client, index, cfg, {"id": "x", "files": ["/data/big/049/scene_049999.mp4"]})
    assert plex_empty.requests == []  # a warm match asks Plex nothing


def test_incremental_refresh_pages_until_a_known_item(built, plex, plex_library):
    cfg, client, index = built
    rows = [{"title": f"n{i}", "files": [f"/data/movies/n/{i}.mp4"], "updatedAt": 1_800_000_000}
            for i in range(RECENT_PAGE + 50)]
    plex.add_items(plex_library.sections["movies"], rows)
    index.refresh(client, cfg)
    assert index.item_count("1") == 6 + RECENT_PAGE + 50  # no rebuild was needed
    pages = plex.records("GET", "/library/sections/1/all")
    assert [r.query["X-Plex-Container-Start"] for r in pages] == ["0", str(RECENT_PAGE)]


# -- issue 11: what real PMS sends --------------------------------------------------------

def test_raw_control_characters_anywhere_in_a_page_are_stripped_like_plexapi(plex, tmp_path):
    cfg = settings(plex)
    movies = plex.add_section("Movies", location="/data/movies")
    good = plex.add_item(movies, "Good", files=["/data/movies/good.mp4"])
    plex.add_item(movies, "Bad\x04\x1b", files=["/data/movies/b\x01ad.mp4"], summary="\x07")
    index = PathIndex(tmp_path)
    index.ensure(PlexClient(cfg, tmp_path), cfg)
    assert keys(index.lookup("/data/movies/good.mp4")) == [good]
    assert index.item_count(str(movies)) == 2
    assert len(index.lookup("/data/movies/bad.mp4")) == 1  # as plexapi would read it


def test_nested_extras_are_not_library_items_and_cause_no_rebuilds(built, plex, plex_library):
    cfg, client, index = built
    trailer = "/data/movies/Saga/Trailers/trailer.mp4"
    plex.set_item(plex_library.keys["part1"], extras=[{"title": "Trailer", "file": trailer}],
                  lock=False)
    index.refresh(client, cfg)
    assert index.lookup(trailer) == []
    assert keys(index.lookup(PART_I_FILE)) == [plex_library.keys["part1"]]
    assert index.item_count("1") == 6  # the count agrees with Plex's: no rebuild next time
    plex.clear_log()
    index.refresh(client, cfg)
    assert [r.query.get("X-Plex-Container-Size") for r in plex.records(
        "GET", "/library/sections/1/all")] == [str(RECENT_PAGE)]


def test_a_renamed_file_is_found_by_a_bounded_full_re_read(built, plex, plex_library):
    cfg, client, index = built
    rk = plex_library.keys["part2"]
    plex.rename_file(PART_II_FILE, "/data/movies/Saga/renamed.mkv")  # updatedAt unchanged
    index.refresh(client, cfg)
    assert index.lookup("/data/movies/Saga/renamed.mkv") == []  # incremental cannot see it
    assert index.reread_sections_holding(client, ["/data/movies/Saga/renamed.mkv"], now=1000.0)
    assert keys(index.lookup("/data/movies/Saga/renamed.mkv")) == [rk]
    # A second miss soon after does not re-read again; after FULL_REREAD_EVERY it does.
    plex.rename_file("/data/movies/Saga/renamed.mkv", "/data/movies/Saga/again.mkv")
    assert not index.reread_sections_holding(client, ["/data/movies/Saga/again.mkv"],
                                              now=1000.0 + FULL_REREAD_EVERY - 1)
    assert index.lookup("/data/movies/Saga/again.mkv") == []
    assert index.reread_sections_holding(client, ["/data/movies/Saga/again.mkv"],
                                         now=1000.0 + FULL_REREAD_EVERY)
    assert keys(index.lookup("/data/movies/Saga/again.mkv")) == [rk]
    # A path outside every library folder never costs a re-read.
    assert not index.reread_sections_holding(client, ["/elsewhere/x.mkv"], now=99_999.0)


def test_a_renamed_file_is_matched_to_the_same_item(built, plex, plex_library):
    cfg, client, index = built
    plex.rename_file(PART_I_FILE, "/data/movies/Saga/Part One.mkv")
    found = match(client, index, cfg, {"id": "1", "files": ["/data/movies/Saga/Part One.mkv"]})
    assert (found.confidence, int(found.rating_key)) == ("HIGH", plex_library.keys["part1"])


def test_a_tv_show_library_is_refused_with_the_reason(plex, plex_library, tmp_path):
    plex.add_section("TV Shows", type="show", location="/data/tv")
    cfg = settings(plex, plex_libraries="TV Shows")
    with pytest.raises(PlexSettingsError, match=r"'TV Shows' is a TV-show library .*episodes.*"
                                             r"Remove it from Plex libraries \(plex_libraries\)"):
        PathIndex(tmp_path).ensure(PlexClient(cfg, tmp_path), cfg)
    cfg = settings(plex, plex_libraries="TV Shows, Movies")  # with a movie library: warn, go on
    index = PathIndex(tmp_path)
    index.ensure(PlexClient(cfg, tmp_path), cfg)
    assert [s["title"] for s in index.sections()] == ["Movies"]
