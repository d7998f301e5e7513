"""PlexSync's web UI in a real browser: the real Stash from ../shared (its own web UI embedded)
with PlexSync installed, the Plex emulator, and Debian's chromium driven by Playwright.

Fixtures (kept stable: other UI tests build on them):
- `ui_stage` (session): Stash + Plex emulator + PlexSync installed and set up; UI_CLIPS
  scenes titled "Stash clip <n>", each with one Plex item "Plex clip <n>" except NOT_IN_PLEX. `ui_stage.settings(**overrides)` / `.configure(...)`,
  `.scene_id(n)`, `.plex_item(n)`, `.reset()` (default settings, empty queue and data).
- `browser` (session): chromium launched with executable_path (no browser download) behind
  a dead proxy (loopback bypasses it: the browser never reaches the internet).
- `ui_page` (per test): a fresh page whose console errors and page errors are collected in
  `ui_page.console_errors`; `open(ui_page, stage, path)` loads a Stash page.
Everything skips with the reason when ../shared, chromium or playwright is absent.
"""
from __future__ import annotations

import shutil
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.emulators.plex_server import PlexEmulator
from tests.real_stash.conftest import copy_plugin
from tests.real_stash.server import (RealStash, free_port, kill_plexsync_processes, make_clips,
                                     unavailable_reason)
from tests.ui.browser import browser_unavailable_reason, launch

UI_CLIPS = 8
NOT_IN_PLEX = UI_CLIPS - 1   # the one clip Plex has no item for
PLEX_ROOT = "/plexdata"
PLEX_TOKEN = "ui-plex-token-4f9a2c7e"  # distinctive: the token test looks for it in every answer
# Stash shows its release notes over every page until told they were seen.
LAST_NOTE_SEEN = 20251026


def clip_path(media: Path, n: int) -> Path:
    return media / "library" / f"ui-clip-{n:02d}.mp4"


@dataclass
class UiStage:
    stash: RealStash
    plex: PlexEmulator
    section: int
    scene_ids: dict        # clip number -> Stash scene id
    rating_keys: dict      # clip number -> Plex ratingKey
    plugin_dir: Path

    @property
    def data_dir(self) -> Path:
        return self.stash.home / "plexsync"

    def scene_id(self, n: int) -> str:
        return self.scene_ids[n]

    def plex_path(self, n: int) -> str:
        return PLEX_ROOT + "/" + clip_path(self.stash.media, n).relative_to(self.stash.media).as_posix()

    def plex_item(self, n: int) -> dict:
        return self.plex.item(self.rating_keys[n])

    def settings(self, **overrides) -> dict:
        base = {"plex_url": self.plex.url, "plex_token": self.plex.token,
                "path_map": f"{self.stash.media} => {PLEX_ROOT}", "enabled": True}
        base.update(overrides)
        return base

    def configure(self, **overrides) -> dict:
        return self.stash.configure_plugin(self.settings(**overrides))

    def operation(self, args: dict) -> tuple[int, dict]:
        """runPluginOperation as the browser sends it: (HTTP status, body)."""
        return self.stash.post("mutation O($a: Map) { runPluginOperation(plugin_id: \"PlexSync\", "
                               "args: $a) }", {"a": args})

    def reset(self) -> None:
        """Default settings, no drainer, and no PlexSync data: each test states what it needs."""
        self.configure()
        kill_plexsync_processes(self.data_dir)
        shutil.rmtree(self.data_dir, ignore_errors=True)


@contextmanager
def running_stage(root: Path):
    """Stash (with PlexSync set up) and the Plex emulator under `root`; stopped afterwards."""
    home, media = root / "home", root / "media"
    make_clips([(clip_path(media, n), 200 + n) for n in range(UI_CLIPS)])
    stash = RealStash(home, media, free_port()).start({"PLEXSYNC_NEW_SCENE_DELAY": "0"})
    plex = PlexEmulator(token=PLEX_TOKEN).start()
    try:
        stash.scan()  # before PlexSync is installed: these scans fire no PlexSync hook
        stash.graphql("mutation { configureUISetting(key: \"lastNoteSeen\", value: %d) }"
                      % LAST_NOTE_SEEN)
        section = plex.add_section("Stash Scenes", "movie", location=PLEX_ROOT)
        by_path = stash.scene_ids_by_path()
        scene_ids, rating_keys = {}, {}
        for n in range(UI_CLIPS):
            path = clip_path(media, n)
            scene_ids[n] = by_path[str(path)]
            stash.graphql("mutation T($id: ID!, $t: String) { sceneUpdate(input: {id: $id, "
                          "title: $t}) { id } }", {"id": scene_ids[n], "t": f"Stash clip {n}"})
            if n != NOT_IN_PLEX:
                rating_keys[n] = plex.add_item(section, f"Plex clip {n}", files=[
                    PLEX_ROOT + "/" + path.relative_to(media).as_posix()])
        plugin_dir = copy_plugin(stash.plugins_dir / "PlexSync")
        stash.set_python(sys.executable)  # the project's virtualenv: PlexSync's requirements
        stash.reload_plugins()
        stage = UiStage(stash, plex, section, scene_ids, rating_keys, plugin_dir)
        stage.configure()
        yield stage
    finally:
        stash.stop()
        kill_plexsync_processes(home / "plexsync")
        plex.stop()


@pytest.fixture(scope="session")
def ui_stage(tmp_path_factory):
    reason = unavailable_reason() or browser_unavailable_reason()
    if reason:
        pytest.skip(reason)
    with running_stage(tmp_path_factory.mktemp("ui-stash")) as stage:
        yield stage


@pytest.fixture(scope="session")
def browser(ui_stage):
    with launch() as chromium:
        yield chromium


@pytest.fixture
def ui_page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.console_errors = []
    page.on("console", lambda m: m.type == "error" and page.console_errors.append(m.text))
    page.on("pageerror", lambda e: page.console_errors.append(f"page error: {e}"))
    try:
        yield page
    finally:
        context.close()

