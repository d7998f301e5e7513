"""One real Stash server per test session, with PlexSync installed the way users install it.

`real_stash`: Stash started by ../shared/stash-server/start-stash on a temporary HOME and MEDIA
and a free port; LIBRARY_CLIPS clips made with ffmpeg and turned into scenes by Stash's own
metadataScan (before PlexSync is installed, so those scans fire no PlexSync hook).
`stage`: PlexSync copied into plugins/PlexSync (install route a), Stash's Python path set to
the project's virtualenv, PlexSync's settings stored with configurePlugin, and the Plex
emulator holding one item per clip under the path Plex sees (path_map maps it).
Everything stops at the end of the session: Stash by its pid, drainers by their data folder.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from sync_queue.lock import drain_lock_held
from sync_queue.store import QueueStore
from tests.emulators.plex_server import PlexEmulator
from tests.real_stash.server import (RealStash, copy_plugin, free_port, kill_plexsync_processes,
                                     make_clips, stash_log_errors, unavailable_reason)
from tests.waiting import wait_until

LIBRARY_CLIPS = 55            # scenes in Plex from the start: 50 for the bulk edit + single edits
PLEX_ROOT = "/plexdata"       # where Plex sees Stash's MEDIA folder (path_map)
PLEX_TOKEN = "real-stash-plex-token"
WHEELHOUSE = "wheelhouse"     # under the session folder; filled by tests/real_stash/test_dependencies


def clip_path(media: Path, n: int) -> Path:
    return media / "library" / f"clip-{n:03d}.mp4"


@pytest.fixture(scope="session")
def real_stash(tmp_path_factory):
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    root = tmp_path_factory.mktemp("real-stash")
    home, media = root / "home", root / "media"
    make_clips([(clip_path(media, n), n) for n in range(LIBRARY_CLIPS)])
    # A new scene is synced after a short delay in tests (30 s for users: Plex needs time).
    # pip run by a plugin (PythonDepManager) installs from a local wheelhouse: start-stash
    # points Stash's proxy at a dead port, so the package index is unreachable from plugins.
    stash = RealStash(home, media, free_port()).start({
        "PLEXSYNC_NEW_SCENE_DELAY": "0.3", "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(root / WHEELHOUSE)})
    try:
        stash.scan()
        yield stash
    finally:
        stash.stop()
        kill_plexsync_processes(home / "plexsync")


@dataclass
class Stage:
    stash: RealStash
    plex: PlexEmulator
    section: int
    scene_ids: dict          # Stash path -> scene id
    plugin_dir: Path
    log_mark: int = 0        # stash.log size when the current test started

    def log_errors(self) -> list[str]:
        """Errors Stash logged from a plugin run since the current test started."""
        return stash_log_errors("\n".join(self.stash.log_lines(self.log_mark)))

    @property
    def data_dir(self) -> Path:
        """Where PlexSync keeps its data by default: <Stash config folder>/plexsync."""
        return self.stash.home / "plexsync"

    def plex_path(self, stash_path) -> str:
        return PLEX_ROOT + "/" + Path(stash_path).relative_to(self.stash.media).as_posix()

    def plex_item(self, stash_path) -> dict:
        keys = self.plex.find_by_file(self.plex_path(stash_path))
        assert len(keys) == 1, f"{stash_path}: {keys}"
        return self.plex.item(keys[0])

    def wait_plex(self, stash_path, predicate, timeout: float = 30.0, what: str = "Plex"):
        return wait_until(lambda: predicate(self.plex_item(stash_path)) and self.plex_item(stash_path),
                          timeout, interval=0.1, what=what)

    def wait_drained(self, timeout: float = 60.0) -> None:
        def idle():
            counts = QueueStore(self.data_dir).counts()
            return (counts["ready"] + counts["in_flight"] + counts["scheduled"] == 0
                    and not drain_lock_held(self.data_dir))
        wait_until(idle, timeout, interval=0.1, what="PlexSync's queue to drain")

    def settings(self, **overrides) -> dict:
        base = {"plex_url": self.plex.url, "plex_token": self.plex.token,
                "path_map": f"{self.stash.media} => {PLEX_ROOT}"}
        base.update(overrides)
        return base

    def run_task(self, name: str, timeout: float = 120, **args) -> tuple[dict, list[str]]:
        """runPluginTask + findJob until it ends; (job, PlexSync's log lines of that run)."""
        mark = self.stash.log_size()
        job = self.stash.wait_job(self.stash.run_task(name, args or None), timeout)
        # Stash writes the plugin's last lines after the job ends, ending with what the plugin
        # returned (start-stash logs at debug level): wait for that line, not for a while
        return job, wait_until(
            lambda: (lines := self.stash.log_lines(mark))
            and any("Plugin returned" in line for line in lines) and lines,
            60, interval=0.1, what=f"Stash to log what the {name!r} task returned")


@pytest.fixture(scope="session")
def plex_real():
    plex = PlexEmulator(token=PLEX_TOKEN).start()
    try:
        yield plex
    finally:
        plex.stop()
    assert not plex.errors, "Plex emulator internal error:\n" + "\n".join(plex.errors)


@pytest.fixture(scope="session")
def stage(real_stash, plex_real) -> Stage:
    section = plex_real.add_section("Stash Scenes", "movie", location=PLEX_ROOT)
    media = real_stash.media
    plex_real.add_items(section, [
        {"title": f"Plex clip {n}", "files": [PLEX_ROOT + "/" + clip_path(media, n).relative_to(media).as_posix()]}
        for n in range(LIBRARY_CLIPS)])
    plugin_dir = copy_plugin(real_stash.plugins_dir / "PlexSync")
    real_stash.set_python(sys.executable)  # the project's virtualenv: PlexSync's requirements
    real_stash.reload_plugins()
    stage = Stage(real_stash, plex_real, section, real_stash.scene_ids_by_path(), plugin_dir)
    real_stash.configure_plugin(stage.settings())
    return stage


@pytest.fixture
def fresh_stage(stage):
    """`stage` with PlexSync's default settings restored and an idle queue afterwards."""
    stage.stash.configure_plugin(stage.settings())
    stage.log_mark = stage.stash.log_size()
    yield stage
    try:
        stage.wait_drained(60)
    finally:
        stage.stash.configure_plugin(stage.settings())
