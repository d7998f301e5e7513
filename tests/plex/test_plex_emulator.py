"""The Plex emulator, driven by the real plexapi 4.18 (and raw HTTP where plexapi hides the wire).

Faults (down, fail, latency, hang, drop) live in test_plex_emulator_faults.py.
"""
from __future__ import annotations

import base64
import hashlib
from xml.etree import ElementTree

import pytest
import requests
from plexapi.exceptions import BadRequest, NotFound, Unauthorized
from plexapi.server import PlexServer

from tests.emulators.plex_server import PlexEmulator
from tests.emulators.plex_library import (ESCAPING_FILE, MULTI_FILES, PART_I_FILE, RICH_ACTORS,
                                          RICH_FILE, RICH_GENRES, load_generated_library)

PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9Q"
                       "DwADhgGAWjR9awAAAABJRU5ErkJggg==")


def raw(plex, path, token="plex-token", headers=None, **params):
    """GET without plexapi: what a raw-XML client (PlexSync's path index) sees."""
    hdrs = {"X-Plex-Token": token} if token else {}
    hdrs.update(headers or {})
    return requests.get(plex.url + path, params=params, headers=hdrs, timeout=5)


def xml_of(response):
    assert response.status_code == 200, response.text
    return ElementTree.fromstring(response.content)


# ---- server, sections, metadata ------------------------------------------------------------
def test_server_identity_and_sections(plex, plex_api):
    assert plex_api.friendlyName == "PlexSync Emulator"
    assert plex_api.machineIdentifier == plex.machine_identifier and plex_api.version
    assert plex_api.identity().machineIdentifier == plex.machine_identifier
    movies, other = plex_api.library.sections()
    assert (movies.title, movies.type, movies.locations) == ("Movies", "movie", ["/data/movies"])
    assert movies.agent and movies.scanner and movies.uuid and other.key == 2
    assert raw(plex, "/identity", token=None).status_code == 200   # open, like real PMS


def test_metadata_has_every_field_plexapi_reads(plex, plex_library, plex_api):
    movie = plex_api.fetchItem(plex_library.keys["rich"])
    assert (movie.type, movie.librarySectionID, movie.librarySectionTitle) == ("movie", 1, "Movies")
    assert movie.key == f"/library/metadata/{movie.ratingKey}"
    assert movie.summary == "Many tags.\nSecond line."
    assert (movie.studio, movie.year, movie.contentRating) == ("Big Studio", 2021, "R")
    assert movie.originallyAvailableAt.strftime("%Y-%m-%d") == "2021-12-24"
    assert [g.tag for g in movie.genres] == RICH_GENRES
    assert [(r.tag, r.role or "", r.thumb) for r in movie.roles] == [
        (a["tag"], a["role"], a["thumb"]) for a in RICH_ACTORS]
    assert [c.tag for c in movie.collections] == ["Big Studio", "Parent Co"]
    assert [lb.tag for lb in movie.labels] == ["fav"] and movie.directors[0].tag == "Dee Rector"
    assert movie.isLocked("title") and not movie.isLocked("summary")
    assert movie.media[0].parts[0].file == RICH_FILE
    assert movie.addedAt and movie.updatedAt and movie.thumb.startswith("/library/metadata/")
    root = xml_of(raw(plex, f"/library/metadata/{movie.ratingKey}"))
    assert root.get("librarySectionID") == "1" and root[0].get("librarySectionID") == "1"


def test_multi_key_fetch_and_unknown_key(plex, plex_api):
    keys = plex.find_by_file(PART_I_FILE) + plex.find_by_file(MULTI_FILES[1])
    items = plex_api.fetchItems(keys)
    assert [i.ratingKey for i in items] == keys
    assert [p.file for p in items[1].iterParts()] == MULTI_FILES
    with pytest.raises(NotFound):
        plex_api.fetchItem(99999)
    assert raw(plex, "/library/metadata/99999").status_code == 404


def test_escaping_round_trips_through_xml(plex, plex_api):
    movie = plex_api.fetchItem(plex.find_by_file(ESCAPING_FILE)[0])
    assert movie.title == 'Quotes "&" <Brackets>' and movie.studio == "A&B"
    assert movie.summary == "Line one\nLine\ttwo & <three>"


# ---- listing: paging, totals, search, sort, truncation -------------------------------------
def test_paging_by_headers_and_by_query_params(plex):
    path = "/library/sections/1/all"
    by_headers = xml_of(raw(plex, path, headers={"X-Plex-Container-Start": "2",
                                                 "X-Plex-Container-Size": "3"}, type=1))
    by_params = xml_of(raw(plex, path, **{"X-Plex-Container-Start": 2,
                                          "X-Plex-Container-Size": 3, "type": 1}))
    for root in (by_headers, by_params):
        assert (root.get("size"), root.get("totalSize"), root.get("offset")) == ("3", "6", "2")
        assert len(root.findall("Video")) == 3
    assert [v.get("ratingKey") for v in by_headers] == [v.get("ratingKey") for v in by_params]
    count_only = xml_of(raw(plex, path, includeGuids=1, **{"X-Plex-Container-Size": 0}))
    assert (count_only.get("size"), count_only.get("totalSize"), len(count_only)) == ("0", "6", 0)


def test_plexapi_all_walks_every_page(plex, plex_api):
    section = plex_api.library.sectionByID(1)
    plex.clear_log()
    keys = [m.ratingKey for m in section.all(container_size=2)]
    assert sorted(keys) == sorted(plex.find_by_title("Scene")[:1] + [1, 2, 5, 6, 7])
    assert plex.count("GET", "/library/sections/1/all") == 3
    assert section.totalSize == 6


def test_title_search_is_partial_and_case_insensitive(plex, plex_api):
    section = plex_api.library.section("Movies")
    assert sorted(m.title for m in section.search(title="SAGA part")) == ["Saga Part I",
                                                                           "Saga Part II"]
    assert [m.title for m in section.search(title="two")] == ["Two Discs"]
    assert xml_of(raw(plex, "/library/sections/2/all", title="scene")).get("totalSize") == "1"


def test_sort_newest_first(plex, plex_api):
    section = plex_api.library.section("Movies")
    newest_added = [m.ratingKey for m in section.search(sort="addedAt:desc")]
    assert newest_added == sorted(newest_added, reverse=True)
    plex.set_item(plex.find_by_file(PART_I_FILE)[0], summary="edited", updatedAt=1_900_000_000)
    root = xml_of(raw(plex, "/library/sections/1/all", sort="updatedAt:desc"))
    assert root[0].get("title") == "Saga Part I"
    assert raw(plex, "/library/sections/1/all", sort="bogus:desc").status_code == 400


def test_list_views_truncate_tags_like_pms(plex, plex_api):
    root = xml_of(raw(plex, "/library/sections/1/all", title="Rich"))
    video = root.find("Video")
    assert len(video.findall("Genre")) == 2 and len(video.findall("Role")) == 3
    assert video.findall("Collection") == [] and video.findall("Field") == []
    assert video.find("Media/Part").get("file") == RICH_FILE      # parts are never truncated
    partial = plex_api.library.section("Movies").get("Rich Tags")
    assert len(partial.genres) == 2                                # plexapi does not notice
    plex.clear_log()
    assert len(partial.collections) == 2          # empty on a list object -> silent reload()
    assert plex.count("GET", "/library/metadata") == 1
    assert len(partial.genres) == 5 and len(partial.roles) == 5


def test_exclusions_leave_out_what_pms_leaves_out_and_ignore_the_rest(plex):
    """excludeElements drops child elements by name; excludeFields only summary, tagline and
    a Part's file (PMS ignores any other field name, e.g. studio); both on /all and metadata."""
    plain = xml_of(raw(plex, "/library/sections/1/all", title="Rich")).find("Video")
    lean = xml_of(raw(plex, "/library/sections/1/all", title="Rich",
                      excludeElements="Genre,Role", excludeFields="summary,tagline,studio"))
    video = lean.find("Video")
    assert plain.findall("Genre") and plain.get("summary") and plain.get("tagline")
    assert video.findall("Genre") == [] and video.findall("Role") == []
    assert video.get("summary") is None and video.get("tagline") is None
    assert video.get("studio") == "Big Studio" and video.get("title") == "Rich Tags"
    assert video.find("Media/Part").get("file") == RICH_FILE
    rk = video.get("ratingKey")
    no_files = xml_of(raw(plex, f"/library/metadata/{rk}", excludeFields="file")).find("Video")
    assert no_files.find("Media/Part").get("file") is None
    assert no_files.find("Media/Part").get("size")  # the Part itself stays
    no_parts = xml_of(raw(plex, "/library/sections/1/all", title="Rich", excludeElements="Part"))
    media = no_parts.find("Video/Media")
    assert media.find("Part") is None and media.get("partCount") == "1"
    no_media = xml_of(raw(plex, "/library/sections/1/all", title="Rich", excludeElements="Media"))
    assert no_media.find("Video/Media") is None


def test_guids_are_listed_only_when_asked_and_always_in_metadata(plex, plex_api):
    rk = plex.add_item(1, "Matched", files=["/data/movies/matched.mkv"],
                       guids=["imdb://tt0000001", "tmdb://42"])
    listed = lambda **q: xml_of(raw(plex, "/library/sections/1/all", title="Matched", **q))
    assert listed().findall("Video/Guid") == listed(includeGuids=0).findall("Video/Guid") == []
    assert [g.get("id") for g in listed(includeGuids=1).findall("Video/Guid")] == [
        "imdb://tt0000001", "tmdb://42"]
    assert len(xml_of(raw(plex, f"/library/metadata/{rk}")).findall("Video/Guid")) == 2
    assert [g.id for g in plex_api.library.section("Movies").get("Matched").guids] == [
        "imdb://tt0000001", "tmdb://42"]  # plexapi's search sends includeGuids=1


def test_editing_tags_of_a_list_object_loses_the_rest(plex, plex_api):
    """The trap the truncation exists for: addGenre on a list object rewrites 2 + 1 genres."""
    partial = plex_api.library.section("Movies").get("Rich Tags")
    partial.addGenre("New")
    assert plex.item(partial.ratingKey)["genres"] == RICH_GENRES[:2] + ["New"]


# ---- edits ---------------------------------------------------------------------------------
def test_round_trip_batch_edits(plex, plex_api):
    rk = plex.find_by_file(PART_I_FILE)[0]
    movie = plex_api.fetchItem(rk)
    actors = [("Zoë Zed", "Lead, \"the\" one", "http://img/zoe.jpg?a=1&b=2"), ("Yan 楊", "", "")]
    edits = {"genre.locked": 1, "actor.locked": 1, "collection.locked": 1}
    for i, name in enumerate(["Rock, Pop", 'Say "Hi"', "Drama"]):
        edits[f"genre[{i}].tag.tag"] = name
    for i, (name, role, thumb) in enumerate(actors):
        edits.update({f"actor[{i}].tag.tag": name, f"actor[{i}].tagging.text": role,
                      f"actor[{i}].tag.thumb": thumb})
    edits.update({"collection[0].tag.tag": "Studio & Co", "collection[1].tag.tag": "Série"})
    plex.clear_log()
    movie.batchEdits()
    movie.editTitle("Título: \"Uno\" & <dos>").editSummary("Line 1\nLine 2 ✓ שלום")
    movie.editStudio("Studio & Co").editOriginallyAvailable("2024-01-31").edit(**edits)
    movie.saveEdits()
    assert plex.count("PUT") == 1 and plex.count("GET", "/library/metadata") == 0
    movie.reload()
    assert movie.title == "Título: \"Uno\" & <dos>"
    assert movie.summary == "Line 1\nLine 2 ✓ שלום"
    assert movie.studio == "Studio & Co"
    assert movie.originallyAvailableAt.strftime("%Y-%m-%d") == "2024-01-31"
    assert [g.tag for g in movie.genres] == ["Rock, Pop", 'Say "Hi"', "Drama"]
    assert [(r.tag, r.role or "", r.thumb or "") for r in movie.roles] == actors
    assert [c.tag for c in movie.collections] == ["Studio & Co", "Série"]
    assert all(movie.isLocked(f) for f in ("title", "summary", "studio", "originallyAvailableAt",
                                           "genre", "actor", "collection"))
    state = plex.item(rk)
    assert state["genres"] == ["Rock, Pop", 'Say "Hi"', "Drama"]
    assert state["actors"][0] == {"tag": "Zoë Zed", "role": 'Lead, "the" one',
                                  "thumb": "http://img/zoe.jpg?a=1&b=2"}
    assert state["updatedAt"] >= movie.addedAt.timestamp()


def test_tag_list_replaces_and_minus_removes(plex, plex_api):
    rk = plex.find_by_file(RICH_FILE)[0]
    movie = plex_api.fetchItem(rk)
    movie.removeGenre(["Rock, Pop", 'Say "Hi"', "Ünïcødé ✓", "not there"])
    assert plex.item(rk)["genres"] == ["Drama", "Sci Fi"]
    movie.edit(**{"actor[].tag.tag-": "Bob O'Brien,Dan%2C Jr."})         # pre-quoted, like plexapi
    movie.editTags("actor", ["Eve 李"], remove=True)
    assert [a["tag"] for a in plex.item(rk)["actors"]] == ["Ann Able", "Chloé Durand"]
    movie.edit(**{"genre[0].tag.tag": "Only", "type": 1})
    assert plex.item(rk)["genres"] == ["Only"]
    movie.edit(**{"actor[0].tag.tag": "Ann Able"})                       # role not sent again
    assert plex.item(rk)["actors"] == [{"tag": "Ann Able", "role": "",
                                        "thumb": "http://img.example/ann.jpg"}]


def test_one_put_edits_several_items(plex, plex_api):
    keys = plex.find_by_file(PART_I_FILE) + plex.find_by_file(MULTI_FILES[0])
    section = plex_api.library.sectionByID(1)
    section.multiEdit(plex_api.fetchItems(keys), **{"studio.value": "Same", "studio.locked": 1})
    assert [plex.item(k)["studio"] for k in keys] == ["Same", "Same"]


def test_unknown_field_or_bad_value_is_400_and_changes_nothing(plex, plex_api):
    rk = plex.find_by_file(PART_I_FILE)[0]
    before = plex.item(rk)
    movie = plex_api.fetchItem(rk)
    with pytest.raises(BadRequest, match="400"):
        movie.editField("bogus", "x")
    with pytest.raises(BadRequest):
        movie.edit(**{"title.value": "changed", "originallyAvailableAt.value": "31/01/2024"})
    with pytest.raises(BadRequest):
        movie.edit(**{"mood[0].tag.tag": "x"})
    assert plex.item(rk) == before


def test_person_editing_in_plex_is_visible_and_locked(plex, plex_api):
    rk = plex.find_by_file(PART_I_FILE)[0]
    plex.set_item(rk, title="Hand Edited", genres=["Mine"])
    movie = plex_api.fetchItem(rk)
    assert movie.title == "Hand Edited" and [g.tag for g in movie.genres] == ["Mine"]
    assert movie.isLocked("title") and movie.isLocked("genre")


# ---- artwork -------------------------------------------------------------------------------
def test_poster_upload_by_bytes_and_url_then_listing(plex, plex_api):
    rk = plex.find_by_file(PART_I_FILE)[0]
    movie = plex_api.fetchItem(rk)
    old_thumb = movie.thumb
    movie.uploadPoster(filepath=PNG)
    state = plex.item(rk)
    assert state["posterSha1"] == hashlib.sha1(PNG).hexdigest() and "thumb" in state["locks"]
    movie.reload()
    assert movie.thumb != old_thumb and movie.isLocked("thumb")
    image = requests.get(plex.url + movie.thumb, headers={"X-Plex-Token": plex.token}, timeout=5)
    assert image.content == PNG and image.headers["Content-Type"] == "image/png"

    other = b"\xff\xd8 not really a jpeg"
    movie.uploadPoster(url="data:image/jpeg;base64," + base64.b64encode(other).decode())
    posters = movie.posters()
    assert [p.selected for p in posters] == [False, True]
    assert plex.item(rk)["posterSha1"] == hashlib.sha1(other).hexdigest()
    movie.setPoster(posters[0])                                   # select the first again
    assert plex.item(rk)["posterSha1"] == hashlib.sha1(PNG).hexdigest()

    movie.uploadArt(filepath=other)
    assert [a.selected for a in movie.arts()] == [True]
    assert plex.item(rk)["artSha1"] == hashlib.sha1(other).hexdigest()
    with pytest.raises(BadRequest):
        movie.uploadPoster(url="http://127.0.0.1:9/unreachable.jpg")


# ---- scans ---------------------------------------------------------------------------------
def test_partial_scan_makes_a_pending_file_appear(plex, plex_api):
    new_file = "/data/movies/new/Brand New.mp4"
    plex.add_pending_file(1, new_file, "Brand New", studio="Fresh")
    section = plex_api.library.sectionByID(1)
    section.update(path="/data/movies/elsewhere")
    assert plex.find_by_file(new_file) == [] and len(section.all()) == 6
    section.update(path="/data/movies/new")
    assert [s["path"] for s in plex.scans] == ["/data/movies/elsewhere", "/data/movies/new"]
    (rk,) = plex.find_by_file(new_file)
    assert plex_api.fetchItem(rk).studio == "Fresh" and len(section.all()) == 7


def test_whole_section_scan_with_a_delay():
    clock = FakeClock()
    with PlexEmulator(clock=clock) as plex:
        section = plex.add_section("Movies", location="/m")
        plex.add_pending_file(section, "/m/a/x.mkv", "X", scan_delay=30)
        assert raw(plex, f"/library/sections/{section}/refresh").status_code == 200
        assert plex.find_by_file("/m/a/x.mkv") == []
        clock.advance(31)
        assert len(plex.find_by_file("/m/a/x.mkv")) == 1


# ---- auth and the request log --------------------------------------------------------------
def test_wrong_or_missing_token_is_401(plex):
    with pytest.raises(Unauthorized):
        PlexServer(plex.url, "wrong-token", timeout=5)
    missing = raw(plex, "/library/sections", token=None)
    assert missing.status_code == 401 and "<html>" in missing.text
    assert raw(plex, "/library/sections", token="nope").status_code == 401
    by_param = requests.get(plex.url + "/library/sections", timeout=5,
                            params={"X-Plex-Token": "plex-token"})
    assert by_param.status_code == 200
    wrong_param = requests.get(plex.url + "/library/sections", timeout=5,
                               params={"X-Plex-Token": "nope"})
    assert wrong_param.status_code == 401
    assert all("X-Plex-Token" not in r.query for r in plex.requests)   # never logged


def test_request_log_counts_per_operation(plex, plex_api):
    plex.clear_log()
    movie = plex_api.fetchItem(plex.find_by_file(PART_I_FILE)[0])
    movie.editTitle("x")
    assert (plex.count("GET", "/library/metadata"), plex.count("PUT")) == (1, 1)
    put = plex.records("PUT")[0]
    assert put.path == "/library/sections/1/all" and put.query["title.value"] == "x"
    assert put.status == 200 and put.client_id and put.time > 0


# ---- 50,000 items -------------------------------------------------------------------------
def test_50k_items_are_served_completely_in_large_pages(plex_empty):
    # Completeness only: how fast the emulator generates and serves them is measured by
    # bench/index_build.py (figure 4), not asserted here.
    section = load_generated_library(plex_empty, 50_000)
    session, index, start, sizes = requests.Session(), {}, 0, []
    session.headers["X-Plex-Token"] = plex_empty.token
    while True:
        root = xml_of(session.get(f"{plex_empty.url}/library/sections/{section}/all", timeout=60,
                                  params={"type": 1, "sort": "addedAt:desc",
                                          "X-Plex-Container-Start": start,
                                          "X-Plex-Container-Size": 5000}))
        assert int(root.get("totalSize")) == 50_000
        parts = root.findall("Video/Media/Part")
        sizes.append(len(parts))
        for part in parts:
            index[part.get("file")] = start
        start += 5000
        if start >= int(root.get("totalSize")):
            break
    assert sizes == [5000] * 10
    assert sorted(index) == sorted(f"/data/big/{i // 1000:03d}/scene_{i:06d}.mp4"
                                   for i in range(50_000))
    assert index["/data/big/049/scene_049999.mp4"] == 0  # newest first under addedAt:desc


class FakeClock:
    def __init__(self, now: float = 1_700_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
