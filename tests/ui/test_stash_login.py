"""A Stash with its password / API key protection on: the panel works through the browser's
login, PlexSync's Python reads its settings with the session Stash hands it, and when the
browser's session ends the panel says so in one line instead of failing."""
from __future__ import annotations

import urllib.parse
import urllib.request

import pytest

from tests.real_stash.server import post_graphql
from tests.ui.browser import by_testid, open_scene_panel
from tests.ui.panel_states import panel_in_state

USER, PASSWORD = "admin", "ui-test-password"
CREDENTIALS = ("mutation C($u: String, $p: String) { configureGeneral(input: {username: $u, "
               "password: $p}) { username } }")


def login(base_url: str) -> str:
    """POST /login as Stash's login page does; the session cookie's value."""
    body = urllib.parse.urlencode({"username": USER, "password": PASSWORD}).encode()
    request = urllib.request.Request(f"{base_url}/login", data=body, method="POST", headers={
        "Content-Type": "application/x-www-form-urlencoded"})
    with urllib.request.urlopen(request, timeout=30) as response:
        cookie = response.headers.get("Set-Cookie", "")
    name, _, rest = cookie.partition("=")
    assert name == "session", cookie
    return rest.split(";", 1)[0]


@pytest.fixture
def protected(ui_stage):
    ui_stage.reset()
    ui_stage.stash.graphql(CREDENTIALS, {"u": USER, "p": PASSWORD})
    session = login(ui_stage.stash.url)
    status, _ = ui_stage.stash.post("{ version { version } }")
    assert status == 401  # the protection is on: no answer without a login
    try:
        yield session
    finally:
        status, body = post_graphql(ui_stage.stash.url, CREDENTIALS, {"u": "", "p": ""},
                                    headers={"Cookie": f"session={session}"})
        assert status == 200 and not body.get("errors"), body
        ui_stage.reset()


def test_panel_and_sync_now_work_behind_stash_login_and_a_lost_session_is_one_line(
        ui_stage, ui_page, protected):
    ui_page.context.add_cookies([{"name": "session", "value": protected, "url": ui_stage.stash.url}])
    open_scene_panel(ui_page, ui_stage.stash.url, ui_stage.scene_id(2))
    panel_in_state(ui_page, "not_synced")  # the first read asked Stash for the settings
    ui_page.click(by_testid("plexsync-sync-now"))
    panel_in_state(ui_page, "synced", 60_000)
    assert ui_stage.plex_item(2)["title"] == "Stash clip 2"

    ui_page.context.clear_cookies()  # the session ends (logged out elsewhere, expired)
    line = ui_page.locator(by_testid("plexsync-error"))
    line.wait_for(timeout=15_000)
    assert line.inner_text().startswith("Stash asked for a login")
    assert "reload the page and log in again" in line.inner_text()
