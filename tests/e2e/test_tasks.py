"""Every Stash task of PlexSync, run exactly as Stash runs it (tests/harness/runner.py) against
the Stash and Plex emulators; the answers are read as a user reads them.

Jobs are queued by real hooks. To queue without the detached drainer syncing them at once,
the test holds the drain lock while it edits: a hook that sees the lock held leaves the
jobs to "the running drainer", exactly as it does in production.
"""
from __future__ import annotations

import os
import re
from contextlib import contextmanager

from sync_queue.dlq import DeadLetters
from sync_queue.lock import DrainLock, drain_lock_held, lock_holder_pid
from sync_queue.records import SyncRecords
from sync_queue.store import QueueStore
from tests.e2e_fixtures import wait_until
from tests.emulators.plex_library import MOVIES_LOCATION, PART_I_FILE, PART_II_FILE, RICH_FILE

BOTH_PARTS = [PART_I_FILE, PART_II_FILE]  # one scene, two Plex items: ambiguous


@contextmanager
def drainer_busy(synced):
    """Hold the drain lock like a running drainer: hooks queue but start no drainer."""
    lock = DrainLock(synced.data_dir)
    assert lock.try_acquire()
    try:
        yield
    finally:
        lock.release()


def counts(synced) -> dict:
    with QueueStore(synced.data_dir) as store:
        return store.counts()


def task(synced, mode, timeout=60.0, **args):
    result = synced.runner.run_task(mode, {k: str(v) for k, v in args.items()}, timeout=timeout)
    assert result.exit_code == 0, result.stderr_raw
    return result


def assert_progress(result):
    assert result.progress, "no progress line"
    assert result.progress == sorted(result.progress), result.progress
    assert result.progress[-1] == 1.0


def plex_title(synced, path):
    return synced.plex_item(path)["title"]


# -- dispatch ---------------------------------------------------------------------------

def test_unknown_mode_is_one_error_listing_every_mode(synced):
    result = synced.runner.run_task("Process Queue", {"mode": "proces_queue"})
    assert result.output is None
    assert result.error == ("unknown task mode 'proces_queue'; valid modes: process_queue, "
                            "sync_all, sync_recent, queue_status, dlq_list, dlq_retry, "
                            "dlq_purge, health_check, dry_run, import_plays")


def test_missing_setting_is_one_clear_error(synced):
    synced.stash.set_plugin_settings("PlexSync", {"plex_url": synced.plex.url})
    result = synced.runner.run_task("queue_status")
    assert result.error.startswith("Plex token (plex_token) is required; set it in Stash: "
                                   "Settings > Plugins > PlexSync. The Plex token is in Plex Web")


# -- process_queue ---------------------------------------------------------------------

def test_process_queue_drains_in_foreground_with_progress_and_summary(synced):
    with drainer_busy(synced):
        synced.edit(synced.library.scenes["part1"], title="Part One")
        synced.edit(synced.library.scenes["part2"], title="Part Two")
    assert counts(synced)["ready"] == 2
    result = task(synced, "process_queue")
    assert re.match(r"Process Queue: synced 2, unchanged 0, retrying 0, failed 0 in "
                    r"\d+\.\d s\n", result.output), result.output
    assert "  left in queue  0 ready, 0 waiting" in result.output
    assert_progress(result)
    assert len(result.progress) >= 3  # start, per job, end
    assert plex_title(synced, PART_I_FILE) == "Part One"
    assert plex_title(synced, PART_II_FILE) == "Part Two"
    assert "scene 1 → Plex" in "\n".join(result.messages("info"))
    assert any(m.startswith("Process Queue: synced 2") for m in result.messages("info"))
    assert not drain_lock_held(synced.data_dir)


def test_process_queue_follows_a_running_drainer_then_drains_what_is_left(synced):
    synced.plex.latency(0.25)  # a slow Plex keeps the background drainer busy for seconds
    synced.bulk_edit(list(synced.library.scenes.values()), details="Bulk details")
    wait_until(lambda: drain_lock_held(synced.data_dir), what="the background drainer")
    pid = lock_holder_pid(synced.data_dir)
    result = task(synced, "process_queue", timeout=90)
    assert result.output.startswith(f"Process Queue: the background sync (pid {pid}) attempted ")
    assert f"  background sync  pid {pid}: " in result.output, result.output
    assert "jobs attempted while this task waited" in result.output
    # The answer agrees with itself: an empty queue after the watch means every job was tried.
    attempted, total = map(int, re.search(r"attempted (\d+) of (\d+) jobs", result.output).groups())
    if "left in queue    0 ready, 0 waiting" in result.output:
        assert attempted == total, result.output
    assert_progress(result)
    synced.wait_drained()
    for path in (PART_I_FILE, PART_II_FILE, RICH_FILE):
        assert synced.plex_item(path)["summary"] == "Bulk details"


def test_process_queue_leaves_a_drainer_for_jobs_scheduled_later(synced):
    new = synced.stash.add_scene("Not Yet In Plex", files=[f"{MOVIES_LOCATION}/new/clip.mkv"])
    with drainer_busy(synced):
        synced.edit(new, title="Not Yet In Plex!")
    result = task(synced, "process_queue")
    assert "retrying 1" in result.output.splitlines()[0]
    assert re.search(r"left in queue  0 ready, 1 waiting \(next at \d\d:\d\d:\d\d\)", result.output)
    assert "  background     started a background sync for the jobs left" in result.output
    wait_until(lambda: drain_lock_held(synced.data_dir), what="the started drainer")
    assert synced.plex.scans[0]["path"].endswith("/new")  # Plex was asked to look once


# -- sync_all / sync_recent --------------------------------------------------------------

def test_sync_all_checks_every_scene_and_writes_only_what_differs(synced):
    first = task(synced, "sync_all")
    assert first.output.startswith("Sync All: synced 5, unchanged 0, retrying 0, failed 0")
    assert ("5 in Stash: 5 queued (5 changed since their last sync, 0 unchanged in Stash, "
            "checked against Plex)") in first.output
    assert_progress(first)
    assert any(0 < p <= 0.3 for p in first.progress)  # the paging phase reports too

    synced.plex.clear_log()
    again = task(synced, "sync_all")
    assert ("5 in Stash: 5 queued (0 changed since their last sync, 5 unchanged in Stash, "
            "checked against Plex)") in again.output
    assert again.output.startswith("Sync All: synced 0, unchanged 5")
    assert synced.plex.count("PUT") == synced.plex.count("POST") == 0

    synced.stash.edit_scene(synced.library.scenes["part2"], title="Edited Without A Hook")
    third = task(synced, "sync_all")
    assert "5 in Stash: 5 queued (1 changed" in third.output
    assert third.output.startswith("Sync All: synced 1, unchanged 4")
    assert plex_title(synced, PART_II_FILE) == "Edited Without A Hook"


def test_sync_all_repairs_what_drifted_in_plex(synced):
    """Issue 13 item 4: a restored Plex database / metadata refresh undid PlexSync's writes.
    Sync All finds it although every sync record still matches Stash: k PUTs for k drifted
    items, batched reads, no image upload and no cover download when covers are unchanged."""
    stash, plex = synced.stash, synced.plex
    for scene_id in stash.state.scenes:  # changed long ago: a later fetch is current
        stash.edit_scene(scene_id, touch=False, updated_at=stash.timestamp(1_700_000_000 + scene_id))
    task(synced, "sync_all")
    part1 = plex.find_by_file(PART_I_FILE)[0]
    rich = plex.find_by_file(RICH_FILE)[0]
    wanted = plex.item(part1)["title"], sorted(plex.item(rich)["genres"])
    plex.set_item(part1, title="Restored From An Old Backup", lock=False)
    plex.set_item(rich, genres=["Refreshed By An Agent"], lock=False)
    plex.clear_log()
    stash.clear_logs()

    result = task(synced, "sync_all")

    assert result.output.startswith("Sync All: synced 2, unchanged 3"), result.output
    assert (plex.item(part1)["title"], sorted(plex.item(rich)["genres"])) == wanted
    assert plex.count("PUT") == 2 and plex.count("POST") == 0
    n = len(stash.state.scenes)
    assert plex.count() - plex.count("PUT") <= n / 25 + 10, [r.path for r in plex.requests]
    # Covers fetched after each scene's last change are current: not downloaded again. A
    # scene without a cover is asked again (Stash may generate its screenshot later).
    coverless = {f"/scene/{sid}/screenshot" for sid, scene in stash.state.scenes.items()
                 if not scene["cover"]}
    assert [r.path for r in stash.http_log if r.path.endswith("/screenshot")
            and r.path not in coverless] == []


def test_sync_all_leaves_unchanged_dead_letters_alone(synced):
    synced.stash.add_scene("Both Parts", files=BOTH_PARTS)
    first = task(synced, "sync_all")
    assert "failed 1" in first.output.splitlines()[0]
    assert "ambiguous Plex match" in first.output
    second = task(synced, "sync_all")
    assert "1 failed before and unchanged since" in second.output
    assert len(DeadLetters(synced.data_dir).list()) == 1


def test_sync_recent_takes_only_scenes_updated_in_the_window(synced):
    # the sample scenes were last updated in 2024; this edit is stamped now
    synced.stash.edit_scene(synced.library.scenes["rich"], title="Rich Tags, Recently")
    result = task(synced, "sync_recent")  # defaultArgs: hours "24"
    assert result.args["hours"] == "24"
    assert result.output.startswith("Sync Recent (24 h): synced 1, unchanged 0")
    assert re.search(r"1 updated since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d: 1 queued", result.output)
    assert plex_title(synced, RICH_FILE) == "Rich Tags, Recently"
    assert plex_title(synced, PART_I_FILE) == "Saga Part I"  # outside the window: untouched


def test_sync_recent_rejects_a_bad_hours_argument(synced):
    result = synced.runner.run_task("sync_recent", {"hours": "a day"})
    assert result.error == "argument 'hours' must be a number of hours, got 'a day'"


# -- queue_status ----------------------------------------------------------------------------

def test_queue_status_is_a_short_aligned_table(synced):
    synced.stash.add_scene("Both Parts", files=BOTH_PARTS)
    task(synced, "sync_all")
    with drainer_busy(synced):
        synced.edit(synced.library.scenes["part1"], title="Queued Edit")
        result = task(synced, "queue_status")
    lines = result.output.splitlines()
    assert lines[0] == "Queue Status: 1 pending, 0 waiting, 1 failed"
    table = dict(re.match(r"  (\S.*?)  +(.*)$", line).groups() for line in lines[1:])
    assert table["pending"] == "1"
    assert table["in flight"] == "0"
    assert table["waiting for retry"] == "0"
    assert table["failed"] == "1 (ambiguous_match 1); see Failed Syncs"
    assert table["plex"] == "answered at the last contact"
    assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(\d+ s ago\); 5 scenes synced$",
                    table["last successful sync"])
    assert table["background sync"] == f"running (pid {os.getpid()})"
    assert table["plex index"] == "Movies: 6 items; Other Videos: 1 items"
    value_columns = {line.index(value) for line, value in zip(lines[1:], table.values()) if value}
    assert len(value_columns) == 1  # aligned


def test_queue_status_shows_an_open_breaker(synced):
    synced.plex.down()
    with drainer_busy(synced):
        for slug in ("part1", "part2", "multi", "rich", "untitled"):
            synced.edit(synced.library.scenes[slug], details="while Plex is down")
    drained = task(synced, "process_queue", timeout=120)
    assert re.search(r"  paused +Plex is unavailable; queued jobs kept", drained.output), drained.output
    status = task(synced, "queue_status")
    assert re.search(r"  plex +unavailable since .*; syncing paused, next check at", status.output)
    synced.kill_drainer()  # the drainer process_queue left for the paused jobs


# -- dead letters ---------------------------------------------------------------------------

def test_dlq_list_retry_and_purge(synced):
    both = synced.stash.add_scene("Both Parts", files=BOTH_PARTS)
    task(synced, "sync_all")
    listed = task(synced, "dlq_list")
    lines = listed.output.splitlines()
    assert lines[0] == "Failed Syncs: 1 (ambiguous_match 1)"
    assert re.match(r"  scene +title +reason +attempts +last failure$", lines[1])
    assert re.match(rf"  {both} +Both Parts +ambiguous_match +0 +\d{{4}}-", lines[2])
    assert "· why: ambiguous Plex match (several Plex items hold this scene's files)" in lines[3]
    assert lines[4].strip().startswith("· candidate: 'Saga Part I' (ratingKey")
    assert lines[5].strip().startswith("· candidate: 'Saga Part II' (ratingKey")
    assert "Retry Failed Syncs" in lines[-1]

    still = task(synced, "dlq_retry", reason="ambiguous_match")
    assert "re-queued      1 failed syncs (with reason ambiguous_match)" in still.output
    assert "failed 1" in still.output.splitlines()[0]

    synced.configure(strict_matching=False)  # the fix the reason names
    fixed = task(synced, "dlq_retry")
    assert fixed.output.startswith("Retry Failed Syncs: synced 1")
    assert DeadLetters(synced.data_dir).list() == []

    synced.configure()
    task(synced, "dlq_retry")  # nothing to retry: still a clean answer
    synced.stash.add_scene("Both Again", files=BOTH_PARTS)
    task(synced, "sync_all")
    kept = task(synced, "dlq_purge")  # dlq_retention_days: 30 by default
    assert kept.output == "Delete Old Failed Syncs: removed 0 failed syncs older than 30 days; 1 left"
    purged = task(synced, "dlq_purge", days=0)
    assert purged.output == "Delete Old Failed Syncs: removed 1 failed syncs older than 0 days; 0 left"


def test_dlq_rejects_an_unknown_reason(synced):
    result = synced.runner.run_task("dlq_retry", {"reason": "timeout"})
    assert result.error.startswith("argument 'reason' must be one of ambiguous_match, ")


# -- health_check ---------------------------------------------------------------------------

def test_health_check_all_green(synced):
    result = task(synced, "health_check")
    lines = result.output.splitlines()
    assert lines[0] == "Health Check: all 7 checks passed"
    assert lines[1] == f"  ✓ Stash v0.30.1 reachable at http://127.0.0.1:{synced.stash.port}"
    assert lines[2] == f"  ✓ Plex reachable at {synced.plex.url}"
    assert lines[3] == "  ✓ Plex token accepted"
    assert lines[4].startswith("  ✓ Plex server 'PlexSync Emulator', version ")
    assert lines[5] == ("  ✓ libraries found (every movie library): 'Movies' 6 items; "
                        "'Other Videos' 1 items")
    assert lines[6] == "  ✓ Path map: 5/5 sample scenes found in Plex"
    assert lines[7] == "  ✓ Plex play history readable (0 plays of the owner's account)"


def test_health_check_names_what_is_wrong_and_the_fix(synced):
    for n, title in enumerate(("Saga Part I", "Saga Part II", "Rich Tags (2021)")):
        name = {0: "Saga/Saga Part I.mkv", 1: "Saga/Saga Part II.mkv",
                2: "rich/Rich Tags (2021).mp4"}[n]
        synced.stash.add_scene(title, files=[f"/mnt/media/{name}"])
    synced.configure(plex_libraries="Movies, Archive")
    result = task(synced, "health_check")
    lines = result.output.splitlines()
    assert lines[0] == "Health Check: 2 of 8 checks failed"
    assert ("  ✗ library 'Archive' (setting Plex libraries) not found in Plex — fix: use the exact "
            "titles Plex shows (Plex has: Movies, Other Videos)") in lines
    path_line = next(line for line in lines if "Path map:" in line)
    assert path_line.startswith("  ✗ Path map: 5/8 sample scenes found in Plex; 3 not found: "
                                "scene 6 → /mnt/media/Saga/Saga Part I.mkv; ")
    assert path_line.endswith("— fix: Plex has these files under another folder: add "
                              "'/mnt/media => /data/movies' to the Path map setting (Stash prefix => Plex prefix)")

    synced.configure(plex_token="wrong-token-1234")
    bad_token = task(synced, "health_check")
    assert "  ✗ Plex refused the Plex token — fix: put a current X-Plex-Token" in bad_token.output
    assert "wrong-token-1234" not in bad_token.output + "".join(bad_token.messages())

    synced.configure()
    synced.plex.down()
    down = task(synced, "health_check")
    assert f"  ✗ Plex not reachable at {synced.plex.url}" in down.output
    assert "— fix: check the Plex URL setting (http://host:32400) and that Plex is running" in down.output
    assert down.output.splitlines()[0] == "Health Check: 1 of 2 checks failed"
    assert down.messages("warning")  # a failing check is a warning in Stash's log


# -- dry_run ----------------------------------------------------------------------------------

def test_dry_run_shows_field_changes_and_writes_nothing(synced):
    synced.stash.add_scene("Both Parts", files=BOTH_PARTS)
    synced.stash.add_scene("Elsewhere", files=["/data/movies/none/missing.mkv"])
    synced.plex.clear_log()
    result = task(synced, "dry_run")
    out = result.output
    assert out.splitlines()[0].startswith("Dry Run: 5 of 7 scenes would change in Plex (")
    assert out.splitlines()[0].endswith("field changes); nothing was written")
    assert "  scene 1 'Saga Part I' → Plex" in out and "(HIGH)" in out
    assert "    · genres: [Adventure] → [Adventure, Epic]" in out
    assert "    · actors: [Ann Able] → [Ann Able, Bob O'Brien]" in out
    assert "    · studio: 'Studio A' → (empty)" in out
    assert "  scene 6 'Both Parts': ambiguous: ambiguous Plex match" in out
    assert "  scene 7 'Elsewhere': not in Plex: no Plex item has the file" in out
    assert out.splitlines()[-1] == ("Summary: 5 would change, 0 unchanged, 1 not in Plex, "
                                    "1 ambiguous, 0 already in sync since their last sync")
    assert_progress(result)
    writes = [r for r in synced.plex.requests if r.method in ("PUT", "POST")]
    assert writes == [] and synced.plex.scans == []
    assert SyncRecords(synced.data_dir).count() == 0
    assert counts(synced)["ready"] == 0 and DeadLetters(synced.data_dir).list() == []


# -- secrets -----------------------------------------------------------------------------------

def test_no_task_prints_the_plex_token(synced):
    synced.plex.token = "s3cret-plex-token"
    synced.configure()
    task(synced, "sync_all")
    for mode in ("queue_status", "health_check", "dry_run", "dlq_list"):
        result = task(synced, mode)
        assert "s3cret-plex-token" not in result.output + result.stderr_raw.decode()
    assert "s3cret-plex-token" not in synced.drainer_log()


def test_cancelled_process_queue_loses_nothing(synced):
    """Stash's Cancel button is SIGKILL: the job in flight is resumed by the next drain."""
    slugs = ["part1", "part2", "multi", "rich", "untitled"]
    with drainer_busy(synced):
        for slug in slugs:
            synced.edit(synced.library.scenes[slug], details="Cancelled midway")
    synced.plex.latency(0.3)
    handle = synced.runner.start_task("process_queue")
    wait_until(lambda: any("→ Plex" in m for m in handle.result.messages("info")), 60,
               what="the first synced job")
    handle.cancel()
    killed = handle.wait(30)
    assert killed.exit_code == -9 and not killed.output
    assert not drain_lock_held(synced.data_dir)  # the OS dropped the lock with the process
    synced.plex.latency(0)
    rest = task(synced, "process_queue")
    assert "left in queue  0 ready, 0 waiting" in rest.output
    assert SyncRecords(synced.data_dir).count() == len(slugs)
    for path in (PART_I_FILE, PART_II_FILE, RICH_FILE):
        assert synced.plex_item(path)["summary"] == "Cancelled midway"
