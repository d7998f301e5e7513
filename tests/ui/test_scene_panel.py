"""The PlexSync tab on a scene's page, in a real browser against the real Stash: every state
the panel can show, Sync now landing an edit in Plex, and the Open in Plex address."""
from __future__ import annotations

import time

import pytest

from tests.ui.browser import by_testid, open_scene_panel
from tests.ui.conftest import NOT_IN_PLEX
from tests.ui.panel_states import dead_letter, note_edit, panel_in_state, schedule_retry
from tests.waiting import wait_until


@pytest.fixture
def stage(ui_stage):
    ui_stage.reset()
    yield ui_stage
    ui_stage.reset()


def open_panel(page, stage, n: int):
    return open_scene_panel(page, stage.stash.url, stage.scene_id(n))


def test_sync_now_lands_the_edit_in_plex_and_the_panel_updates_without_a_reload(stage, ui_page):
    panel = open_panel(ui_page, stage, 0)
    panel_in_state(ui_page, "not_synced")
    assert "no data in this Stash yet" in panel.inner_text()
    ui_page.evaluate("() => { window.plexsyncSamePage = true; }")

    ui_page.click(by_testid("plexsync-sync-now"))
    wait_until(lambda: stage.plex_item(0)["title"] == "Stash clip 0", 60, interval=0.2,
               what="Sync now's edit in Plex")
    panel = panel_in_state(ui_page, "synced")
    assert ui_page.evaluate("() => window.plexsyncSamePage === true"), "the page was reloaded"
    assert ui_page.inner_text(by_testid("plexsync-plex-title")) == "Stash clip 0"
    text = panel.inner_text()
    assert "Stash Scenes" in text                     # the library
    assert "title" in ui_page.inner_text(by_testid("plexsync-changed"))
    assert "ago" in ui_page.inner_text(by_testid("plexsync-last-sync"))

    href = ui_page.get_attribute(by_testid("plexsync-open-in-plex"), "href")
    assert href == (f"{stage.plex.url}/web/index.html#!/server/{stage.plex.machine_identifier}"
                    f"/details?key=%2Flibrary%2Fmetadata%2F{stage.rating_keys[0]}")
    assert ui_page.get_attribute(by_testid("plexsync-open-in-plex"), "target") == "_blank"


def test_waiting_while_a_noted_edit_waits_for_the_drainer(stage, ui_page):
    stage.data_dir.mkdir(parents=True)
    note_edit(stage.data_dir, stage.scene_id(1))
    panel = open_panel(ui_page, stage, 1)
    panel_in_state(ui_page, "waiting")
    assert "Waiting to sync" in panel.inner_text()
    assert ui_page.locator(by_testid("plexsync-sync-now")).is_visible()


def test_retrying_shows_the_next_try_and_the_last_reason(stage, ui_page):
    schedule_retry(stage.data_dir, stage.scene_id(2), in_s=600, attempts=2,
                   error="PlexUnavailable: Plex answered HTTP 503 (maintenance)")
    panel = open_panel(ui_page, stage, 2)
    panel_in_state(ui_page, "retrying")
    assert "in 10 min" in ui_page.inner_text(by_testid("plexsync-next-try"))
    assert "HTTP 503 (maintenance)" in ui_page.inner_text(by_testid("plexsync-reason"))
    assert "Attempts" in panel.inner_text()


def test_failed_shows_the_reason_and_what_to_fix(stage, ui_page):
    dead_letter(stage.data_dir, stage.scene_id(3), reason_code="ambiguous_match",
                reason="ambiguous Plex match (several Plex items hold this scene's files)")
    open_panel(ui_page, stage, 3)
    panel_in_state(ui_page, "failed")
    assert "several Plex items" in ui_page.inner_text(by_testid("plexsync-reason"))
    assert "exactly one Plex item" in ui_page.inner_text(by_testid("plexsync-fix"))


def test_not_in_plex_names_the_mapped_path_plexsync_looked_for(stage, ui_page):
    panel = open_panel(ui_page, stage, NOT_IN_PLEX)
    panel_in_state(ui_page, "not_synced")
    ui_page.click(by_testid("plexsync-sync-now"))
    panel = panel_in_state(ui_page, "not_in_plex", 60_000)
    assert ui_page.inner_text(by_testid("plexsync-looked-for")) == stage.plex_path(NOT_IN_PLEX)
    assert "Next try" in panel.inner_text()


def test_turned_off_says_so_and_links_to_the_settings(stage, ui_page):
    stage.configure(enabled=False)
    panel = open_panel(ui_page, stage, 0)
    panel_in_state(ui_page, "off")
    assert "turned off" in panel.inner_text()
    assert panel.locator('a[href$="/settings?tab=plugins"]').count() == 1
    assert ui_page.locator(by_testid("plexsync-sync-now")).count() == 0


def test_not_set_up_names_the_missing_settings_and_links_to_them(stage, ui_page):
    stage.configure(plex_url="", plex_token="")
    panel = open_panel(ui_page, stage, 0)
    panel_in_state(ui_page, "not_set_up")
    assert "Plex URL" in ui_page.inner_text(by_testid("plexsync-line"))
    panel.locator('a[href$="/settings?tab=plugins"]').click()
    ui_page.wait_for_url("**/settings?tab=plugins")


def test_a_damaged_queue_file_is_one_readable_line(stage, ui_page):
    stage.data_dir.mkdir(parents=True)
    (stage.data_dir / "queue.db").write_bytes(b"this is not an SQLite file at all " * 200)
    open_panel(ui_page, stage, 0)
    panel_in_state(ui_page, "error")
    line = ui_page.inner_text(by_testid("plexsync-line"))
    assert "queue.db is damaged" in line and "press Sync now" in line
    assert len(line.strip().splitlines()) == 1
    ui_page.click(by_testid("plexsync-sync-now"))  # its task repairs the file, then syncs
    panel_in_state(ui_page, "synced", 60_000)
    assert list(stage.data_dir.glob("queue.db.damaged-*"))


def test_plays_brought_from_plex_show_in_the_panel(stage, ui_page):
    status, body = stage.operation({"mode": "ui_sync_now", "scene_id": stage.scene_id(5)})
    assert status == 200 and body["data"]["runPluginOperation"]["queued"], body
    wait_until(lambda: stage.plex_item(5)["title"] == "Stash clip 5", 60, interval=0.2,
               what="the sync of clip 5")
    stage.plex.add_play(stage.rating_keys[5], viewed_at=int(time.time()) - 3600)
    job = stage.stash.wait_job(stage.stash.run_task("Import Plex plays"), 120)
    assert job["status"] == "FINISHED", job
    open_panel(ui_page, stage, 5)
    plays = ui_page.locator(by_testid("plexsync-plays"))
    plays.wait_for(timeout=20_000)
    assert plays.inner_text().startswith("1 imported, last ")
