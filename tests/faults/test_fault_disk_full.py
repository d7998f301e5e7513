"""Issue 11 item 10: a full disk and a read-only data folder, for real: the data folder is a
1 MB tmpfs (root may mount one; the tests skip with the reason where it cannot), filled to the
last byte or remounted read-only.

- The hook's error names the folder and the cause (full / read-only) and the remedy, instead
  of "database or disk is full" / "disk I/O error" / "attempt to write a readonly database".
- A drainer killed by the full disk is resumed by the next task once space is back (it used
  to wait for a manual Process Queue or the next edit), and the edits it had queued land.
"""
from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

import pytest

from sync_queue.lock import DrainLock
from sync_queue.storage import describe_storage_error
from sync_queue.store import QueueStore
from tests.e2e_fixtures import wait_until
from tests.emulators.plex_library import PART_I_FILE
from tests.harness.fixtures import PLUGIN_ROOT
from tests.harness.protocol import plugin_input
from tests.proof_checks import plexsync_processes, queue_counts, twin_scenes


@contextmanager
def tmpfs(path, size="1m"):
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root / CAP_SYS_ADMIN): {done.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def fill(path) -> None:
    """Write until the file system has no byte left."""
    handle = open(path, "wb")
    try:
        while True:
            handle.write(b"\0" * 4096)
            handle.flush()
    except OSError:
        pass
    try:
        handle.close()
    except OSError:
        pass


@contextmanager
def read_only(path):
    """The folder, as it is, turned read-only (a read-only bind mount over itself)."""
    done = subprocess.run(["mount", "--bind", str(path), str(path)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot bind-mount here (needs root / CAP_SYS_ADMIN): {done.stderr.strip()}")
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(path)], check=True)
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def test_full_disk_is_named_and_a_drainer_it_killed_is_resumed_by_the_next_task(synced):
    env = synced
    with tmpfs(env.data_dir):
        scenes = twin_scenes(env, 8, "full", details=lambda n: "a summary " * 100)
        tag = env.stash.add_tag("Full Disk Tag")
        env.edit(list(scenes)[0], title="warm up: index and queue exist")
        env.wait_drained()
        lock = DrainLock(env.data_dir)
        assert lock.try_acquire()
        env.bulk_edit(list(scenes), tag_ids={"ids": [str(tag)], "mode": "ADD"})
        lock.release()
        filler = env.data_dir / "filler"
        fill(filler)

        drainer = env.start_drainer()  # the disk is full: it dies at start
        assert drainer.wait(30) == 1

        env.edit(list(scenes)[1], title="saved while the disk is full")
        run = env.runner.runs[-1]
        assert run.error is not None and "database or disk is full" not in run.error
        assert f"PlexSync cannot write its data folder {env.data_dir}" in run.error, run.error
        assert "the disk holding it is full" in run.error and "Free some space" in run.error

        filler.unlink()  # space is back; the next thing Stash runs is a task, not an edit
        # what the dead drainer left: the bulk edit, noted by its hook as one inbox file
        assert queue_counts(env)["ready"] == 1
        status = env.runner.run_task("queue_status", timeout=60)
        assert status.error is None, status.error
        assert any("resumed the background sync: 1 queued edit(s)" in m
                   for m in status.messages()), status.logs
        env.wait_drained(timeout=60)
        for scene, path in scenes.items():
            assert "Full Disk Tag" in env.plex_item(path)["genres"], scene
        assert env.dead_letters() == []
        env.kill_drainer()


def test_a_drainer_the_disk_fills_under_mid_drain_is_resumed_by_the_next_task(synced):
    env = synced
    with tmpfs(env.data_dir):
        scenes = twin_scenes(env, 8, "midfull", details=lambda n: "a summary " * 100)
        tag = env.stash.add_tag("Mid Drain Tag")
        env.edit(list(scenes)[0], title="warm up: index and queue exist")
        env.wait_drained()
        lock = DrainLock(env.data_dir)
        assert lock.try_acquire()
        env.bulk_edit(list(scenes), tag_ids={"ids": [str(tag)], "mode": "ADD"})
        lock.release()
        # after two edits the next ones wait at Plex: the disk fills while the drain is under
        # way, by construction
        held = env.plex.hold(method="PUT", after=2)
        drainer = env.start_drainer()
        wait_until(lambda: held.held(), 60, what="the drain to be under way")
        filler = env.data_dir / "filler"
        fill(filler)
        held.release()
        assert drainer.wait(60) is not None  # it stopped: it cannot write its progress
        landed = sum("Mid Drain Tag" in env.plex_item(p)["genres"] for p in scenes.values())
        assert 0 < landed < 8, landed  # really in the middle

        filler.unlink()
        status = env.runner.run_task("queue_status", timeout=60)
        assert any("resumed the background sync" in m for m in status.messages()), status.logs
        env.wait_drained(timeout=60)
        for scene, path in scenes.items():
            assert "Mid Drain Tag" in env.plex_item(path)["genres"], scene
        assert env.dead_letters() == []
        env.kill_drainer()


def test_read_only_data_folder_is_named_and_syncing_resumes_when_writable(synced):
    env = synced
    env.edit(env.library.scenes["part1"], title="before read-only")
    env.wait_drained()
    # a drainer still closing its files would keep a read-only remount "busy"
    wait_until(lambda: not plexsync_processes(env), 30, what="the drainer to exit")
    with read_only(env.data_dir):
        env.edit(env.library.scenes["part1"], title="while read-only")
        run = env.runner.runs[-1]
        assert run.error is not None, run.output
        assert f"PlexSync cannot write its data folder {env.data_dir}" in run.error, run.error
        assert "read-only file system" in run.error and "writable" in run.error
    env.edit(env.library.scenes["part1"], title="writable again")
    wait_until(lambda: env.plex_item(PART_I_FILE)["title"] == "writable again", 30,
               what="the edit after the fix")
    env.wait_drained()
    assert env.dead_letters() == []


# -- which errors are about the data folder (value table; no mount needed) -------------------

@pytest.mark.parametrize("make_error, expected", [
    (lambda d: sqlite3.OperationalError("database or disk is full"), "the disk holding it is full"),
    (lambda d: OSError(errno.ENOSPC, "No space left on device"), "the disk holding it is full"),
    (lambda d: sqlite3.OperationalError("disk I/O error"), "disk I/O error"),  # cause unknown
    (lambda d: PermissionError(errno.EACCES, "Permission denied", str(d / "queue.db")),
     "Permission denied"),
    (lambda d: PermissionError(errno.EACCES, "Permission denied", "/etc/elsewhere"), None),
    (lambda d: sqlite3.OperationalError("database is locked"), None),  # not storage
    (lambda d: ValueError("nothing to do with disks"), None),
])
def test_storage_errors_name_the_folder_and_only_the_folder(tmp_path, make_error, expected):
    text = describe_storage_error(make_error(tmp_path), tmp_path)
    if expected is None:
        assert text is None
    else:
        assert text.startswith(f"PlexSync cannot write its data folder {tmp_path}: ")
        assert expected in text


def test_a_folder_stash_may_not_write_is_named_as_a_permission_problem(synced, tmp_path):
    """Root may write anywhere, so the hook runs as `nobody` (as Stash does when it runs as
    another user than the one who installed the plugin), on a root-owned 0755 folder."""
    env = synced
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root and setpriv to run the hook as another user")
    folder = Path(tempfile.mkdtemp(prefix="plexsync-perm-", dir="/tmp"))  # pytest's is 0700
    folder.chmod(0o755)
    scene = env.library.scenes["part1"]
    env.stash.edit_scene(scene, title="saved by a user Stash runs as")
    stdin = plugin_input(env.server_connection(), {"hookContext": {
        "id": scene, "type": "Scene.Update.Post", "input": {"id": str(scene), "title": "x"},
        "inputFields": ["id", "title"]}})
    child_env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    child_env["PLEXSYNC_DATA_DIR"] = str(folder / "data")

    def hook_as_nobody() -> dict:
        done = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                               sys.executable, str(PLUGIN_ROOT / "PlexSync.py")],
                              input=stdin, capture_output=True, env=child_env, timeout=60)
        return json.loads(done.stdout.decode())

    try:
        answer = hook_as_nobody()
        assert f"PlexSync cannot write its data folder {folder / 'data'}" in answer["error"]
        assert "may not write it (permissions)" in answer["error"], answer
        assert "Make the folder writable" in answer["error"]
        folder.chmod(0o777)  # fixed: the next save is queued (whether this machine lets
        hook_as_nobody()     # `nobody` start the venv's Python for the drainer is not the point)
        assert queue_counts_in(folder / "data")["ready"] == 1
    finally:
        for pid in _pids_with(f"PLEXSYNC_DATA_DIR={folder / 'data'}"):
            os.kill(pid, signal.SIGKILL)  # the drainer that hook started, as nobody
        shutil.rmtree(folder, ignore_errors=True)


def queue_counts_in(data_dir) -> dict:
    with QueueStore(data_dir) as store:
        return store.counts()


def _pids_with(environ_entry: str) -> list[int]:
    marker, pids = environ_entry.encode(), []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if marker in (proc / "environ").read_bytes().split(b"\0"):
                pids.append(int(proc.name))
        except OSError:
            continue
    return [pid for pid in pids if pid != os.getpid()]
