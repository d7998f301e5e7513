"""Connect to Plex step by step, in process: plexapi against the plex.tv emulator, Stash's
settings through the Stash emulator (whose configurePlugin replaces the map, as Stash's does)."""
from __future__ import annotations

from pathlib import Path

import pytest

from hooks.stash_api import StashClient
from plex.account.errors import (NoConnection, NoServers, NotOwner, NotSignedIn, PinExpired,
                                 PlexTvUnreachable)
from plex.account.session import ROUTES_ENV
from tests.emulators.plextv_world import ACCOUNT_TOKEN, free_port
from worker.tasks.connect import operations
from worker.tasks.connect.flow import ConnectFlow

PROJECT_ROOT = Path(__file__).resolve().parents[2]
OTHER_SETTINGS = {"path_map": "/data => /plexdata", "max_tags": 7, "strict_matching": False,
                  "plex_libraries": "Stash Scenes"}


@pytest.fixture
def stash(stash_factory):
    emulator = stash_factory()
    emulator.set_plugin_settings("PlexSync", dict(OTHER_SETTINGS))
    return emulator


def flow_for(stash, tmp_path) -> ConnectFlow:
    return ConnectFlow(StashClient(stash.url), tmp_path, PROJECT_ROOT)


def signed_in(stash, tmp_path, world) -> ConnectFlow:
    """The flow after the person entered the code at plex.tv/link."""
    flow = flow_for(stash, tmp_path)
    pin = flow.start()
    world.authorize_latest()
    assert flow.check(pin.pin_id).state == "linked"
    return flow


def run(mode, stash, tmp_path, **args):
    return operations.run(mode, {"mode": mode, **args}, StashClient(stash.url), tmp_path,
                          PROJECT_ROOT)


def test_code_then_link_stores_the_token_and_keeps_every_other_setting(world, stash, tmp_path):
    started = run("ui_connect_start", stash, tmp_path)
    assert started["state"] == "waiting" and len(started["code"]) == 4
    assert started["link"] == "https://plex.tv/link" and 1790 <= started["seconds_left"] <= 1800
    assert run("ui_connect_check", stash, tmp_path, pin_id=started["pin_id"])["state"] == "waiting"
    assert "plex_token" not in stash.plugin_settings("PlexSync")

    world.plextv.authorize(started["code"], world.account)
    linked = run("ui_connect_check", stash, tmp_path, pin_id=started["pin_id"])

    assert linked["state"] == "linked" and linked["account"] == "alice"
    assert [s["name"] for s in linked["servers"]] == ["Living room", "Friend's server"]  # owned first
    assert linked["servers"][0]["places"] == "local/remote/relay"
    assert stash.plugin_settings("PlexSync") == {**OTHER_SETTINGS, "plex_token": ACCOUNT_TOKEN}
    assert ACCOUNT_TOKEN not in repr(linked) and "accessToken" not in repr(linked)


def test_the_pin_is_created_and_checked_by_one_stable_client_identifier(world, stash, tmp_path):
    first = run("ui_connect_start", stash, tmp_path)
    run("ui_connect_check", stash, tmp_path, pin_id=first["pin_id"])
    run("ui_connect_start", stash, tmp_path, replace="true")
    ids = {r["client_id"] for r in world.plextv.requests}
    assert len(ids) == 1 and ids == {(tmp_path / "client_id").read_text().strip()}
    assert {r["method"] + " " + r["path"].rsplit("/", 1)[0] for r in world.plextv.requests} == {
        "POST /api/v2", "GET /api/v2/pins"}


def test_a_set_url_or_token_needs_the_persons_yes_before_a_code_is_asked(world, stash, tmp_path):
    stash.set_plugin_settings("PlexSync", {**OTHER_SETTINGS, "plex_url": "http://old:32400",
                                           "plex_token": "typed-by-hand-token"})
    answer = run("ui_connect_start", stash, tmp_path)
    assert answer["state"] == "confirm" and answer["plex_url"] == "http://old:32400"
    assert answer["has_token"] is True and "typed-by-hand-token" not in repr(answer)
    assert world.plextv.pins == {}  # nothing asked of plex.tv yet
    assert run("ui_connect_start", stash, tmp_path, replace="true")["state"] == "waiting"
    assert stash.plugin_settings("PlexSync")["plex_token"] == "typed-by-hand-token"  # until linked


def test_choosing_falls_back_from_dead_local_addresses_and_runs_health_check(world, stash, tmp_path):
    signed_in(stash, tmp_path, world)
    answer = run("ui_connect_choose", stash, tmp_path, server="Living room")

    live = f"http://127.0.0.1:{world.plex.port}"
    assert answer["state"] == "connected" and answer["plex_url"] == live
    assert [(t["url"].split("://")[0], t["ok"]) for t in answer["tried"]] == [
        ("https", False), ("http", False), ("http", True), ("https", False)]
    assert answer["tried"][0]["error"] == "connection refused"
    settings = stash.plugin_settings("PlexSync")
    assert settings == {**OTHER_SETTINGS, "plex_token": ACCOUNT_TOKEN, "plex_url": live}
    checks = answer["health"]["checks"]
    assert [c["ok"] for c in checks[:3]] == [True, True, True], checks
    # pins, user and resources all came from PlexSync's one device, the token in a header only
    assert len({r["client_id"] for r in world.plextv.requests}) == 1
    assert {r["path"] for r in world.plextv.requests if r["token_sent"]} == {
        "/api/v2/user", "/api/v2/resources"}
    assert not any("X-Plex-Token" in r["query"] for r in world.plextv.requests)
    assert "Plex server 'Living room'" in checks[3]["line"]


def test_a_shared_server_is_refused_with_its_reason(world, stash, tmp_path):
    flow = signed_in(stash, tmp_path, world)
    answer = run("ui_connect_choose", stash, tmp_path, server="Friend's server")
    assert answer["state"] == "failed" and answer["kind"] == "not_owner"
    assert "shared with this account by bob" in answer["message"]
    assert "plex_url" not in stash.plugin_settings("PlexSync")
    with pytest.raises(NotOwner):
        flow.choose("friend's server")


def test_no_answering_address_names_every_address_tried(world, stash, tmp_path):
    flow = signed_in(stash, tmp_path, world)
    world.plex.down()
    with pytest.raises(NoConnection) as failure:
        flow.choose("Living room")
    message = str(failure.value)
    assert f"http://127.0.0.1:{world.plex.port} (connection refused)" in message
    assert ".plex.direct" in message and "Docker" in message and "\n" not in message


def test_an_expired_code_says_so(stash, tmp_path, monkeypatch):
    clock = [1000.0]
    from tests.emulators.plextv_world import PlexTvWorld
    with PlexTvWorld(pin_lifetime=60, clock=lambda: clock[0]) as world:
        monkeypatch.setenv(ROUTES_ENV, world.routes_json())
        started = run("ui_connect_start", stash, tmp_path)
        assert started["seconds_left"] == 60
        clock[0] += 59
        assert run("ui_connect_check", stash, tmp_path, pin_id=started["pin_id"])["seconds_left"] == 1
        clock[0] += 1
        answer = run("ui_connect_check", stash, tmp_path, pin_id=started["pin_id"])
        with pytest.raises(PinExpired):
            flow_for(stash, tmp_path).check(started["pin_id"])
    assert answer["state"] == "failed" and answer["kind"] == "expired"
    assert "expired" in answer["message"] and "for a new code" in answer["message"]


def test_plex_tv_unreachable_is_told_apart_from_an_expired_code(stash, tmp_path, monkeypatch):
    dead = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv(ROUTES_ENV, f'{{"https://plex.tv": "{dead}"}}')
    answer = run("ui_connect_start", stash, tmp_path)
    assert answer["state"] == "failed" and answer["kind"] == "unreachable"
    assert answer["message"].startswith("plex.tv cannot be reached from Stash's machine (connection refused)")
    with pytest.raises(PlexTvUnreachable):
        flow_for(stash, tmp_path).check(12345)


def test_an_account_without_servers_says_what_to_do(world, stash, tmp_path):
    world.account.servers.clear()
    flow = flow_for(stash, tmp_path)
    pin = flow.start()
    world.authorize_latest()
    answer = run("ui_connect_check", stash, tmp_path, pin_id=pin.pin_id)
    assert answer["state"] == "failed" and answer["kind"] == "no_servers"
    assert "'alice' has no Plex Media Server" in answer["message"]
    with pytest.raises(NoServers):
        flow.servers()


def test_listing_servers_before_signing_in_asks_for_the_code_first(world, stash, tmp_path):
    with pytest.raises(NotSignedIn):
        flow_for(stash, tmp_path).servers()
    assert run("ui_connect_servers", stash, tmp_path)["kind"] == "not_linked"


def test_a_token_plex_tv_no_longer_accepts_asks_to_sign_in_anew(world, stash, tmp_path):
    stash.set_plugin_settings("PlexSync", {**OTHER_SETTINGS, "plex_token": "revoked-token-12345"})
    answer = run("ui_connect_servers", stash, tmp_path)
    assert answer["state"] == "failed" and answer["kind"] == "refused"
    assert answer["message"] == ("plex.tv refused PlexSync's sign-in (the sign-in is no longer "
                                 "valid): press Connect to Plex again to sign in anew.")
    assert "revoked-token-12345" not in repr(answer)


def test_status_says_what_is_set_without_the_token(world, stash, tmp_path):
    assert run("ui_connect_status", stash, tmp_path) == {"state": "idle", "plex_url": "",
                                                          "has_token": False}
    stash.set_plugin_settings("PlexSync", {"plex_token": "typed-by-hand-token"})
    assert run("ui_connect_status", stash, tmp_path) == {"state": "idle", "plex_url": "",
                                                          "has_token": True}
