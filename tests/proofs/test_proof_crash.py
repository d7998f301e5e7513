"""Proof 2 (issue 5): SIGKILL the drainer at random points, >= 20 times, over 1,000 jobs ->
nothing lost; at the end the Plex emulator equals Stash for every scene.

The 1,000 scenes are queued by the Sync All task, run as Stash runs it; it starts draining in
the foreground. Each round then SIGKILLs whoever holds the drain lock (Stash's Cancel button
does exactly this to a task) and starts the next drainer, alternately the Process Queue task
and the detached `python -m worker --background` a hook starts. Every third round the kill
comes after a random moment (anywhere: between jobs, mid-request, mid-commit); the other
rounds kill while a metadata PUT, a random number of edits into the round, waits at Plex (a
job taken and not acked, by construction rather than by the scheduler's timing). Every
fourth round a user edits a scene meanwhile (newest wins). A kill can repeat at most the work
in flight (one wave of jobs, one batched reload), so the PUTs and reloads Plex saw exceed one
per job (one per 100 jobs) by at most that per kill.
Every scene has a cover, so a kill can also land between the metadata PUT and the poster
upload; the end state is compared field by field, poster and background included.
"""
from __future__ import annotations

import hashlib
import random
import time

import pytest

from plex.batch_reads import MAX_KEYS
from sync_queue.lock import drain_lock_held
from sync_queue.records import SyncRecords
from tests.e2e_fixtures import wait_until
from tests.emulators.stash_state import make_png
from tests.proof_checks import (item_reloads, item_requests, mismatches, queue_counts, secret_leaks,
                                tracebacks, twin_scenes)
from worker.waves import WIDTH

SCENES = 1000
KILLS = 24
SEED = 20240501
# s per Plex request; 3 per job (PUT, poster, background; reloads are batched), 4 jobs in
# flight at once: at most ~44 jobs a second. The 8 random pauses (<= 1 s each, plus the
# rounds' own overhead) and 16 held rounds (<= 8 edits and a wave each) leave jobs for every
# kill.
LATENCY = 0.03
HELD_AFTER = 8  # a held round lets at most this many edits through before the held one


def work_left(env) -> bool:
    counts = queue_counts(env)
    return counts["ready"] + counts["in_flight"] + counts["scheduled"] > 0


@pytest.mark.slow
def test_sigkilled_drainers_over_1000_jobs_lose_nothing(secured):
    env, rng = secured, random.Random(SEED)
    scenes = twin_scenes(
        env, SCENES, "crash", details=lambda n: f"Details of scene {n}.",
        date=lambda n: f"20{10 + n % 14}-0{1 + n % 9}-1{n % 10}",
        studio=lambda n: f"Studio {n % 7}", performers=lambda n: [f"Performer {n % 11}"],
        tags=lambda n: [f"Tag {n % 13}", f"Tag {(n + 5) % 13}"], cover=lambda n: make_png(n))
    env.plex.latency(LATENCY)  # a job spans several requests: random kills land mid-job too

    tasks = [env.runner.start_task("sync_all")]
    wait_until(lambda: drain_lock_held(env.data_dir), 60, what="Sync All to start draining")
    kills = mid_job = edit_count = 0
    edits: dict[int, str] = {}
    for round_no in range(KILLS):
        if round_no:  # the next drainer after the previous one was killed
            if not work_left(env):
                break  # drained before all kills: the assertion on `kills` says so
            if round_no % 2:
                tasks.append(env.runner.start_task("process_queue"))
            else:
                env.start_drainer()
            wait_until(lambda: drain_lock_held(env.data_dir) or not work_left(env), 60,
                       what="the next drainer")
        if round_no % 4 == 3:
            scene = rng.choice(list(scenes))
            edits[scene] = f"edited in crash round {round_no}"
            env.edit(scene, title=edits[scene])
            edit_count += 1
        held = None
        if round_no % 3:  # killed while an edit waits at Plex
            held = env.plex.hold(method="PUT", after=rng.randint(0, HELD_AFTER))
            wait_until(lambda: held.held() or not work_left(env), 120, what="an edit to wait")
        else:
            time.sleep(rng.uniform(0.05, 1.0))  # a random moment: not a wait for anything
        left = queue_counts(env)
        pid = env.kill_drainer()
        if held is not None:
            held.release()  # answered to a dead client: the next drainer redoes that job
        if pid is None:
            continue  # it had finished by itself: not a crash
        kills += left["ready"] + left["in_flight"] > 0
        wait_until(lambda: not drain_lock_held(env.data_dir), 30, what="the killed drainer's lock")
        mid_job += queue_counts(env)["in_flight"] > 0  # a job was taken and not acked
    progress_at_last_kill = SyncRecords(env.data_dir).count()

    if not drain_lock_held(env.data_dir):
        env.start_drainer()
    env.wait_drained(timeout=240)
    for task in tasks:
        task.wait(60)

    assert kills >= 20, f"only {kills} kills landed while jobs were left"
    assert mid_job >= 16, f"only {mid_job} of {kills} kills left a job in flight"
    assert 0 < progress_at_last_kill < SCENES  # the kills were spread over the 1,000 jobs
    assert mismatches(env, scenes) == {}
    posters = {sid: (env.plex_item(p)["posterSha1"], env.plex_item(p)["artSha1"])
               for sid, p in scenes.items()}
    assert {sid: sha for sid, sha in posters.items()
            if sha != (hashlib.sha1(env.stash.scene(sid)["cover"]).hexdigest(),) * 2} == {}
    for scene, title in edits.items():
        assert env.plex_item(scenes[scene])["title"] == env.stash.scene(scene)["title"]
    counts = queue_counts(env)
    assert (counts["ready"], counts["in_flight"], counts["scheduled"],
            counts["dead_letters"]) == (0, 0, 0, 0)

    per_item = [item_requests(env.plex, env.plex.find_by_file(p)[0]) for p in scenes.values()]
    puts = sum(n["put"] for n in per_item)
    assert all(n["get"] >= 1 and n["put"] >= 1 for n in per_item)
    jobs = SCENES + edit_count
    # A kill repeats at most what was in flight: one wave of jobs (PUTs) and, for the next
    # drainer, one batched reload; an edit queued by a hook may be reloaded alone.
    reloads = len(item_reloads(env.plex))
    gets = reloads
    assert puts <= jobs + kills * WIDTH, (puts, jobs, kills)
    assert reloads <= -(-jobs // MAX_KEYS) + (kills + 1) + edit_count, (reloads, jobs, kills)
    assert tracebacks(env) == [] and secret_leaks(env) == []
    print(f"\nproof 2: {SCENES} scenes, {kills} SIGKILLs with jobs left ({mid_job} mid-job), "
          f"{progress_at_last_kill} scenes synced at the last kill, {edit_count} edits during "
          f"the crashes; reload GETs {gets}, PUTs {puts} for {jobs} jobs; "
          f"Plex == Stash for all {SCENES}")
