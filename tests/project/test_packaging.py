"""The Stash plugin source (.ci/build_plugin_source.py): index.yml + PlexSync.zip.

Stash loads every .yml in a plugin folder as a plugin, so the zip must hold exactly the
runtime files. The proof that it is complete: unpack it into a fresh plugins folder and run a
hook and a task from there, as Stash would after "Install" from the source.
"""
from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from sync_queue.lock import drain_lock_held, lock_holder_pid
from tests.e2e_fixtures import SCENE_UPDATE, wait_until
from tests.emulators.plex_library import PART_I_FILE

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / ".ci" / "build_plugin_source.py"
RUNTIME_PACKAGES = ("hooks", "sync_queue", "worker", "plex", "validation")
ROOT_FILES = {"PlexSync.py", "entry.py", "PlexSync.yml", "process_queue.py", "requirements.txt"}


def build(out: Path) -> tuple[bytes, list]:
    done = subprocess.run([sys.executable, str(BUILD), "--out", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert re.search(r"index\.yml \+ PlexSync\.zip \(\d+ bytes, sha256 [0-9a-f]{12}…\)", done.stdout)
    return (out / "PlexSync.zip").read_bytes(), yaml.safe_load((out / "index.yml").read_text())


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    return out, *build(out)


def test_build_script_exists():
    assert BUILD.is_file()


def test_zip_holds_exactly_the_runtime_files(package):
    out, data, _ = package
    names = set(zipfile.ZipFile(out / "PlexSync.zip").namelist())
    on_disk = set(ROOT_FILES)
    for pkg in RUNTIME_PACKAGES:
        for path in (ROOT / pkg).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                # A data file next to the code would be left out of the zip: catch it here.
                assert path.suffix == ".py", f"{path} is not shipped by the build"
                on_disk.add(path.relative_to(ROOT).as_posix())
    assert names == on_disk
    assert [n for n in names if n.endswith((".yml", ".yaml"))] == ["PlexSync.yml"]
    assert not any(n.split("/")[0] in ("tests", "docs", "bench", ".ci", "data", "dist")
                   for n in names)
    assert not any(n.endswith(".pyc") for n in names)


def test_index_yml_describes_the_zip(package):
    out, data, index = package
    [entry] = index
    assert set(entry) >= {"id", "name", "version", "date", "path", "sha256", "requires"}
    assert entry["id"] == "PlexSync" and entry["name"] == "PlexSync"
    assert entry["path"] == "PlexSync.zip"
    assert entry["sha256"] == hashlib.sha256(data).hexdigest()
    manifest = yaml.safe_load((ROOT / "PlexSync.yml").read_text())
    assert str(entry["version"]).startswith(str(manifest["version"]))
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", entry["date"])
    assert entry["requires"] == []


def test_build_is_reproducible(package, tmp_path):
    _, data, _ = package
    again, _ = build(tmp_path)
    assert hashlib.sha256(again).hexdigest() == hashlib.sha256(data).hexdigest()


def test_unpacked_plugin_runs_a_hook_and_a_task(package, tmp_path, stash, stash_library, plex,
                                                make_runner):
    out, _, _ = package
    plugin = tmp_path / "plugins" / "PlexSync"
    zipfile.ZipFile(out / "PlexSync.zip").extractall(plugin)
    runner = make_runner(plugin, ("0.0.0.0", stash.port), session_cookie=stash.create_session(),
                         env={"PLEXSYNC_DATA_DIR": None})  # the default data folder
    stash.set_plugin_settings("PlexSync", {"plex_url": plex.url, "plex_token": plex.token})
    stash.hook_sink = runner.hook_sink
    data_dir = Path(runner.server_dir) / "plexsync"  # <Stash config folder>/plexsync
    try:
        scene = stash_library.scenes["part1"]
        stash.graphql(SCENE_UPDATE, {"input": {"id": str(scene), "title": "From The Zip"}})
        [hook] = runner.runs
        assert hook.error is None and hook.output == f"scene {scene}: queued for Plex"
        assert hook.wall_s < 5
        wait_until(lambda: plex.item(plex.find_by_file(PART_I_FILE)[0])["title"] == "From The Zip",
                   30, what="the drainer started from the unpacked plugin")
        wait_until(lambda: not drain_lock_held(data_dir), 30, what="the drainer to exit")
        status = runner.run_task("Queue Status")
        assert status.error is None
        assert "last successful sync" in status.output and "1 scenes synced" in status.output
        assert (data_dir / "queue.db").is_file()  # state lives outside the plugin folder,
        assert not (plugin / "data").exists()      # which Stash's uninstall deletes
    finally:
        stash.hook_sink = None
        if drain_lock_held(data_dir) and lock_holder_pid(data_dir):
            os.kill(lock_holder_pid(data_dir), signal.SIGKILL)


def _git(repo: Path, *args: str, when: str | None = None) -> str:
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t", GIT_COMMITTER_NAME="t",
               GIT_COMMITTER_EMAIL="t@t")
    if when:
        env.update(GIT_AUTHOR_DATE=when, GIT_COMMITTER_DATE=when)
    return subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, text=True,
                          check=True).stdout


def test_index_date_is_the_last_runtime_change_not_the_build_time(tmp_path):
    """Stash offers an update when index.yml's date moves: a rebuild, or a commit that only
    touches docs or tests, must not move it."""
    repo = tmp_path / "checkout"
    for name in ROOT_FILES:
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_bytes((ROOT / name).read_bytes())
    for pkg in RUNTIME_PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            if "__pycache__" not in path.parts:
                target = repo / path.relative_to(ROOT)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(path.read_bytes())
    (repo / "docs").mkdir()
    (repo / "docs" / "notes.md").write_text("v1\n")
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "runtime", when="2024-03-04T05:06:07+00:00")
    (repo / "docs" / "notes.md").write_text("v2\n")
    _git(repo, "commit", "-qam", "docs only", when="2025-01-01T00:00:00+00:00")

    def built_date(out: Path) -> str:
        done = subprocess.run([sys.executable, str(BUILD), "--out", str(out), "--root", str(repo)],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return yaml.safe_load((out / "index.yml").read_text())[0]["date"]

    assert built_date(tmp_path / "a") == built_date(tmp_path / "b") == "2024-03-04 05:06:07"
    (repo / "hooks" / "errors.py").write_text((repo / "hooks" / "errors.py").read_text() + "\n")
    _git(repo, "commit", "-qam", "runtime fix", when="2025-06-07T08:09:10+00:00")
    assert built_date(tmp_path / "c") == "2025-06-07 08:09:10"
    (repo / "hooks" / "errors.py").write_text((repo / "hooks" / "errors.py").read_text() + "\n")
    assert built_date(tmp_path / "d") > "2025-06-07 08:09:10"  # not committed yet: its mtime
