"""PlexClient and errors.translate through the Plex emulator: laziness, device identity,
timeouts, the retry on connection blips only, and each failure mapped to PlexSync's classes."""

import pytest
import requests
from plexapi import exceptions as plexapi_errors

from plex.client import PlexClient, client_identifier
from plex.errors import (AmbiguousMatch, ItemNotFound, PlexAuthError, PlexBadRequest,
                         PlexSyncError, PlexUnavailable, translate)
from validation.config import parse_config

TOKEN = "s3cret-plex-token"


@pytest.fixture
def plex(plex_empty):
    plex_empty.token = TOKEN
    plex_empty.add_section("Movies", location="/data/movies")
    plex_empty.add_item(1, "One", files=["/data/movies/one.mp4"])
    return plex_empty


def client(plex, tmp_path, **settings):
    cfg = parse_config({"plex_url": plex.url, "plex_token": TOKEN, **settings})
    return PlexClient(cfg, tmp_path)


def test_client_is_lazy_and_shows_plex_one_device(plex, tmp_path):
    first = client(plex, tmp_path)
    assert plex.count() == 0  # building a client costs no request
    first.sections()
    second = client(plex, tmp_path)  # another process, same data folder
    second.ping()
    ids = {r.client_id for r in plex.requests}
    assert ids == {first.client_id} == {second.client_id}
    assert (tmp_path / "client_id").read_text() == first.client_id
    assert {r.headers["X-Plex-Product"] for r in plex.requests} == {"PlexSync"}
    assert client_identifier(tmp_path) == first.client_id


def test_sections_fetch_item_and_scan(plex, tmp_path):
    c = client(plex, tmp_path)
    assert c.sections() == [{"id": "1", "title": "Movies", "type": "movie",
                             "locations": ["/data/movies"]}]
    item = c.fetch_item("1")
    assert (item.title, item.section_id, item.files) == ("One", "1", ("/data/movies/one.mp4",))
    c.scan_path("1", "/data/movies/new folder")
    assert plex.scans[0]["path"] == "/data/movies/new folder"


def test_put_edits_quotes_removal_names_twice(plex, tmp_path):
    plex.set_item(1, genres=["Rock, Pop", 'Say "Hi"', "Keep"])
    c = client(plex, tmp_path)
    c.put_edits("1", "1", {"genre[].tag.tag-": "Rock%2C%20Pop,Say%20%22Hi%22", "genre.locked": 1})
    assert plex.item(1)["genres"] == ["Keep"]


def test_put_edits_behind_a_url_limit_learns_it_once_and_splits(plex, tmp_path):
    plex.url_limit = 4096  # a proxy configured below nginx's default: the ladder finds it
    c = client(plex, tmp_path)
    params = {"summary.value": "s" * 3000, "summary.locked": 1, "title.value": "t" * 3000,
              "title.locked": 1, "genre[0].tag.tag": "g", "genre.locked": 1}
    sent = c.put_edits("1", "1", params)
    statuses = [r.status for r in plex.records("PUT")]
    assert statuses == [414, 200, 200]  # 6 KB refused: the next rung below it is 4 KB
    assert sent.cut == {} and len(sent.puts) == 2
    item = plex.item(1)
    assert (item["summary"], item["title"], item["genres"]) == ("s" * 3000, "t" * 3000, ["g"])
    plex.clear_log()
    client(plex, tmp_path).put_edits("1", "1", params)  # the limit is remembered per server
    assert [r.status for r in plex.records("PUT")] == [200, 200]


def test_put_edits_treats_413_like_414(plex, tmp_path):
    plex.fail_next(1, 413, method="PUT")  # a proxy answering "Request Entity Too Large"
    sent = client(plex, tmp_path).put_edits("1", "1", {"summary.value": "s" * 1500,
                                                      "summary.locked": 1, "title.value": "T" * 1500,
                                                      "title.locked": 1})
    assert [r.status for r in plex.records("PUT")] == [413, 200, 200]  # 3 KB -> 2 KB rung
    assert len(sent.puts) == 2 and plex.item(1)["summary"] == "s" * 1500


def test_put_edits_refused_even_at_1kb_names_the_proxy_setting(plex, tmp_path):
    plex.url_limit = 300
    with pytest.raises(PlexBadRequest, match="refused a .*-byte request .*414.*"
                                             "large_client_header_buffers"):
        client(plex, tmp_path).put_edits("1", "1", {"summary.value": "s" * 2000,
                                                    "summary.locked": 1})
    assert plex.item(1)["summary"] is None


def test_upload_image_posts_raw_bytes(plex, tmp_path):
    client(plex, tmp_path).upload_image("1", "art", b"\x89PNG bytes")
    assert plex.item(1)["artSha1"] and plex.records("POST")[0].path == "/library/metadata/1/arts"


@pytest.mark.parametrize("fault, error, status", [
    (lambda p: p.fail_next(1, 500), PlexUnavailable, 500),
    (lambda p: p.fail_next(1, 503), PlexUnavailable, 503),
    (lambda p: p.fail_next(1, 400), PlexBadRequest, 400),
    (lambda p: p.fail_next(1, 403), PlexAuthError, 403),
    (lambda p: p.drop_next(2), PlexUnavailable, None),           # retry once, then give up
    (lambda p: p.drop_next(1, during="body"), PlexUnavailable, None),
])
def test_failures_map_to_plexsync_errors(plex, tmp_path, fault, error, status):
    c = client(plex, tmp_path)
    c.ping()
    fault(plex)
    with pytest.raises(error) as caught:
        c.sections()
    assert caught.value.status == status and TOKEN not in str(caught.value)


def test_a_connection_blip_is_retried_once(plex, tmp_path):
    c = client(plex, tmp_path)
    c.ping()
    plex.clear_log()
    plex.drop_next(1)
    assert c.sections()[0]["title"] == "Movies"
    assert plex.count("GET", "/library/sections") == 2


def test_wrong_token_is_an_auth_error_naming_the_setting(plex, tmp_path):
    cfg = parse_config({"plex_url": plex.url, "plex_token": "wrong-token-value"})
    with pytest.raises(PlexAuthError, match="the Plex token setting") as caught:
        PlexClient(cfg, tmp_path).sections()
    assert "wrong-token-value" not in str(caught.value) and caught.value.status == 401


def test_server_down_is_unavailable(plex, tmp_path):
    c = client(plex, tmp_path)
    plex.down()
    with pytest.raises(PlexUnavailable, match="cannot reach Plex"):
        c.ping()
    plex.up()
    c.ping()  # comes back without a new client


def test_a_read_that_never_completes_times_out(plex, tmp_path):
    c = client(plex, tmp_path, read_timeout=0.3)
    c.ping()
    plex.hang_next(1)
    plex.clear_log()
    with pytest.raises(PlexUnavailable, match="did not answer in time"):
        c.fetch_item("1")
    assert [r.fault for r in plex.requests] == ["hang"]  # read timeouts are not retried here


def test_missing_item_is_item_not_found(plex, tmp_path):
    with pytest.raises(ItemNotFound):
        client(plex, tmp_path).fetch_item("999")


@pytest.mark.parametrize("exc, cls", [
    (requests.ConnectionError("GET http://h/x?X-Plex-Token=" + TOKEN), PlexUnavailable),
    (requests.ReadTimeout("read timed out"), PlexUnavailable),
    (plexapi_errors.Unauthorized("(401) unauthorized; http://h/"), PlexAuthError),
    (plexapi_errors.BadRequest("(502) bad_gateway; http://h/ <html>"), PlexUnavailable),
    (plexapi_errors.BadRequest("(400) bad_request; http://h/?apikey=K"), PlexBadRequest),
    (plexapi_errors.NotFound("(404) not_found; http://h/"), ItemNotFound),
    (ValueError("odd"), PlexSyncError),
])
def test_translate_table_and_scrubbing(exc, cls):
    translated = translate(exc, (TOKEN,))
    assert type(translated) is cls
    assert TOKEN not in str(translated) and "apikey=K" not in str(translated)


def test_ambiguous_match_lists_every_candidate():
    error = AmbiguousMatch([{"title": "A", "rating_key": "1", "file": "/a.mp4"},
                            {"title": "B", "rating_key": "2", "file": "/b/a.mp4"}])
    assert "'A' (ratingKey 1, file /a.mp4)" in str(error)
    assert "'B' (ratingKey 2, file /b/a.mp4)" in str(error)
    assert error.candidates[1]["rating_key"] == "2"
