"""PlexSync never breaks Stash's pages: no console error of its own on the scenes list, a scene
page, Settings → Plugins and the PlexSync page — set up or not, its Python working or not —
compared with the same pages with PlexSync disabled (the dead proxy makes Stash log some of
its own). And what the panel says on a Stash without runPluginOperation (v0.24)."""
from __future__ import annotations

import json
import stat
import sys

import pytest
from graphql import parse, validate

from tests.real_stash.server import SHARED
from tests.stash.test_stash_schema_conformance import load_real_schema
from tests.ui.browser import by_testid, open_in_app, open_page

PAGE = "/plugin/plexsync"
V024_SCHEMA = SHARED / "stash-schema" / "v0.24.3"
SETTLE_MS = 4_000  # long enough for the panel's first answer and one more poll


def set_plugin_enabled(stage, enabled: bool) -> None:
    stage.stash.graphql("mutation E($m: BoolMap!) { setPluginsEnabled(enabledMap: $m) }",
                        {"m": {"PlexSync": enabled}})


def errors_on_every_page(browser, stage) -> set[str]:
    """Console errors and uncaught exceptions of the four pages, each in a fresh tab."""
    found: set[str] = set()
    visits = [("/scenes", ".scene-card"), (f"/scenes/{stage.scene_id(0)}", ".scene-tabs, .nav-tabs"),
              ("/settings?tab=plugins", "text=/PlexSync \\(/"), (PAGE, None)]
    for path, ready in visits:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.on("console", lambda m: m.type == "error" and found.add(m.text))
        page.on("pageerror", lambda e: found.add(f"uncaught: {e}"))
        try:
            if path == PAGE:
                open_in_app(page, stage.stash.url, PAGE)
            else:
                open_page(page, stage.stash.url, path, ready)
            tab = page.locator(by_testid("plexsync-tab"))
            if tab.count():
                tab.click()
            page.wait_for_timeout(SETTLE_MS)
        finally:
            context.close()
    return found


@pytest.fixture(scope="module")
def baseline(ui_stage, browser):
    """The same pages with PlexSync disabled: what Stash logs by itself here."""
    set_plugin_enabled(ui_stage, False)
    try:
        return errors_on_every_page(browser, ui_stage)
    finally:
        set_plugin_enabled(ui_stage, True)


@pytest.fixture
def broken_python(tmp_path):
    """An interpreter that exists but cannot run PlexSync (Stash falls back to python3 on
    PATH for a path that does not exist, so it must be a file)."""
    path = tmp_path / "python3"
    path.write_text("#!/bin/sh\necho 'python3: error while loading shared libraries' >&2\nexit 127\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.mark.parametrize("situation", ["set up", "not set up", "python broken"])
def test_no_console_error_of_plexsync_on_stash_pages(ui_stage, browser, baseline, situation,
                                                     broken_python):
    ui_stage.reset()
    if situation == "not set up":
        ui_stage.configure(plex_url="", plex_token="")
    if situation == "python broken":
        ui_stage.stash.set_python(str(broken_python))
    try:
        errors = errors_on_every_page(browser, ui_stage)
    finally:
        ui_stage.stash.set_python(sys.executable)
        ui_stage.reset()
    assert errors - baseline == set(), sorted(errors - baseline)


def test_the_check_sees_an_error_plexsync_would_cause(ui_stage, browser, baseline, ui_page):
    """The comparison is not blind: an exception thrown on the page shows up in it."""
    open_page(ui_page, ui_stage.stash.url, "/scenes", ".scene-card")
    ui_page.evaluate("() => setTimeout(() => { throw new Error('PlexSync test error'); })")
    ui_page.wait_for_timeout(500)
    assert any("PlexSync test error" in e for e in ui_page.console_errors)


def test_a_python_that_does_not_start_is_one_line_in_the_panel(ui_stage, ui_page, broken_python):
    ui_stage.reset()
    ui_stage.stash.set_python(str(broken_python))
    try:
        open_in_app(ui_page, ui_stage.stash.url, PAGE, by_testid("plexsync-error"))
        line = ui_page.inner_text(by_testid("plexsync-error"))
    finally:
        ui_stage.stash.set_python(sys.executable)
    assert line.startswith("PlexSync did not answer") and len(line.splitlines()) == 1


def test_stash_without_run_plugin_operation_is_told_which_version_is_needed(ui_stage, ui_page):
    """Only v0.30 runs here, so the v0.24 answer is built from real parts: v0.24.3's schema
    refuses the panel's very document (graphql-core), and the real Stash (gqlgen's wording)
    shows how it answers a mutation it does not have (status, body)."""
    open_page(ui_page, ui_stage.stash.url, "/scenes", ".scene-card")
    document = ui_page.evaluate("() => window.PlexSyncUI.operation")
    if not V024_SCHEMA.exists():
        pytest.skip(f"Stash's v0.24.3 schema is not at {V024_SCHEMA} (../shared absent)")
    [problem] = validate(load_real_schema(V024_SCHEMA), parse(document))
    assert problem.message.startswith("Cannot query field 'runPluginOperation' on type 'Mutation'")
    unknown = document.replace("runPluginOperation", "runPluginOperationV024")
    status, body = ui_stage.stash.post(unknown, {"args": {"mode": "ui_scene"}})
    assert status in (400, 422) and "runPluginOperationV024" in json.dumps(body)
    as_v024 = json.loads(json.dumps(body).replace("runPluginOperationV024", "runPluginOperation"))
    line = ui_page.evaluate("([s, b]) => window.PlexSyncUI.describeFailure(s, b)", [status, as_v024])
    assert line.startswith("PlexSync's panel needs Stash v0.25 or newer")
    # and an answer that only looks alike is not taken for an old Stash
    other = ui_page.evaluate("([s, b]) => window.PlexSyncUI.describeFailure(s, b)", [status, body])
    assert "v0.25" not in other
