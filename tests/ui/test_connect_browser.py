"""Connect to Plex in the real browser on the real Stash (../shared), against the plex.tv world.

The Stash here is started with PLEXSYNC_PLEXTV_ROUTES naming the plex.tv emulator (the one way
into a plugin process Stash starts; plex/account/session.py), so Connect's Python, run by
Stash's runPluginOperation, reaches the emulator and never plex.tv. Its own Stash, because
the routes must be in Stash's environment from its start.

Covered: code shown → the person enters it → the server picked (the dead local addresses
fall back to the live one) → Plex URL and token stored, every other setting kept → Health
Check green; confirming before replacing settings; Cancel; an expired code; and that the
token appears in no operation answer, no Stash log line and no file outside Stash's config.yml;
plex.tv unreachable; and that configurePlugin replaces the map (why storing sends it whole).
"""
from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import pytest

from plex.account.session import ROUTES_ENV
from tests.emulators.plextv_world import ACCOUNT_TOKEN, PlexTvWorld
from tests.real_stash.conftest import copy_plugin
from tests.real_stash.server import (RealStash, free_port, kill_plexsync_processes, make_clips,
                                     unavailable_reason)
from tests.ui.browser import RENDER_TIMEOUT_MS, browser_unavailable_reason, by_testid, launch, open_page
from tests.waiting import wait_until

PLEX_ROOT = "/plexdata"
CLIPS = 2
# Settings Connect must leave as they are; debug logging on, so the token scan reads the most
# log lines PlexSync can write.
KEPT = {"max_tags": 7, "strict_matching": False, "debug_logging": True}


class ConnectStage:
    def __init__(self, world: PlexTvWorld, stash: RealStash):
        self.world, self.stash = world, stash

    @property
    def data_dir(self) -> Path:
        return self.stash.home / "plexsync"

    def base_settings(self) -> dict:
        return {**KEPT, "path_map": f"{self.stash.media} => {PLEX_ROOT}"}


@pytest.fixture(scope="module")
def stage(tmp_path_factory):
    reason = unavailable_reason() or browser_unavailable_reason()
    if reason:
        pytest.skip(reason)
    root = tmp_path_factory.mktemp("connect-stash")
    home, media = root / "home", root / "media"
    clips = [media / "library" / f"connect-{n}.mp4" for n in range(CLIPS)]
    make_clips([(path, 300 + n) for n, path in enumerate(clips)])
    world = PlexTvWorld().start()
    for path in clips:
        world.plex.add_item(1, path.stem, files=[PLEX_ROOT + "/" + path.relative_to(media).as_posix()])
    stash = RealStash(home, media, free_port())
    try:
        stash.start({ROUTES_ENV: world.routes_json()})
        stash.scan()
        stash.graphql('mutation { configureUISetting(key: "lastNoteSeen", value: 20251026) }')
        copy_plugin(stash.plugins_dir / "PlexSync")
        stash.set_python(sys.executable)
        stash.reload_plugins()
        yield ConnectStage(world, stash)
    finally:
        stash.stop()
        kill_plexsync_processes(home / "plexsync")
        world.stop()


@pytest.fixture(scope="module")
def chromium(stage):
    with launch() as browser:
        yield browser


@pytest.fixture
def page(chromium, stage):
    """A fresh page on /plugin/plexsync; every runPluginOperation answer is kept."""
    stage.world.plextv.pin_lifetime = 1800
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    tab = context.new_page()
    tab.operation_answers = []
    tab.errors = []

    def keep(response):
        request = response.request
        if "/graphql" in response.url and "runPluginOperation" in (request.post_data or ""):
            try:
                tab.operation_answers.append(response.text())
            except Exception:  # noqa: BLE001 - a page closing mid-answer
                pass
    tab.on("response", keep)
    tab.on("pageerror", lambda e: tab.errors.append(str(e)))
    try:
        yield tab
    finally:
        context.close()


def open_connect(page, stage):
    """The PlexSync page as a person reaches it: Settings → Plugins → PlexSync → Open."""
    open_page(page, stage.stash.url, "/settings?tab=plugins", by_testid("plexsync-page-link"))
    page.click(by_testid("plexsync-page-link"))
    page.wait_for_selector(by_testid("plexsync-connect"), timeout=RENDER_TIMEOUT_MS)
    wait_until(lambda: "Asking" not in page.inner_text(by_testid("plexsync-connect-current")),
               30, interval=0.1, what="the current connection")


def shown(page, testid: str, timeout_ms: int = RENDER_TIMEOUT_MS) -> str:
    locator = page.locator(by_testid(testid))
    locator.wait_for(timeout=timeout_ms)
    return locator.inner_text()


def test_connect_end_to_end_stores_url_and_token_keeps_the_rest_and_health_is_green(page, stage):
    stage.stash.configure_plugin(stage.base_settings())
    log_mark = stage.stash.log_size()
    open_connect(page, stage)
    assert page.inner_text(by_testid("plexsync-connect-current")) == "Not connected to Plex yet."

    page.click(by_testid("plexsync-connect"))
    code = shown(page, "plexsync-connect-code")
    assert re.fullmatch(r"[A-Z0-9]{4}", code) and code == stage.world.latest_code()
    assert page.get_attribute(by_testid("plexsync-connect-link"), "href") == "https://plex.tv/link"
    first = shown(page, "plexsync-connect-countdown")
    assert re.fullmatch(r"Waiting for the code: (29:[5][0-9]|30:00) left", first), first
    time.sleep(2.2)
    assert shown(page, "plexsync-connect-countdown") != first  # it counts down while waiting

    stage.world.authorize_latest()  # the person enters the code at plex.tv/link
    servers = shown(page, "plexsync-connect-servers")
    assert "Living room" in servers and "shared by bob: PlexSync cannot edit it" in servers
    assert stage.stash.plugin_settings()["plex_token"] == ACCOUNT_TOKEN  # stored at the link

    page.locator(by_testid("plexsync-connect-server")).filter(has_text="Living room") \
        .locator(by_testid("plexsync-connect-choose")).click()
    live = f"http://127.0.0.1:{stage.world.plex.port}"
    assert shown(page, "plexsync-connect-done", 90_000) == f"Connected to Living room at {live}."
    tried = shown(page, "plexsync-connect-tried")
    assert f"{live} answered" in tried and "plex.direct" in tried and "(connection refused)" in tried
    health = page.locator(by_testid("plexsync-connect-health") + " li")
    lines = health.all_inner_texts()
    assert lines and all(line.startswith("✓ ") for line in lines), lines
    assert any("Plex token accepted" in line for line in lines)
    assert any("Path map" in line or "path" in line.lower() for line in lines), lines

    assert stage.stash.plugin_settings() == {**stage.base_settings(), "plex_url": live,
                                             "plex_token": ACCOUNT_TOKEN}
    assert not page.errors
    edit_syncs_with_the_stored_settings(stage)
    assert_token_nowhere(page, stage, log_mark)


def edit_syncs_with_the_stored_settings(stage):
    """A scene edit now reaches Plex: the hook, a background drainer (which writes
    drainer.log, scanned below) and the URL and token Connect stored."""
    path = next(iter(sorted(stage.stash.scene_ids_by_path())))
    scene_id = stage.stash.scene_ids_by_path()[path]
    stage.stash.graphql('mutation U($id: ID!) { sceneUpdate(input: {id: $id, title: "Connected"}) { id } }',
                        {"id": scene_id})
    plex_path = PLEX_ROOT + "/" + Path(path).relative_to(stage.stash.media).as_posix()
    [key] = stage.world.plex.find_by_file(plex_path)
    wait_until(lambda: stage.world.plex.item(key)["title"] == "Connected", 60, interval=0.2,
               what="the edit to reach Plex with the connected settings")
    wait_until(lambda: (stage.data_dir / "drainer.log").exists(), 30, interval=0.2,
               what="drainer.log")


def assert_token_nowhere(page, stage, log_mark):
    """The token is in Stash's own settings (config.yml) and nowhere else we can look."""
    token = ACCOUNT_TOKEN.encode()
    assert page.operation_answers and not [a for a in page.operation_answers if ACCOUNT_TOKEN in a]
    assert ACCOUNT_TOKEN not in "\n".join(stage.stash.log_lines(log_mark))
    assert token in (stage.stash.home / "config.yml").read_bytes()  # where it belongs: the
    # scan below looks the same way, so it would find a copy anywhere else
    holding = [p for p in stage.stash.home.rglob("*")
               if p.is_file() and p.name != "config.yml" and token in p.read_bytes()]
    assert holding == []
    assert list(stage.data_dir.iterdir()), "PlexSync's data folder was not even written"


def test_settings_already_set_are_replaced_only_after_confirming_and_cancel_changes_nothing(page, stage):
    before = {**stage.base_settings(), "plex_url": "http://typed-by-hand:32400",
              "plex_token": "typed-by-hand-token-1234"}
    stage.stash.configure_plugin(before)
    open_connect(page, stage)
    assert shown(page, "plexsync-connect-current") == "Plex at http://typed-by-hand:32400"

    page.click(by_testid("plexsync-connect"))
    assert "Connecting replaces them" in shown(page, "plexsync-connect-confirm-box")
    page.click(by_testid("plexsync-connect-keep"))
    assert shown(page, "plexsync-connect-note") == "Kept your settings."

    page.click(by_testid("plexsync-connect"))
    page.click(by_testid("plexsync-connect-confirm"))
    shown(page, "plexsync-connect-code")
    page.click(by_testid("plexsync-connect-cancel"))
    assert shown(page, "plexsync-connect-note").startswith("Cancelled: nothing was changed")
    stage.world.authorize_latest()  # entered after Cancel: the page no longer asks
    time.sleep(4)
    assert stage.stash.plugin_settings() == before


def test_an_expired_code_says_so_with_the_next_step(page, stage):
    stage.stash.configure_plugin(stage.base_settings())
    stage.world.plextv.pin_lifetime = 5
    open_connect(page, stage)
    page.click(by_testid("plexsync-connect"))
    shown(page, "plexsync-connect-code")
    message = shown(page, "plexsync-connect-error", 30_000)
    assert message.startswith("The code expired before it was entered at plex.tv/link")
    assert page.locator(by_testid("plexsync-connect-again")).is_visible()
    assert stage.stash.plugin_settings() == stage.base_settings()


def test_stash_replaces_the_settings_map_so_storing_sends_it_whole(stage):
    """Why StashClient.configure_plugin reads first (Stash's SetPluginConfiguration replaces
    the map), measured on the real Stash: every kind of value comes back as it was."""
    from hooks.stash_api import StashClient
    every_kind = {**stage.base_settings(), "connect_timeout": 2.5, "enabled": True,
                  "plex_libraries": "Stash Scenes, Old", "unknown_key_of_a_newer_plexsync": "x"}
    stage.stash.configure_plugin(every_kind)
    StashClient(stage.stash.url).configure_plugin({"plex_url": "http://changed:32400"})
    assert stage.stash.plugin_settings() == {**every_kind, "plex_url": "http://changed:32400"}

    stage.stash.configure_plugin({"plex_url": "http://alone:32400"})  # what a bare call does
    assert stage.stash.plugin_settings() == {"plex_url": "http://alone:32400"}


def test_plex_tv_unreachable_is_one_line_with_the_next_step(page, stage):
    stage.stash.configure_plugin(stage.base_settings())
    open_connect(page, stage)
    stage.world.plextv.stop()  # plex.tv away from Stash's machine (here: connection refused)
    try:
        page.click(by_testid("plexsync-connect"))
        message = shown(page, "plexsync-connect-error", 30_000)
    finally:
        stage.world.plextv.start()  # same port: the routes Stash was started with still hold
    assert message.startswith("plex.tv cannot be reached from Stash's machine (connection refused)")
    assert "set Plex URL and Plex token by hand" in message
    assert page.locator(by_testid("plexsync-connect-card")).get_by_text(
        "Settings → Plugins → PlexSync").count() >= 1  # the manual way, right there
    assert stage.stash.plugin_settings() == stage.base_settings()


def test_the_card_alone_asks_stash_itself(page, stage):
    """Without the page's `call` (another page embedding the component), the card sends its
    operations to Stash itself and renders the answer."""
    stage.stash.configure_plugin({**stage.base_settings(), "plex_url": "http://alone:32400"})
    open_page(page, stage.stash.url, "/plugins/plexsync", by_testid("plexsync-page"))
    page.evaluate("""() => {
        const api = window.PluginApi, h = api.React.createElement;
        const el = document.createElement("div");
        el.setAttribute("data-testid", "standalone");
        document.body.appendChild(el);
        api.ReactDOM.render(h(api.libraries.ReactRouterDOM.BrowserRouter, null,
                              h(api.components.PlexSyncConnect, {})), el);
    }""")
    current = page.locator(by_testid("standalone") + " " + by_testid("plexsync-connect-current"))
    wait_until(lambda: current.inner_text() == "Plex at http://alone:32400 (no token yet)", 30,
               interval=0.1, what="the standalone card's answer")
