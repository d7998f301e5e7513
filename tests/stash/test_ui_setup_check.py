"""hooks/ui/setup_check.py against the Stash emulator: the one request a panel makes when it
opens (or a flag says the settings matter), its answers, and the flags it leaves."""
from __future__ import annotations

from hooks.ui.setup_check import SETTINGS_PAGE, setup_state
from sync_queue import inbox
from tests.harness import protocol


def conn(stash, cookie) -> dict:
    return protocol.server_connection("http", "127.0.0.1", stash.port, cookie, None, None)


def test_ready_off_and_not_set_up_with_their_flags(stash_factory, tmp_path):
    stash = stash_factory()
    session = stash.create_session()
    stash.set_plugin_settings("PlexSync", {"plex_url": "http://plex:32400", "plex_token": "t"})
    tmp_path.joinpath(inbox.SETTINGS_FLAG).touch()  # left by a drain that met bad settings
    assert setup_state(conn(stash, session), str(tmp_path)) == {"state": "ready"}
    assert not inbox.flag_set(tmp_path, inbox.SETTINGS_FLAG)

    stash.set_plugin_settings("PlexSync", {"plex_url": "http://plex:32400", "plex_token": "t",
                                           "enabled": False})
    off = setup_state(conn(stash, session), str(tmp_path))
    assert off["state"] == "off" and off["settings_url"] == SETTINGS_PAGE
    assert inbox.flag_set(tmp_path, inbox.DISABLED_FLAG)  # polls say "off" without asking

    stash.set_plugin_settings("PlexSync", {})
    missing = setup_state(conn(stash, session), str(tmp_path))
    assert missing["state"] == "not_set_up" and "Plex URL" in missing["line"]
    assert set(missing["missing"]) == {"plex_url", "plex_token"}
    assert inbox.flag_set(tmp_path, inbox.SETTINGS_FLAG)


def test_stash_refusing_the_session_is_one_line(stash_factory, tmp_path):
    stash = stash_factory(api_key="k3y")
    answer = setup_state(conn(stash, "not-a-session"), str(tmp_path / "none-yet"))
    assert answer["state"] == "error" and "Stash refused PlexSync's request" in answer["line"]
    assert not (tmp_path / "none-yet").exists()  # no data folder is made by a read
    gone = setup_state(protocol.server_connection("http", "127.0.0.1", 9, None, None, None),
                       str(tmp_path))
    assert gone["state"] == "error" and gone["line"].startswith("PlexSync could not read its settings")
