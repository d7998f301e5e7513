"""The PlexSync page (/plugin/plexsync) in a real browser: reached from Settings → Plugins,
queue and Plex state, the failed list with Retry (seeing Plex as it is now), Retry all and
Delete, Health Check's lines, the Plex connection slot, and how often it polls."""
from __future__ import annotations

import time

import pytest

from tests.ui.browser import by_testid, open_in_app, open_page, open_scene_panel
from tests.ui.conftest import clip_path
from tests.ui.panel_states import dead_letter, panel_in_state, scene_reaches
from tests.waiting import wait_until

PAGE = "/plugin/plexsync"
ROW = by_testid("plexsync-failed-row")


@pytest.fixture
def stage(ui_stage):
    ui_stage.reset()
    yield ui_stage
    ui_stage.reset()


def sync_now(stage, n: int) -> dict:
    status, body = stage.operation({"mode": "ui_sync_now", "scene_id": stage.scene_id(n)})
    assert status == 200 and not body.get("errors"), body
    return body["data"]["runPluginOperation"]


def duplicate_in_plex(stage, n: int) -> int:
    """A second Plex item holding clip n's file: PlexSync (strict) refuses to pick one."""
    path = clip_path(stage.stash.media, n).relative_to(stage.stash.media).as_posix()
    return stage.plex.add_item(stage.section, f"Duplicate of clip {n}", files=[f"/plexdata/{path}"])


def test_reached_from_settings_plugins_shows_queue_plex_and_last_run(stage, ui_page):
    sync_now(stage, 0)
    scene_reaches(stage, 0, "synced")
    open_page(ui_page, stage.stash.url, "/settings?tab=plugins", by_testid("plexsync-page-link"))
    ui_page.click(by_testid("plexsync-page-link"))
    ui_page.wait_for_url(f"**{PAGE}")
    ui_page.wait_for_selector(by_testid("plexsync-queue"), timeout=20_000)
    assert ui_page.inner_text(by_testid("plexsync-plex-state")) == "answered at the last contact"
    wait_until(lambda: "synced 1" in ui_page.inner_text(by_testid("plexsync-last-run")), 15,
               what="the background run's line (stored when the drainer exits)")
    assert ui_page.inner_text(f'{by_testid("plexsync-count-failed")} .plexsync-count-value') == "0"
    # the Plex connection card (Connect to Plex, hooks/ui/plexsync_connect.js) names the server
    wait_until(lambda: "Plex at " + stage.plex.url in ui_page.inner_text(by_testid("plexsync-connection")),
               15, what="the Plex connection card")


def test_the_bookmarkable_address_loads_the_page_directly(stage, ui_page):
    open_page(ui_page, stage.stash.url, "/plugins/plexsync", by_testid("plexsync-page"))
    ui_page.wait_for_selector(by_testid("plexsync-queue"), timeout=20_000)


def test_retry_from_the_failed_list_sees_plex_as_it_is_now(stage, ui_page):
    duplicate = duplicate_in_plex(stage, 4)
    try:
        sync_now(stage, 4)
        scene_reaches(stage, 4, "failed")
        open_in_app(ui_page, stage.stash.url, PAGE, ROW)
        row = ui_page.locator(ROW)
        assert row.count() == 1 and "Stash clip 4" in row.inner_text()
        assert "Duplicate of clip 4" in row.inner_text()  # the candidates, in the reason
        assert "exactly one Plex item" in row.inner_text()  # what to fix
    finally:
        stage.plex.remove_item(duplicate)  # the person fixes it in Plex
    ui_page.click(f"{ROW} {by_testid('plexsync-retry')}")
    ui_page.wait_for_selector(ROW, state="detached", timeout=60_000)
    assert stage.plex_item(4)["title"] == "Stash clip 4"
    message = " ".join(ui_page.inner_text(by_testid("plexsync-message")).split())
    assert message.startswith("Retry: Retry Failed Syncs") and "re-queued 1 failed syncs" in message
    open_scene_panel(ui_page, stage.stash.url, stage.scene_id(4))
    panel_in_state(ui_page, "synced")


def test_retry_all_and_delete(stage, ui_page):
    duplicates = [duplicate_in_plex(stage, n) for n in (5, 6)]
    try:
        for n in (5, 6):
            sync_now(stage, n)
            scene_reaches(stage, n, "failed")
    finally:
        for key in duplicates:
            stage.plex.remove_item(key)
    dead_letter(stage.data_dir, stage.scene_id(1), reason_code="bad_request",
                reason="Plex refused the edit: (400) bad_request")
    open_in_app(ui_page, stage.stash.url, PAGE, ROW)
    wait_until(lambda: ui_page.locator(ROW).count() == 3, 10, what="three failed rows")
    ui_page.click(f'{ROW}[data-scene-id="{stage.scene_id(1)}"] {by_testid("plexsync-delete")}')
    wait_until(lambda: ui_page.locator(ROW).count() == 2, 20, what="the deleted row to go")
    assert stage.plex_item(1)["title"] == "Plex clip 1"  # Delete sends nothing to Plex
    ui_page.click(by_testid("plexsync-retry-all"))
    ui_page.wait_for_selector(ROW, state="detached", timeout=60_000)
    assert [stage.plex_item(n)["title"] for n in (5, 6)] == ["Stash clip 5", "Stash clip 6"]


def test_health_check_shows_each_line(stage, ui_page):
    open_in_app(ui_page, stage.stash.url, PAGE, by_testid("plexsync-health-check"))
    ui_page.click(by_testid("plexsync-health-check"))
    lines = ui_page.locator(f'{by_testid("plexsync-health-lines")} li')
    lines.first.wait_for(timeout=60_000)
    texts = lines.all_inner_texts()
    assert any("Plex token accepted" in t for t in texts), texts
    assert any(t.startswith("Stash ") and "reachable" in t for t in texts), texts
    assert len(texts) >= 5
    # Health Check talked to Plex: the server's machineIdentifier is kept for Open in Plex
    _, body = stage.operation({"mode": "ui_overview"})
    server = body["data"]["runPluginOperation"]["plex_server"]
    assert server == {"url": stage.plex.url, "machine_identifier": stage.plex.machine_identifier}


def test_plex_connection_card_holds_plexsync_connect(stage, ui_page):
    """PlexSync.yml loads hooks/ui/plexsync_connect.js, which registers PlexSyncConnect: the
    card holds it (its own flow is tested in test_connect_browser.py), the manual way beside."""
    open_in_app(ui_page, stage.stash.url, PAGE, by_testid("plexsync-connect-card"))
    card = ui_page.inner_text(by_testid("plexsync-connection"))
    assert "Connect to Plex" in card and "Settings → Plugins → PlexSync" in card
    assert ui_page.evaluate("() => typeof window.PluginApi.components.PlexSyncConnect") == "function"


def test_polls_every_3_s_and_not_while_the_tab_is_hidden(stage, ui_page):
    calls = []
    ui_page.on("request", lambda r: r.url.endswith("/graphql") and '"ui_overview"' in
               (r.post_data or "") and calls.append(time.monotonic()))  # the page's own poll
    open_in_app(ui_page, stage.stash.url, PAGE, by_testid("plexsync-queue"))
    ui_page.wait_for_timeout(10_000)  # (time.sleep would hold back Playwright's events)
    visible = list(calls)
    gaps = [b - a for a, b in zip(visible, visible[1:])]
    assert len(visible) >= 3 and min(gaps) >= 2.9, gaps
    ui_page.evaluate("""() => {
        Object.defineProperty(document, "hidden", {configurable: true, get: () => true});
        document.dispatchEvent(new Event("visibilitychange"));
    }""")
    ui_page.wait_for_timeout(500)  # a call already in flight may finish
    hidden_from = len(calls)
    ui_page.wait_for_timeout(7_000)
    assert len(calls) == hidden_from, "polled while the tab was hidden"
    ui_page.evaluate("""() => {
        Object.defineProperty(document, "hidden", {configurable: true, get: () => false});
        document.dispatchEvent(new Event("visibilitychange"));
    }""")
    wait_until(lambda: len(calls) > hidden_from, 5, what="polling to resume")
