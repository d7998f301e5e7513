"""PlexSync's Stash client against the Stash emulator (real HTTP), and its generated documents
against Stash's real schema."""
import pytest
from graphql import parse, validate

from hooks.stash_api import StashAuthError, StashClient, StashError
from hooks.stash_documents import scenes_document
from tests.emulators.stash_fixtures import make_png
from tests.stash.test_stash_schema_conformance import REAL_SCHEMA_DIR, load_real_schema


@pytest.mark.parametrize("count", [1, 3, 50])
def test_scenes_documents_are_valid_for_stash(count):
    if not REAL_SCHEMA_DIR.is_dir():
        pytest.skip(f"Stash's schema is not at {REAL_SCHEMA_DIR} (../shared absent)")
    errors = validate(load_real_schema(REAL_SCHEMA_DIR), parse(scenes_document(count)))
    assert errors == []


def test_scenes_by_id_returns_the_live_scenes_in_one_request(stash):
    doomed = stash.add_scene("Doomed", files=["/x/doomed.mp4"])
    stash.delete_scene(doomed)
    stash.clear_logs()
    client = StashClient(stash.url, session_cookie=stash.create_session())
    scenes = client.scenes_by_id([1, doomed, 2])
    assert [s["id"] for s in scenes] == ["1", "2"]
    assert len(stash.graphql_requests()) == 1


def test_from_server_connection_maps_stash_listen_address(stash):
    conn = {"Scheme": "http", "Host": "0.0.0.0", "Port": stash.port,
            "SessionCookie": {"Name": "session", "Value": stash.create_session()}}
    client = StashClient.from_server_connection(conn)
    assert client.base_url == f"http://127.0.0.1:{stash.port}"
    assert client.version().startswith("v0.30")


def test_auth_errors_are_clear(stash_factory):
    locked = stash_factory(api_key="right-key")
    scene = locked.add_scene("S", files=["/a.mp4"], cover=make_png("locked"))
    with pytest.raises(StashAuthError, match="HTTP 401"):
        StashClient(locked.url, api_key="wrong").plugin_settings()
    good = StashClient(locked.url, api_key="right-key")
    [found] = good.scenes_by_id([scene])
    image = good.fetch_image(found["paths"]["screenshot"])
    assert image.startswith(b"\x89PNG")
    # Without credentials Stash redirects image requests to /login (200 HTML if followed).
    with pytest.raises(StashAuthError):
        StashClient(locked.url).fetch_image(found["paths"]["screenshot"])


def test_unreachable_stash_is_a_stash_error():
    with pytest.raises(StashError, match="not reachable"):
        StashClient("http://127.0.0.1:9", timeout=1).plugin_settings()


def test_scene_without_cover_gives_no_image(stash, stash_library):
    client = StashClient(stash.url)
    [scene] = client.scenes_by_id([stash_library.scenes["multi"]])  # the sample without a cover
    assert client.fetch_image(scene["paths"]["screenshot"]) == b""
