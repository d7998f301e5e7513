"""Issue 10, item 2: PlexSync installed the ways users install it, into the real Stash.

(a) runtime files copied into plugins/PlexSync + reloadPlugins (the session's `stage`);
(b) Stash's package manager: the index.yml + zip of .ci/build_plugin_source.py as a file://
    plugin source, installPackages / uninstallPackages. Queued edits live in
    <Stash config folder>/plexsync, so an uninstall + reinstall loses none, and a data folder
    an older PlexSync left in <plugin folder>/data is moved there by the next run.
"""
from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from sync_queue.lock import DrainLock
from sync_queue.store import QueueStore
from tests.harness.manifest import load_manifest
from tests.real_stash.conftest import LIBRARY_CLIPS, clip_path, copy_plugin
from tests.real_stash.server import PROJECT_ROOT

MANIFEST = load_manifest(PROJECT_ROOT / "PlexSync.yml")
SCENE_UPDATE = "mutation U($input: SceneUpdateInput!) { sceneUpdate(input: $input) { id } }"
PACKAGE = "mutation P($ids: [PackageSpecInput!]!) { %s(type: Plugin, packages: $ids) }"
SOURCE_LOCAL_PATH = "plexsync-source"


def assert_listed_as_manifest(listed: dict) -> None:
    """What Stash lists equals what PlexSync.yml declares (not hard-coded counts)."""
    assert listed is not None, "Stash does not list PlexSync"
    assert [t["name"] for t in listed["tasks"]] == [t.name for t in MANIFEST.tasks]
    assert {s["name"]: s["type"] for s in listed["settings"]} == {
        name: s.effective_type for name, s in MANIFEST.settings.items()}
    assert sorted(h for hook in listed["hooks"] for h in hook["hooks"]) == sorted(
        t for hook in MANIFEST.hooks for t in hook.triggered_by)


def edit_title(stage, n: int, title: str):
    path = clip_path(stage.stash.media, n)
    stage.stash.graphql(SCENE_UPDATE, {"input": {"id": stage.scene_ids[str(path)], "title": title}})
    return path


def test_copied_plugin_is_listed_as_its_manifest_declares(stage):
    assert_listed_as_manifest(stage.stash.plugin())


def test_data_folder_is_outside_the_plugin_folder(fresh_stage):
    path = edit_title(fresh_stage, LIBRARY_CLIPS - 3, "Data folder check")
    fresh_stage.wait_plex(path, lambda i: i["title"] == "Data folder check")
    assert (fresh_stage.stash.home / "plexsync" / "queue.db").exists()
    assert not (fresh_stage.plugin_dir / "data").exists()


def test_old_data_folder_in_the_plugin_folder_is_moved_with_its_queue(fresh_stage):
    stage = fresh_stage
    stage.wait_drained()
    with DrainLock(stage.data_dir):  # nothing drains: the edit stays queued
        path = edit_title(stage, LIBRARY_CLIPS - 4, "Queued before the upgrade")
        assert QueueStore(stage.data_dir).counts()["ready"] == 1
    legacy = stage.plugin_dir / "data"
    shutil.move(stage.data_dir, legacy)  # as an older PlexSync kept it
    job, lines = stage.run_task("Queue Status")
    assert any("moved PlexSync's data folder" in line for line in lines), lines
    assert not legacy.exists() and (stage.data_dir / "queue.db").exists()
    stage.run_task("Process Queue")
    stage.wait_plex(path, lambda i: i["title"] == "Queued before the upgrade")


@pytest.fixture
def plugin_source(stage, tmp_path):
    """PlexSync's plugin source as a file:// URL; the copied install is removed meanwhile and
    put back afterwards (two plugins with the id PlexSync cannot be loaded at once)."""
    stash = stage.stash
    stage.wait_drained()
    out = tmp_path / "source"
    subprocess.run([sys.executable, str(PROJECT_ROOT / ".ci" / "build_plugin_source.py"),
                    "--out", str(out)], check=True, capture_output=True)
    url = (out / "index.yml").as_uri()
    shutil.rmtree(stage.plugin_dir)
    stash.graphql("mutation S($s: [PackageSourceInput!]) { configureGeneral(input: "
                  "{pluginPackageSources: $s}) { pluginPackageSources { url } } }",
                  {"s": [{"name": "PlexSync", "url": url, "local_path": SOURCE_LOCAL_PATH}]})
    stash.reload_plugins()
    try:
        yield url
    finally:
        if (stash.plugins_dir / SOURCE_LOCAL_PATH / "PlexSync" / "manifest").exists():
            stash.wait_job(stash.graphql(PACKAGE % "uninstallPackages", {
                "ids": [{"id": "PlexSync", "sourceURL": url}]})["uninstallPackages"], 60)
        shutil.rmtree(stash.plugins_dir / SOURCE_LOCAL_PATH, ignore_errors=True)
        stash.graphql("mutation { configureGeneral(input: {pluginPackageSources: []}) { pythonPath } }")
        copy_plugin(stage.plugin_dir)
        stash.reload_plugins()
        stash.configure_plugin(stage.settings())


def package_job(stash, mutation: str, url: str) -> dict:
    mark = stash.log_size()
    job = stash.wait_job(stash.graphql(PACKAGE % mutation, {"ids": [{"id": "PlexSync", "sourceURL": url}]})
                         [mutation], 120)
    assert job["status"] == "FINISHED", job
    errors = [line for line in stash.log_lines(mark) if "level=error" in line]
    assert not errors, errors
    return job


def test_package_manager_install_uninstall_reinstall_keeps_queued_edits(stage, plugin_source):
    stash, url = stage.stash, plugin_source
    available = stash.graphql("query A($u: String!) { availablePackages(type: Plugin, source: $u) "
                              "{ package_id version } }", {"u": url})["availablePackages"]
    assert [p["package_id"] for p in available] == ["PlexSync"]
    package_job(stash, "installPackages", url)
    installed = stash.plugins_dir / SOURCE_LOCAL_PATH / "PlexSync"
    assert (installed / "PlexSync.yml").exists()  # plugins/<local path>/PlexSync, as docs say
    assert_listed_as_manifest(stash.plugin())
    stash.configure_plugin(stage.settings())
    path = edit_title(stage, LIBRARY_CLIPS - 5, "Installed by the package manager")
    stage.wait_plex(path, lambda i: i["title"] == "Installed by the package manager")
    stage.wait_drained()

    with DrainLock(stage.data_dir):  # Plex unreachable in effect: the edit stays queued
        edit_title(stage, LIBRARY_CLIPS - 5, "Queued across a reinstall")
        package_job(stash, "uninstallPackages", url)
        # Stash v0.30 deletes the files it unpacked (the folder stays while other files, e.g.
        # Python's __pycache__, are in it): PlexSync is gone, its queue must not be.
        assert not (installed / "PlexSync.yml").exists() and stash.plugin() is None
        assert QueueStore(stage.data_dir).counts()["ready"] == 1
        package_job(stash, "installPackages", url)
        assert_listed_as_manifest(stash.plugin())
    job, lines = stage.run_task("Process Queue")
    stage.wait_plex(path, lambda i: i["title"] == "Queued across a reinstall")
