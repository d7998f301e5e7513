"""Where PlexSync keeps its data, and moving an old <plugin folder>/data out (issue 10.2)."""
from __future__ import annotations

import logging

import pytest

from hooks.data_location import data_dir_with_migration
from sync_queue.lock import DrainLock
from sync_queue.store import QueueStore
from validation.config import data_dir_for


@pytest.fixture
def stash_home(tmp_path, monkeypatch):
    """A Stash config folder (config.yml) with PlexSync copied in and from a plugin source."""
    monkeypatch.delenv("PLEXSYNC_DATA_DIR", raising=False)
    home = tmp_path / "stash"
    (home / "plugins" / "PlexSync").mkdir(parents=True)
    (home / "plugins" / "src" / "PlexSync").mkdir(parents=True)
    (home / "config.yml").write_text("plugins_path: plugins\n")
    return home


@pytest.mark.parametrize("layout", [("PlexSync",), ("src", "PlexSync")])
def test_default_is_plexsync_in_stashs_config_folder(stash_home, layout):
    plugin_dir = stash_home.joinpath("plugins", *layout)
    assert data_dir_for(plugin_dir, stash_home) == stash_home / "plexsync"
    assert data_dir_for(plugin_dir) == stash_home / "plexsync"  # process_queue.py: no Dir given


def test_outside_stash_and_override(tmp_path, monkeypatch):
    monkeypatch.delenv("PLEXSYNC_DATA_DIR", raising=False)
    assert data_dir_for(tmp_path / "checkout") == tmp_path / "checkout" / "data"
    monkeypatch.setenv("PLEXSYNC_DATA_DIR", str(tmp_path / "x"))
    assert data_dir_for(tmp_path / "checkout", tmp_path) == tmp_path / "x"


def queue_one(data_dir) -> None:
    with QueueStore(data_dir) as store:
        store.enqueue([{"scene_id": "7", "snapshot": {"id": "7"}}])


def test_legacy_folder_moves_with_its_jobs(stash_home):
    plugin_dir = stash_home / "plugins" / "PlexSync"
    queue_one(plugin_dir / "data")
    assert data_dir_with_migration(plugin_dir, stash_home) == stash_home / "plexsync"
    assert not (plugin_dir / "data").exists()
    assert QueueStore(stash_home / "plexsync").counts()["ready"] == 1


def test_legacy_folder_in_use_by_a_drainer_stays_for_now(stash_home):
    plugin_dir = stash_home / "plugins" / "PlexSync"
    queue_one(plugin_dir / "data")
    with DrainLock(plugin_dir / "data"):
        assert data_dir_with_migration(plugin_dir, stash_home) == plugin_dir / "data"
    assert data_dir_with_migration(plugin_dir, stash_home) == stash_home / "plexsync"


def test_nothing_moves_when_the_new_folder_exists_or_the_user_chose_one(stash_home, monkeypatch,
                                                                      caplog):
    plugin_dir = stash_home / "plugins" / "PlexSync"
    queue_one(plugin_dir / "data")
    (stash_home / "plexsync").mkdir()
    with caplog.at_level(logging.WARNING):
        assert data_dir_with_migration(plugin_dir, stash_home) == stash_home / "plexsync"
        assert data_dir_with_migration(plugin_dir, stash_home) == stash_home / "plexsync"
    assert (plugin_dir / "data").exists()
    told = [r.getMessage() for r in caplog.records if "is still there" in r.getMessage()]
    assert len(told) == 1, told  # said once, not on every save
    monkeypatch.setenv("PLEXSYNC_DATA_DIR", str(stash_home / "elsewhere"))
    assert data_dir_with_migration(plugin_dir, stash_home) == stash_home / "elsewhere"
    assert (plugin_dir / "data").exists()
