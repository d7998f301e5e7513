"""Proof 1 (issue 5): 30 hook processes at once, while a drainer runs and while none does.

Every edit lands in Plex; no job runs twice (one full GET and one PUT per Plex item: a job
that ran twice would fetch its item twice); and never two drainers at once, measured two
ways that each fail if it happens: drainer.log's job lines are one unbroken block per drainer
pid, and the Plex emulator never has more requests in flight together than one drainer's
wave allows (worker.waves.WIDTH; hooks never talk to Plex). That count uses spans inside each
request's real time in flight (tests/proof_checks.py), so a busy machine cannot inflate it.
"""
from __future__ import annotations

import statistics
import threading

import pytest
import requests

from sync_queue.lock import drain_lock_held
from worker.waves import WIDTH
from tests.e2e_fixtures import wait_until
from tests.proof_checks import (fire_hooks_at_once, interleaved_drainers, item_requests,
                                job_lines, most_in_flight, queue_counts, secret_leaks,
                                tracebacks, twin_scenes)

HOOKS = 30
LATENCY = 0.02  # s per Plex request


@pytest.mark.slow
def test_30_hooks_at_once_land_exactly_once_with_never_two_drainers(secured):
    env = secured
    busy = twin_scenes(env, HOOKS, "busy")      # round 1: while a drainer runs
    racing = twin_scenes(env, HOOKS, "race")    # round 2: no drainer; they race to start one
    env.plex.latency(LATENCY)  # each request takes a while: a second drainer would overlap

    # Round 1: a drainer is running (started by a normal edit) when the 30 hooks fire.
    env.edit(env.library.scenes["part1"], title="Drainer warm-up")
    wait_until(lambda: drain_lock_held(env.data_dir), 60, what="the drainer the edit started")
    round1 = fire_hooks_at_once(env, {sid: f"busy edit {sid}" for sid in busy})
    env.wait_drained(timeout=90)

    # Round 2: nothing runs; 30 hooks all find the lock free at nearly the same moment.
    assert not drain_lock_held(env.data_dir)
    round2 = fire_hooks_at_once(env, {sid: f"race edit {sid}" for sid in racing})
    env.wait_drained(timeout=90)

    runs = round1 + round2
    assert len(runs) == 2 * HOOKS
    assert [r.error for r in runs if r.error or r.exit_code != 0] == []
    assert all("queued for Plex" in r.output for r in runs), [r.output for r in runs]

    # every edit landed ...
    for prefix, scenes in (("busy", busy), ("race", racing)):
        for sid, path in scenes.items():
            assert env.plex_item(path)["title"] == f"{prefix} edit {sid}"
    # ... exactly once per item
    per_item = {sid: item_requests(env.plex, env.plex.find_by_file(path)[0])
                for sid, path in {**busy, **racing}.items()}
    assert {sid: n for sid, n in per_item.items() if n != {"get": 1, "put": 1}} == {}

    # never two drainers
    log_text = env.drainer_log()
    synced_scenes = [scene for _, scene in job_lines(log_text)]
    assert sorted(s for s in synced_scenes if s in busy or s in racing) == sorted([*busy, *racing])
    assert interleaved_drainers(log_text) == []
    assert most_in_flight(env.plex) <= WIDTH  # one drainer's wave, never two drainers

    counts = queue_counts(env)
    assert (counts["ready"], counts["in_flight"], counts["scheduled"],
            counts["dead_letters"]) == (0, 0, 0, 0)
    assert tracebacks(env) == [] and secret_leaks(env) == []

    drainers = len({pid for pid, _ in job_lines(log_text)})
    walls = sorted(r.wall_s for r in runs)
    print(f"\nproof 1: {len(runs)} hooks, wall median {statistics.median(walls) * 1000:.0f} ms, "
          f"max {walls[-1] * 1000:.0f} ms; {len(synced_scenes)} jobs synced by {drainers} "
          f"drainer process(es) one after another; {len(env.plex.requests)} Plex requests, "
          f"at most {most_in_flight(env.plex)} in flight (wave width {WIDTH})")


# -- the two "never two drainers" checks can fail: fed what two drainers would leave --------

def test_interleaved_job_lines_are_caught():
    line = "2026-01-01 10:00:00,000 {pid} INFO scene {scene} → Plex {rk}: title\n"
    one_after_another = "".join(line.format(pid=p, scene=s, rk=s) for p, s in
                                [(11, 1), (11, 2), (22, 3), (22, 4)])
    side_by_side = "".join(line.format(pid=p, scene=s, rk=s) for p, s in
                           [(11, 1), (22, 2), (11, 3), (22, 4)])
    assert interleaved_drainers(one_after_another) == []
    assert interleaved_drainers(side_by_side) == [11, 22]


def test_more_requests_in_flight_than_one_drainer_sends_are_caught(plex):
    def get():
        requests.get(f"{plex.url}/identity", headers={"X-Plex-Token": plex.token}, timeout=60)
    get(), get()  # one client, one request at a time
    assert most_in_flight(plex) == 1
    # two drainers' waves: the emulator answers none of them until all have arrived, so they
    # are in flight together however late the scheduler starts the last thread
    plex.hold_until_arrived(WIDTH + 1)
    many = [threading.Thread(target=get) for _ in range(WIDTH + 1)]
    for thread in many:
        thread.start()
    for thread in many:
        thread.join()
    assert plex.errors == [] and len(plex.requests) == WIDTH + 3
    assert most_in_flight(plex) == WIDTH + 1
