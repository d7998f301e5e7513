"""The Stash emulator speaks Stash v0.30.1's wire protocol: plain HTTP clients only here."""
from __future__ import annotations

import struct
import threading
import time
import zlib
from datetime import timedelta, timezone

import pytest
import requests

from tests.emulators.stash_fixtures import SAMPLE_EPOCH, load_sample_library, make_png, png_data_url
from tests.emulators.stash_server import StashEmulator

SCENE_FIELDS = """id title code details director urls date rating100 organized created_at updated_at
  studio { id name parent_studio { id name } } performers { id name image_path } tags { id name }
  groups { group { id name } scene_index } files { id path basename size duration }
  paths { screenshot }"""
UPDATE = "mutation Edit($input: SceneUpdateInput!) { sceneUpdate(input: $input) { %s } }"
BULK = "mutation Bulk($input: BulkSceneUpdateInput!) { bulkSceneUpdate(input: $input) { id } }"
FIND = """query Find($filter: FindFilterType, $scene_filter: SceneFilterType, $ids: [ID!]) {
  findScenes(filter: $filter, scene_filter: $scene_filter, ids: $ids) { count scenes { id title } } }"""


def gql(stash, query, variables=None, **kwargs):
    return requests.post(f"{stash.url}/graphql", json={"query": query, "variables": variables or {}},
                         timeout=5, **kwargs)


def data(stash, query, variables=None, **kwargs):
    response = gql(stash, query, variables, **kwargs)
    assert response.status_code == 200, response.text
    assert "errors" not in response.json(), response.json()
    return response.json()["data"]


def find_ids(stash, filter=None, scene_filter=None, ids=None):
    result = data(stash, FIND, {"filter": filter, "scene_filter": scene_filter, "ids": ids})["findScenes"]
    return result["count"], [int(s["id"]) for s in result["scenes"]]


def at(hours: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(SAMPLE_EPOCH + hours * 3600))


# ---- queries ------------------------------------------------------------------------------

def test_find_scene_returns_every_field_as_stash_does(stash, stash_library):
    scene = data(stash, "query($id: ID!) { findScene(id: $id) { %s } }" % SCENE_FIELDS,
                 {"id": stash_library.scenes["part1"]})["findScene"]
    ann, bob = stash_library.performers["Ann Able"], stash_library.performers["Bob O'Brien"]
    assert scene["id"] == "1" and scene["title"] == "Saga Part I" and scene["code"] == "SAGA-1"
    assert (scene["details"], scene["director"], scene["date"]) == ("The first part.", "Dee Rector", "2020-05-01")
    assert (scene["urls"], scene["rating100"], scene["organized"]) == (["https://example.com/saga-1"], 80, False)
    assert scene["created_at"] == scene["updated_at"] == "2024-05-01T12:00:00Z"
    assert scene["studio"]["name"] == "Saga Films" and scene["studio"]["parent_studio"]["name"] == "Saga Group"
    assert scene["studio"]["parent_studio"]["id"] == str(stash_library.studios["Saga Group"])
    assert [p["name"] for p in scene["performers"]] == ["Ann Able", "Bob O'Brien"]
    ann_stamp = stash.state.unix(stash.state.performers[ann]["updated_at"])
    assert scene["performers"][0]["image_path"] == f"{stash.url}/performer/{ann}/image?t={ann_stamp}"
    assert scene["performers"][1]["image_path"].startswith(f"{stash.url}/performer/{bob}/image?t=")
    assert scene["performers"][1]["image_path"].endswith("&default=true")      # no image set
    assert [t["name"] for t in scene["tags"]] == ["Adventure", "Epic"]
    assert scene["groups"] == [{"group": {"id": str(stash_library.groups["Saga"]), "name": "Saga"},
                                "scene_index": 1}]
    assert scene["files"] == [{"id": "1", "path": "/data/movies/Saga/Saga Part I.mkv",
                               "basename": "Saga Part I.mkv", "size": 1_000_000, "duration": 600.0}]
    assert scene["paths"]["screenshot"] == f"{stash.url}/scene/1/screenshot?t={SAMPLE_EPOCH}"


def test_missing_and_untitled_scenes_look_like_stash(stash, stash_library):
    assert data(stash, "{ findScene(id: 999) { id } }")["findScene"] is None
    untitled = data(stash, "{ findScene(id: %d) { title date studio { id } tags { id } } }"
                    % stash_library.scenes["untitled"])["findScene"]
    assert untitled == {"title": "", "date": None, "studio": None, "tags": []}


def test_tags_come_back_sorted_by_name_and_performers_in_given_order(stash, stash_library):
    scene = data(stash, "{ findScene(id: %d) { tags { name } performers { name } } }"
                 % stash_library.scenes["rich"])["findScene"]
    assert [t["name"] for t in scene["tags"]] == ["Drama", "Rock, Pop", 'Say "Hi"', "Sci Fi", "Ünïcødé ✓"]
    assert [p["name"] for p in scene["performers"]] == ["Chloé Durand", "Eve 李"]


def test_paging_default_25_all_with_minus_one_and_count_only(stash_empty):
    for n in range(30):
        stash_empty.add_scene(f"Scene {n}", files=[f"/m/{n}.mp4"])
    assert find_ids(stash_empty) == (30, list(range(1, 26)))
    assert find_ids(stash_empty, {"page": 2}) == (30, list(range(26, 31)))
    assert find_ids(stash_empty, {"page": 3, "per_page": 7}) == (30, list(range(15, 22)))
    assert find_ids(stash_empty, {"per_page": -1}) == (30, list(range(1, 31)))
    assert find_ids(stash_empty, {"per_page": 0}) == (30, [])
    assert find_ids(stash_empty, {"page": 0, "per_page": 2}) == (30, [1, 2])


def test_sort_direction_and_stash_tiebreak(stash, stash_library):
    s = stash_library.scenes
    by_title = [s["rich"], s["part1"], s["part2"], s["untitled"], s["multi"]]   # untitled sorts by basename
    assert find_ids(stash, {"sort": "title"})[1] == by_title
    assert find_ids(stash, {"sort": "title", "direction": "DESC"})[1] == by_title[::-1]
    assert find_ids(stash, {"sort": "updated_at", "direction": "DESC"})[1] == [5, 4, 3, 2, 1]
    # no date (NULL) first; between those, COALESCE(title, id): the untitled scene's id 5 < "Two Discs"
    assert find_ids(stash, {"sort": "date"})[1] == [s["untitled"], s["multi"], s["part1"], s["part2"], s["rich"]]
    stash.edit_scene(s["part2"], updated_at=at(0))                  # same second as part1
    assert find_ids(stash, {"sort": "updated_at"})[1][:2] == [s["part1"], s["part2"]]   # then by title
    response = gql(stash, FIND, {"filter": {"sort": "bogus"}})
    assert response.status_code == 200 and response.json()["errors"][0]["message"] == "invalid sort: bogus"
    assert response.json()["data"] is None


def test_timestamp_criteria(stash):
    # sample scenes were updated at +0h, +1h, +2h, +3h, +4h (ids 1..5)
    assert find_ids(stash, scene_filter={"updated_at": {"value": at(1), "modifier": "GREATER_THAN"}})[1] == [3, 4, 5]
    assert find_ids(stash, scene_filter={"updated_at": {"value": at(2), "modifier": "LESS_THAN"}})[1] == [1, 2]
    between = {"value": at(1), "value2": at(3), "modifier": "BETWEEN"}
    assert find_ids(stash, scene_filter={"created_at": between})[1] == [2, 3, 4]
    assert find_ids(stash, scene_filter={"updated_at": {"value": at(3), "modifier": "BETWEEN"}})[1] == [4, 5]
    paged = find_ids(stash, {"per_page": 1, "page": 2, "sort": "updated_at"},
                     {"updated_at": {"value": at(0.5), "modifier": "GREATER_THAN"}})
    assert paged == (4, [3])


def test_timestamp_criteria_compare_strings_like_stash_sqlite(stash):
    # "…13:00:00+00:00" sorts before "…13:00:00Z": the scene updated at 13:00 is "greater".
    same_instant = at(1).replace("Z", "+00:00")
    assert find_ids(stash, scene_filter={"updated_at": {"value": same_instant, "modifier": "GREATER_THAN"}})[1] \
        == [2, 3, 4, 5]


def test_find_scenes_by_ids_ignores_filter_and_fails_whole_on_missing_id(stash):
    assert find_ids(stash, {"per_page": 1}, ids=["3", "1"]) == (2, [3, 1])
    response = gql(stash, FIND, {"ids": ["1", "99"]})
    assert response.status_code == 200
    assert response.json() == {"data": None, "errors": [
        {"message": "scene with id 99 not found", "path": ["findScenes"]}]}


def test_timestamps_are_go_rfc3339_with_whole_seconds():
    clock = [SAMPLE_EPOCH + 0.25]
    with StashEmulator(clock=lambda: clock[0]) as stash:
        scene_id = stash.add_scene("A", files=["/a.mp4"])
        first = data(stash, UPDATE % "updated_at", {"input": {"id": scene_id, "title": "B"}})
        clock[0] += 0.5
        second = data(stash, UPDATE % "updated_at", {"input": {"id": scene_id, "title": "C"}})
        assert first == second == {"sceneUpdate": {"updated_at": "2024-05-01T12:00:00Z"}}  # same second
        stash.advance_time(1)
        assert data(stash, UPDATE % "updated_at", {"input": {"id": scene_id}})["sceneUpdate"] \
            == {"updated_at": "2024-05-01T12:00:01Z"}
    with StashEmulator(tz=timezone(timedelta(hours=2)), clock=lambda: SAMPLE_EPOCH) as stash:
        stash.add_scene("A", files=["/a.mp4"])
        assert data(stash, "{ findScene(id: 1) { created_at } }")["findScene"]["created_at"] \
            == "2024-05-01T14:00:00+02:00"


def test_other_finders(stash, stash_library):
    studios = data(stash, '{ findStudios(filter: {q: "saga", sort: "name"}) { count studios { name parent_studio { name } } } }')
    assert studios["findStudios"] == {"count": 2, "studios": [
        {"name": "Saga Films", "parent_studio": {"name": "Saga Group"}}, {"name": "Saga Group", "parent_studio": None}]}
    tags = data(stash, "{ findTags(filter: {per_page: -1}) { count tags { name } } }")["findTags"]
    assert tags["count"] == len(stash_library.tags) == 7
    performers = data(stash, '{ findPerformers(ids: ["%d"]) { performers { name image_path } } }'
                      % stash_library.performers["Eve 李"])["findPerformers"]["performers"]
    assert performers[0]["name"] == "Eve 李" and "default=true" not in performers[0]["image_path"]
    assert data(stash, "{ findGroups { count groups { name } } }")["findGroups"] == {"count": 1, "groups": [{"name": "Saga"}]}


# ---- mutations and hooks --------------------------------------------------------------------

def test_scene_update_applies_stash_semantics(stash, stash_library):
    stash.advance_time(3600 * 24 * 365 * 10)
    ann, chloe = stash_library.performers["Ann Able"], stash_library.performers["Chloé Durand"]
    scene = data(stash, UPDATE % SCENE_FIELDS, {"input": {
        "id": "2", "title": "  Saga Part Two \n", "date": "2021-06", "performer_ids": [chloe, ann],
        "tag_ids": [], "studio_id": None, "groups": [], "details": None, "urls": ["u1", "u2"]}})["sceneUpdate"]
    assert scene["title"] == "Saga Part Two" and scene["details"] == "" and scene["date"] == "2021-06"
    assert [p["name"] for p in scene["performers"]] == ["Chloé Durand", "Ann Able"]
    assert scene["tags"] == [] and scene["studio"] is None and scene["groups"] == [] and scene["urls"] == ["u1", "u2"]
    assert scene["updated_at"] > "2030" and scene["created_at"] == at(1)
    assert scene["paths"]["screenshot"].endswith(f"?t={stash.state.unix(scene['updated_at'])}")
    assert data(stash, UPDATE % "date", {"input": {"id": 2, "date": "2021-06-30T23:00:00-05:00"}}) \
        == {"sceneUpdate": {"date": "2021-06-30"}}


@pytest.mark.parametrize("bad_input, message", [
    ({"id": "1", "tag_ids": ["999"]}, "FOREIGN KEY constraint failed: tag 999 does not exist"),
    ({"id": "1", "date": "May 2021"}, 'converting date: failed to parse date "May 2021"'),
    ({"id": "77", "title": "x"}, "scene with id 77 not found"),
    ({"id": "1", "primary_file_id": "42"}, "file with id 42 not associated with scene"),
    ({"id": "1", "cover_image": "http://elsewhere/x.jpg"}, "processing cover image"),
])
def test_refused_updates_change_nothing_and_fire_no_hook(stash, bad_input, message):
    before = stash.scene(1)
    response = gql(stash, UPDATE % "id", {"input": {**bad_input, "title": "changed"}})
    assert response.status_code == 200 and response.json()["data"] == {"sceneUpdate": None}
    assert response.json()["errors"][0]["message"].startswith(message)
    assert stash.scene(1) == before and stash.hook_log == []


def test_title_required_for_a_scene_without_files(stash_empty):
    scene_id = stash_empty.add_scene("Only title")
    response = gql(stash_empty, UPDATE % "id", {"input": {"id": scene_id, "title": " "}})
    assert response.json()["errors"][0]["message"] == "title must be set if scene has no files"


def test_update_hook_runs_before_the_answer_and_can_call_back(stash):
    answered, seen = threading.Event(), []

    def sink(hook_type, scene_id, hook_input, input_fields):
        # Same call a hook process makes: back into Stash while the mutation is still open.
        title = requests.post(f"{stash.url}/graphql", timeout=5, json={
            "query": "query($id: ID!) { findScene(id: $id) { title } }", "variables": {"id": scene_id}}
        ).json()["data"]["findScene"]["title"]
        time.sleep(0.2)
        seen.append((hook_type, scene_id, hook_input, input_fields, title, answered.is_set()))

    stash.hook_sink = sink
    started = time.monotonic()
    result = data(stash, UPDATE % "title", {"input": {"id": 1, "title": "New", "rating100": None,
                                                      "organized": True, "tag_ids": [3, "1"]}})
    answered.set()
    assert result == {"sceneUpdate": {"title": "New"}} and time.monotonic() - started >= 0.2
    assert seen == [("Scene.Update.Post", 1,
                     {"id": "1", "title": "New", "rating100": None, "organized": True, "tag_ids": ["3", "1"]},
                     ["id", "title", "rating100", "organized", "tag_ids"], "New", False)]


def test_bulk_update_modes_then_one_hook_per_scene_in_order(stash, stash_library):
    tag, ann = stash_library.tags["Epic"], stash_library.performers["Ann Able"]
    calls = []

    def sink(hook_type, scene_id, hook_input, input_fields):
        tagged = [i for i in (1, 2, 3) if tag in stash.scene(i)["tag_ids"]]
        calls.append((hook_type, scene_id, hook_input, input_fields, tagged))

    stash.hook_sink = sink
    bulk_input = {"ids": ["3", "1", "2"], "tag_ids": {"ids": [str(tag)], "mode": "ADD"},
                  "performer_ids": {"ids": [str(ann)], "mode": "REMOVE"}, "organized": True,
                  "group_ids": {"ids": [str(stash_library.groups["Saga"])], "mode": "SET"}}
    assert data(stash, BULK, {"input": bulk_input}) == {"bulkSceneUpdate": [{"id": "3"}, {"id": "1"}, {"id": "2"}]}
    # input_fields come in schema order (Stash's own order is random: a Go map)
    assert [(c[0], c[1], c[2], sorted(c[3]), c[4]) for c in calls] \
        == [("Scene.Update.Post", i, bulk_input, sorted(bulk_input), [1, 2, 3]) for i in (3, 1, 2)]
    assert stash.scene(1)["performers"] == ["Bob O'Brien"] and stash.scene(2)["performers"] == []
    assert stash.scene(1)["group_names"] == [("Saga", 1)] and stash.scene(3)["group_names"] == [("Saga", None)]
    assert stash.scene(2)["tags"] == ["Adventure", "Epic"] and stash.scene(3)["organized"] is True


def test_bulk_update_is_all_or_nothing(stash):
    before = [stash.scene(i) for i in (1, 2)]
    response = gql(stash, BULK, {"input": {"ids": ["1", "2", "404"], "title": "x"}})
    assert response.json()["errors"][0]["message"] == "scene with id 404 not found"
    assert [stash.scene(i) for i in (1, 2)] == before and stash.hook_log == []


def test_scan_helpers_fire_create_and_update_hooks_with_null_input(stash_empty):
    calls = []
    stash_empty.hook_sink = lambda *call: calls.append(call)
    new_id = stash_empty.scan_new_scene(title="Fresh", files=["/in/fresh.mp4"])
    stash_empty.rescan_scene(new_id, files=["/in/fresh_v2.mp4"])
    assert calls == [("Scene.Create.Post", new_id, None, None), ("Scene.Update.Post", new_id, None, None)]
    assert stash_empty.scene(new_id)["files"][0]["path"] == "/in/fresh_v2.mp4"


def test_failing_sink_is_recorded_and_the_mutation_still_answers(stash):
    stash.hook_sink = lambda *call: 1 / 0
    assert data(stash, UPDATE % "title", {"input": {"id": 1, "title": "T"}}) == {"sceneUpdate": {"title": "T"}}
    assert "ZeroDivisionError" in stash.hook_errors.pop()


# ---- images and URLs ----------------------------------------------------------------------

def png_pixels(image: bytes) -> bytes:
    assert image[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, pos = {}, 8
    while pos < len(image):
        length, kind = struct.unpack(">I4s", image[pos:pos + 8])
        body = image[pos + 8: pos + 8 + length]
        assert struct.unpack(">I", image[pos + 8 + length: pos + 12 + length])[0] == zlib.crc32(kind + body)
        chunks[kind], pos = body, pos + 12 + length
    width, height = struct.unpack(">II", chunks[b"IHDR"][:8])
    pixels = zlib.decompress(chunks[b"IDAT"])
    assert len(pixels) == height * (1 + 3 * width) and b"IEND" in chunks
    return pixels


def test_screenshot_serves_the_cover_and_changes_with_it(stash):
    def screenshot():
        url = data(stash, "{ findScene(id: 1) { paths { screenshot } } }")["findScene"]["paths"]["screenshot"]
        response = requests.get(url, timeout=5)
        assert response.status_code == 200 and response.headers["Content-Type"] == "image/png"
        return url, response.content

    first_url, first = screenshot()
    png_pixels(first)
    stash.advance_time(5)
    new_cover = make_png("new cover")
    data(stash, UPDATE % "id", {"input": {"id": 1, "cover_image": png_data_url(new_cover)}})
    second_url, second = screenshot()
    assert second == new_cover != first and second_url != first_url
    stash.advance_time(5)
    stash.set_cover(1, make_png("helper cover"))
    third_url, third = screenshot()
    assert third == make_png("helper cover") and third_url != second_url
    assert make_png(1) != make_png(2) and png_pixels(make_png(1)) != png_pixels(make_png(2))


def test_scene_without_cover_gets_stash_svg_and_unknown_ids_404(stash, stash_library):
    response = requests.get(f"{stash.url}/scene/{stash_library.scenes['multi']}/screenshot", timeout=5)
    assert response.status_code == 200 and response.headers["Content-Type"] == "image/svg+xml"
    assert requests.get(f"{stash.url}/scene/999/screenshot", timeout=5).status_code == 404
    ann = stash_library.performers["Ann Able"]
    assert requests.get(f"{stash.url}/performer/{ann}/image", timeout=5).content == make_png("Ann Able", 2, 3)
    bob = stash_library.performers["Bob O'Brien"]
    assert requests.get(f"{stash.url}/performer/{bob}/image?default=true", timeout=5).headers["Content-Type"] \
        == "image/svg+xml"


def test_performer_image_helper_replaces_the_default(stash, stash_library):
    bob = stash_library.performers["Bob O'Brien"]
    stash.advance_time(2)
    stash.set_performer_image(bob, make_png("bob"))
    path = data(stash, '{ findPerformers(ids: ["%d"]) { performers { image_path } } }' % bob
                )["findPerformers"]["performers"][0]["image_path"]
    assert "default=true" not in path and requests.get(path, timeout=5).content == make_png("bob")


def test_deleted_scene_disappears_everywhere(stash):
    stash.delete_scene(2)
    assert stash.scene(2) is None and data(stash, "{ findScene(id: 2) { id } }") == {"findScene": None}
    assert find_ids(stash, {"per_page": -1}) == (4, [1, 3, 4, 5])
    assert requests.get(f"{stash.url}/scene/2/screenshot", timeout=5).status_code == 404


def test_urls_follow_host_and_forwarded_headers(stash):
    query = "{ findScene(id: 1) { paths { screenshot } performers { image_path } } }"
    scene = data(stash, query, headers={"Host": "stash.lan:9999"})["findScene"]
    assert scene["paths"]["screenshot"].startswith("http://stash.lan:9999/scene/1/screenshot?t=")
    assert scene["performers"][0]["image_path"].startswith("http://stash.lan:9999/performer/")
    proxied = data(stash, query, headers={"Host": "media.example", "X-Forwarded-Proto": "https",
                                          "X-Forwarded-Prefix": "/stash/"})["findScene"]
    assert proxied["paths"]["screenshot"].startswith("https://media.example/stash/scene/1/screenshot?t=")


# ---- auth ---------------------------------------------------------------------------------

VERSION = "{ version { version } }"


def test_open_stash_needs_nothing_but_refuses_a_wrong_api_key(stash):
    assert gql(stash, VERSION).status_code == 200
    assert requests.get(f"{stash.url}/scene/1/screenshot", timeout=5).status_code == 200
    assert gql(stash, VERSION, headers={"ApiKey": "guess"}).status_code == 401
    assert [r.auth for r in stash.graphql_log] == ["open", "bad_api_key"]


def test_credentials_by_api_key_header_param_and_session_cookie(stash_factory):
    stash = stash_factory(api_key="secret-key", username="admin", password="pw")
    stash.add_scene("A", files=["/a.mp4"], cover=make_png("a"))
    assert gql(stash, VERSION, headers={"ApiKey": "secret-key"}).status_code == 200
    assert requests.post(f"{stash.url}/graphql?apikey=secret-key", json={"query": VERSION}, timeout=5).status_code == 200
    assert gql(stash, VERSION, cookies={"session": stash.create_session()}).status_code == 200
    login = requests.post(f"{stash.url}/login", data={"username": "admin", "password": "pw"},
                          allow_redirects=False, timeout=5)
    assert login.status_code == 302 and gql(stash, VERSION, cookies=login.cookies).status_code == 200
    assert requests.post(f"{stash.url}/login", data={"username": "admin", "password": "no"}, timeout=5).status_code == 401
    assert [r.auth for r in stash.graphql_log] == ["api_key_header", "api_key_param", "session", "session"]
    assert data(stash, "{ configuration { general { apiKey } } }", headers={"ApiKey": "secret-key"}) \
        == {"configuration": {"general": {"apiKey": "secret-key"}}}


def test_missing_or_bad_credentials_401_on_graphql(stash_factory):
    stash = stash_factory(api_key="secret-key")
    for kwargs in ({}, {"headers": {"ApiKey": "wrong"}}, {"cookies": {"session": "forged"}}):
        response = gql(stash, VERSION, **kwargs)
        assert response.status_code == 401 and response.headers["WWW-Authenticate"] == "FormBased"
    assert [(r.auth, r.status, r.query) for r in stash.graphql_log] == [
        ("anonymous", 401, VERSION), ("bad_api_key", 401, VERSION), ("anonymous", 401, VERSION)]


def test_image_without_credentials_is_a_302_to_an_html_login_page(stash_factory):
    stash = stash_factory(api_key="secret-key")
    stash.add_scene("A", files=["/a.mp4"], cover=make_png("a"))
    url = f"{stash.url}/scene/1/screenshot?t=123"
    raw = requests.get(url, allow_redirects=False, timeout=5)
    assert raw.status_code == 302
    assert raw.headers["Location"] == "/login?returnURL=%2Fscene%2F1%2Fscreenshot%3Ft%3D123"
    followed = requests.get(url, timeout=5)         # the trap: 200 OK, but a web page
    assert followed.status_code == 200 and followed.history[0].status_code == 302
    assert followed.headers["Content-Type"].startswith("text/html") and followed.content.startswith(b"<!DOCTYPE html>")
    assert requests.get(url, headers={"ApiKey": "wrong"}, timeout=5).status_code == 401
    assert requests.get(url, headers={"ApiKey": "secret-key"}, timeout=5).content == make_png("a")


# ---- settings, jobs, version, protocol -----------------------------------------------------

SETTINGS = "query($ids: [ID!]) { configuration { plugins(include: $ids) } }"
CONFIGURE = "mutation($id: ID!, $input: Map!) { configurePlugin(plugin_id: $id, input: $input) }"


def test_configure_plugin_round_trip_and_never_set_keys_absent(stash):
    assert data(stash, SETTINGS, {"ids": ["PlexSync"]}) == {"configuration": {"plugins": {}}}
    first = {"plex_url": "http://plex:32400", "max_retries": 3, "verify_tls": False, "connect_timeout": 2.5}
    assert data(stash, CONFIGURE, {"id": "PlexSync", "input": first}) == {"configurePlugin": first}
    assert data(stash, SETTINGS, {"ids": ["PlexSync", "Other"]})["configuration"]["plugins"] == {"PlexSync": first}
    data(stash, CONFIGURE, {"id": "PlexSync", "input": {"plex_token": "t"}})         # overwrites
    assert data(stash, SETTINGS, {"ids": ["PlexSync"]})["configuration"]["plugins"] == {"PlexSync": {"plex_token": "t"}}
    stash.set_plugin_settings("Other", {"x": True})
    assert data(stash, SETTINGS)["configuration"]["plugins"] == {"PlexSync": {"plex_token": "t"}, "Other": {"x": True}}
    assert stash.plugin_settings("PlexSync") == {"plex_token": "t"}


def test_job_queue_is_null_when_idle_and_lists_running_jobs(stash):
    query = "{ jobQueue { id status description progress } }"
    assert data(stash, query) == {"jobQueue": None}
    stash.set_job_queue([{"description": "Scanning...", "progress": 0.25}, {"status": "READY", "description": "Generate"}])
    assert data(stash, query)["jobQueue"] == [
        {"id": "1", "status": "RUNNING", "description": "Scanning...", "progress": 0.25},
        {"id": "2", "status": "READY", "description": "Generate", "progress": None}]


def test_version(stash):
    assert data(stash, "{ version { version hash build_time } }")["version"]["version"] == "v0.30.1"


def test_protocol_errors_use_gqlgen_status_codes(stash):
    parse_error = gql(stash, "{ findScene(id: 1) { id }")
    assert parse_error.status_code == 422
    assert parse_error.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
    unknown_field = gql(stash, "{ findScene(id: 1) { nope } }")
    assert unknown_field.status_code == 422 and unknown_field.json()["data"] is None
    assert unknown_field.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    bad_variable = gql(stash, UPDATE % "id", {"input": {"id": 1, "unknown": 2}})
    assert bad_variable.status_code == 422
    assert requests.post(f"{stash.url}/graphql", data=b"{not json", timeout=5).status_code == 400


def test_request_log_records_documents_variables_and_operation_names(stash):
    stash.clear_logs()
    gql(stash, FIND, {"filter": {"per_page": 1}})
    stash.graphql(UPDATE % "id", {"input": {"id": 1, "title": "x"}})
    # the operation name is the one sent, else the document's only named operation
    assert [(r.operation_name, r.status) for r in stash.graphql_log] == [("Find", 200), ("Edit", 200)]
    assert stash.graphql_log[0].variables == {"filter": {"per_page": 1}} and stash.graphql_log[0].query == FIND
    requests.post(f"{stash.url}/graphql", json={"query": "{ version { version } }"}, timeout=5)
    assert stash.graphql_log[-1].operation_name is None
    assert len(stash.graphql_requests(operation_name="Find")) == 1
    assert len(stash.graphql_requests(contains="sceneUpdate")) == 1
    assert [r.path for r in stash.http_log] == ["/graphql"] * 3


def test_stop_closes_the_port_and_kept_alive_connections(stash_empty):
    session = requests.Session()
    assert session.post(f"{stash_empty.url}/graphql", json={"query": VERSION}, timeout=5).status_code == 200
    url = stash_empty.url
    stash_empty.stop()
    with pytest.raises(requests.ConnectionError):
        session.post(f"{url}/graphql", json={"query": VERSION}, timeout=5)
    with pytest.raises(requests.ConnectionError):
        requests.post(f"{url}/graphql", json={"query": VERSION}, timeout=5)


def test_sample_library_loads_into_any_fresh_emulator():
    with StashEmulator() as stash:
        library = load_sample_library(stash)
        assert library.scenes == {"part1": 1, "part2": 2, "multi": 3, "rich": 4, "untitled": 5}
        assert stash.scene(1)["parent_studio"] == "Saga Group"
