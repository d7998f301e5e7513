"""Issue 3, "not found then found", and issue 13 item 2, new scenes in seconds: a scene whose
file Plex has not imported yet.

PlexSync asks Plex once to scan the file's folder (a partial scan), then looks again on a
short schedule (about 1, 1, 2, 2, 2, 3 ... s) while Plex imports the file, sleeping without
spinning in between, and syncs once the item exists. A file Plex still lacks after that short
window waits on the long not-found backoff. With skip_not_found the scene is recorded as
skipped instead, and nothing is dead-lettered.
"""
from __future__ import annotations

import re
import time

import pytest

from sync_queue.lock import lock_holder_pid
from sync_queue.records import SyncRecords
from tests.e2e_fixtures import wait_until
from tests.proof_checks import (cpu_seconds, plex_view, queue_counts, secret_leaks,
                                tracebacks)
from worker.backoff import SCAN_POLL_CEILINGS

FOLDERS = 8
IMPORT_S = 3.0  # how long the emulated Plex takes to import a file after a scan


def in_plex(env, path: str, **wanted) -> bool:
    """Plex has imported the file and its item shows these values."""
    keys = env.plex.find_by_file(path)
    return len(keys) == 1 and all(env.plex.item(keys[0])[k] == v for k, v in wanted.items())


def looks_before_sync(env) -> dict[int, int]:
    """{scene id: how many times its job found no item and waited for a retry} (drainer.log)."""
    counts: dict[int, int] = {}
    for scene in re.findall(r" WARNING scene (\d+): ItemNotFound: .*; retry \d+ in \d+ s$",
                            env.drainer_log(), re.M):
        counts[int(scene)] = counts.get(int(scene), 0) + 1
    return counts


# Every failed look is followed by a look on the short schedule (worker.backoff.AFTER_SCAN),
# whose delays add up to at least 16 s, far beyond IMPORT_S: a job finds the imported item
# within those looks, never waiting on the long not-found schedule (30 s and more), however
# slow the machine (a slow drainer only looks later, and so fewer times).
MOST_LOOKS = len(SCAN_POLL_CEILINGS)


def first_retries(env) -> dict[int, int]:
    """{scene id: delay in whole seconds} of each job's first not-found retry (drainer.log)."""
    return {int(scene): int(delay) for scene, delay in re.findall(
        r" WARNING scene (\d+): ItemNotFound: .*asked Plex to scan .*; retry 1 in (\d+) s$",
        env.drainer_log(), re.M)}


@pytest.mark.slow
def test_file_plex_has_not_seen_is_scanned_once_polled_soon_then_synced(secured):
    env = secured
    section = env.plex_library.sections["movies"]
    paths = [f"/data/movies/incoming{n}/clip {n}.mkv" for n in range(FOLDERS)]
    for n, path in enumerate(paths):  # Plex imports each file a while after its folder's scan
        env.plex.add_pending_file(section, path, f"clip {n}", scan_delay=IMPORT_S)
    scenes = {env.stash.add_scene(f"Incoming {n}", files=[path]): path
              for n, path in enumerate(paths)}
    tag = env.stash.add_tag("Arrived")
    edited = time.time()
    env.bulk_edit(list(scenes), tag_ids={"ids": [str(tag)], "mode": "ADD"})

    # drainer.log: "scene 12: ItemNotFound: ...; asked Plex to scan ...; retry 1 in 1 s"
    retries = wait_until(lambda: len(first_retries(env)) == FOLDERS and first_retries(env), 60,
                         what="every job to fail once and wait for its retry")
    assert set(retries) == set(scenes), retries
    assert all(0 <= d <= 1 for d in retries.values()), retries  # the short schedule
    assert sorted(s["path"] for s in env.plex.scans) == sorted(p.rsplit("/", 1)[0] for p in paths)
    assert all(s["section_id"] == section for s in env.plex.scans)

    drainer = lock_holder_pid(env.data_dir)
    cpu_before, waited_from = cpu_seconds(drainer), time.time()
    for path in paths:
        wait_until(lambda: in_plex(env, path, genres=["Arrived"]), 60,
                   what=f"{path} after Plex imported it")
    synced_after = time.time() - edited
    waiting_cpu = cpu_seconds(drainer) - cpu_before
    waited = time.time() - waited_from
    env.wait_drained(timeout=60)

    # how soon is the short schedule's business (the wall time is bench/new_scene.py's figure)
    looks = looks_before_sync(env)
    assert set(looks) == set(scenes) and max(looks.values()) <= MOST_LOOKS, looks
    assert len(env.plex.scans) == FOLDERS  # the retries did not scan again
    assert waiting_cpu < 1.0, (waiting_cpu, waited)  # sleeping until due, not spinning
    for scene, path in scenes.items():
        assert env.plex_item(path)["title"] == env.stash.scene(scene)["title"]
    assert env.dead_letters() == [] and queue_counts(env)["skipped"] == 0
    assert tracebacks(env) == [] and secret_leaks(env) == []
    print(f"\nnot found then found: {FOLDERS} scenes, {len(env.plex.scans)} folder scans, all in "
          f"Plex {synced_after:.1f} s after the edit (Plex import {IMPORT_S:g} s), drainer CPU "
          f"{waiting_cpu:.3f} s over {waited:.1f} s of polling; 0 dead letters")


@pytest.mark.slow
def test_scene_created_by_stash_scan_reaches_plex_on_the_short_schedule_without_any_task(
        secured):
    """The 15 s goal (issue 13 item 2) is measured by bench/new_scene.py; here, the mechanism
    that meets it on any machine: the scan's hook starts a drainer, which asks Plex to scan
    once and looks again on the short schedule until the item is there."""
    env = secured
    env.runner.env["PLEXSYNC_NEW_SCENE_DELAY"] = None  # the shipped default, no test shortcut
    section = env.plex_library.sections["movies"]
    path = "/data/movies/just scanned/new clip.mkv"
    env.plex.add_pending_file(section, path, "new clip", scan_delay=IMPORT_S)
    started = time.time()
    scene = env.stash.scan_new_scene(title="Fresh From The Scan", files=[path],
                                     details="Scanned a moment ago.")
    hook_done = time.time()
    wait_until(lambda: in_plex(env, path, title="Fresh From The Scan"), 60,
               what="the new scene's metadata in Plex")
    arrived = time.time()
    assert 1 <= looks_before_sync(env)[scene] <= MOST_LOOKS, env.drainer_log()
    assert env.plex_item(path)["summary"] == "Scanned a moment ago."
    assert [s["path"] for s in env.plex.scans] == ["/data/movies/just scanned"]
    env.wait_drained(timeout=60)  # the record is stored after the PUT the title came with
    assert SyncRecords(env.data_dir).get(scene)["rating_key"]
    assert tracebacks(env) == [] and secret_leaks(env) == []
    print(f"\nnew scene: in Plex {arrived - started:.1f} s after the scan's hook started "
          f"(hook {hook_done - started:.2f} s, Plex import {IMPORT_S:g} s)")


def test_skip_not_found_records_and_skips(secured):
    env = secured
    env.configure(skip_not_found=True)
    scene = env.stash.add_scene("Never In Plex", files=["/data/movies/nowhere/ghost.mkv"])
    env.edit(scene, title="Never In Plex!")
    env.edit(env.library.scenes["part1"], title="Part I, synced next to a skipped scene")
    env.wait_drained(timeout=60)
    counts = queue_counts(env)
    assert (counts["ready"], counts["scheduled"], counts["dead_letters"], counts["skipped"]) == (
        0, 0, 0, 1)
    [skipped] = SyncRecords(env.data_dir).skipped()
    assert str(skipped["scene_id"]) == str(scene) and "Skip scenes not in Plex" in skipped["reason"]
    assert f"scene {scene}: not in Plex, skipped (Skip scenes not in Plex)" in env.drainer_log()
    assert env.plex.find_by_title("Part I, synced next to a skipped scene")
    assert tracebacks(env) == [] and secret_leaks(env) == []


# (the imported item's file, the new file, the new scene's title)
COLLISIONS = {"same file name": ("/data/movies/old/video.mp4", "/data/movies/new/video.mp4", "New"),
              "same title": ("/data/movies/old/intro-1.mp4", "/data/movies/new/intro-2.mp4",
                             "Last week's video")}


@pytest.mark.parametrize("collision", COLLISIONS)
@pytest.mark.parametrize("strict", [True, False])
def test_new_file_resembling_an_imported_one_waits_for_plex(secured, strict, collision):
    env = secured
    old, new, title = COLLISIONS[collision]
    env.configure(strict_matching=strict)
    section = env.plex_library.sections["movies"]
    imported = env.plex.add_item(section, "Last week's video", files=[old], genres=["Old"])
    env.plex.add_pending_file(section, new, "new video")
    scene = env.stash.add_scene("before the edit", files=[new], tags=["New"])
    before = plex_view(env.plex.item(imported))
    env.edit(scene, title=title)
    wait_until(lambda: env.plex.scans or env.dead_letters() or SyncRecords(env.data_dir).get(scene),
               30, what="the drainer to decide")
    assert plex_view(env.plex.item(imported)) == before  # the other item is left alone
    assert env.dead_letters() == []  # the new scene waits for Plex ...
    assert [s["path"] for s in env.plex.scans] == ["/data/movies/new"]  # ... which is asked to look
