"""Issue 11 item 9: damaged files in the data folder.

- index.db (a cache of Plex's paths) full of garbage used to crash every drainer at start
  while hooks reported success: now it is moved aside and rebuilt, and the next hook says so.
- queue.db that is no database at all used to fail every hook ("file is not a database")
  until a person deleted files: now the hook moves it aside, starts a fresh queue and says
  once what happened.
- queue.db with one damaged page keeps every row that can still be read.
- A drainer that dies at start leaves a note that the next hook shows.
"""
from __future__ import annotations

import os
import sqlite3
from contextlib import closing

import pytest

from sync_queue.lock import DrainLock
from sync_queue.records import SyncRecords
from tests.e2e_fixtures import wait_until
from tests.emulators.plex_library import PART_I_FILE, PART_II_FILE
from tests.proof_checks import (plexsync_processes, queue_counts, stop_cover_watch, tracebacks,
                                twin_scenes)


def garbage(path, size: int = 8192) -> None:
    for suffix in ("-wal", "-shm"):
        try:
            os.unlink(f"{path}{suffix}")
        except FileNotFoundError:
            pass
    path.write_bytes(os.urandom(size))


def warnings_about(env, words: str) -> list[str]:
    return [m for m in env.hook_logs("warning") if words in m]


def test_garbage_index_db_is_moved_aside_and_rebuilt(synced):
    env = synced
    env.edit(env.library.scenes["part1"], title="before the damage")
    env.wait_drained()
    # a drainer still closing would checkpoint its WAL into the file after the damage
    wait_until(lambda: not plexsync_processes(env), 30, what="the drainer to exit")
    garbage(env.data_dir / "index.db")

    env.edit(env.library.scenes["part2"], title="after the damage")  # new item: needs the index
    env.wait_plex(PART_II_FILE, lambda i: i["title"] == "after the damage", timeout=30)
    env.wait_drained()
    assert (env.data_dir / "index.db.damaged").exists()

    env.edit(env.library.scenes["part1"], title="the next edit")
    env.wait_drained()
    said = warnings_about(env, "path index (index.db")
    assert len(said) == 1 and "rebuilt from Plex" in said[0], env.hook_logs()
    assert env.plex_item(PART_I_FILE)["title"] == "the next edit"
    assert env.dead_letters() == [] and tracebacks(env) == []


def test_queue_db_that_is_no_database_is_moved_aside_and_the_hook_works(synced):
    env = synced
    lock = DrainLock(env.data_dir)  # jobs queued, no drainer yet ...
    assert lock.try_acquire()
    env.edit(env.library.scenes["part1"], title="queued before the damage")
    lock.release()
    garbage(env.data_dir / "queue.db")  # ... and then the file is overwritten

    env.edit(env.library.scenes["part2"], title="saved after the damage")
    run = env.runner.runs[-1]
    assert run.error is None and "queued for Plex" in run.output, (run.error, run.output)
    env.wait_plex(PART_II_FILE, lambda i: i["title"] == "saved after the damage", timeout=30)
    env.wait_drained()
    # The hook notes edits without opening queue.db: the drainer met the damage, repaired it
    # and left a note, which the next hook shows, once.
    assert env.plex_item(PART_I_FILE)["title"] == "queued before the damage"  # not lost
    assert [p.name for p in env.data_dir.glob("queue.db.damaged-*")
            if not p.name.endswith(("-wal", "-shm"))]
    env.edit(env.library.scenes["part1"], title="one more")
    env.wait_drained()
    said = warnings_about(env, "queue file")
    assert len(said) == 1, env.hook_logs()
    assert "was damaged (file is not a database)" in said[0] and "queued edit(s)" in said[0]
    assert "Sync Recent" in said[0]
    env.edit(env.library.scenes["part2"], title="and one more")
    env.wait_drained()
    assert len(warnings_about(env, "queue file")) == 1  # said once
    assert tracebacks(env) == []


def test_queue_db_with_a_damaged_page_keeps_every_readable_row(synced):
    env = synced
    scenes = twin_scenes(env, 60, "pages", details=lambda n: f"a long enough summary {n} " * 8)
    tag = env.stash.add_tag("Pages Tag")
    env.bulk_edit(list(scenes), tag_ids={"ids": [str(tag)], "mode": "ADD"})
    env.wait_drained(timeout=60)
    stop_cover_watch(env)  # the scenes have no cover: a watch would read queue.db meanwhile
    wait_until(lambda: not plexsync_processes(env), 30, what="the drainer to exit")
    assert SyncRecords(env.data_dir).count() >= 60

    waiting = list(scenes)[:3]
    lock = DrainLock(env.data_dir)
    assert lock.try_acquire()
    for scene in waiting:
        env.edit(scene, title=f"queued {scene} before the damage")
    db_path = env.data_dir / "queue.db"
    with closing(sqlite3.connect(db_path)) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        try:
            leaves = db.execute(
                "SELECT pageno, ncell FROM dbstat WHERE name = 'sync_records' AND "
                "pagetype = 'leaf' ORDER BY pageno").fetchall()
        except sqlite3.OperationalError:
            pytest.skip("this SQLite has no dbstat table to find a page of sync_records")
        page_size = db.execute("PRAGMA page_size").fetchone()[0]
        records_before = db.execute("SELECT COUNT(*) FROM sync_records").fetchone()[0]
    assert len(leaves) >= 3
    damaged_page, rows_on_it = leaves[len(leaves) // 2]
    with open(db_path, "r+b") as handle:  # one page of sync records turns to garbage
        handle.seek((damaged_page - 1) * page_size)
        handle.write(os.urandom(page_size))
    lock.release()

    last = list(scenes)[3]
    env.edit(last, title="saved after the damage")  # its drainer finds the damage and repairs
    env.wait_drained(timeout=60)
    for scene in waiting:
        assert env.plex_item(scenes[scene])["title"] == f"queued {scene} before the damage"
    assert env.plex_item(scenes[last])["title"] == "saved after the damage"

    env.edit(list(scenes)[4], title="the next edit shows the note")
    env.wait_drained()
    said = warnings_about(env, "queue file")
    assert len(said) == 1, env.hook_logs()
    # The edits saved while no drainer ran wait as inbox files (hooks write no queue.db), so
    # they never were on a damaged page: all reached Plex above.
    assert "queued edit(s)" in said[0], said[0]
    assert "lost what was on damaged pages of: sync_records" in said[0]
    # exactly the rows of the damaged page are lost, every other one is kept
    assert f"{records_before - rows_on_it} sync record(s)" in said[0], (said[0], rows_on_it)
    assert env.dead_letters() == [] and queue_counts(env)["ready"] == 0


def test_a_drainer_that_dies_at_start_leaves_a_note_for_the_next_hook(synced):
    env = synced
    (env.data_dir / "index.db").mkdir(parents=True)  # something SQLite cannot open at all
    env.edit(env.library.scenes["part1"], title="the drainer will die")
    env.wait_drainer_exit()
    wait_until(lambda: (env.data_dir / "notes.txt").exists(), 20, what="the drainer's note")
    env.edit(env.library.scenes["part2"], title="the next edit")
    said = warnings_about(env, "the background sync stopped")
    assert len(said) == 1 and "drainer.log" in said[0], env.hook_logs()
    assert "index.db" in said[0] or "unable to open database file" in said[0], said[0]
