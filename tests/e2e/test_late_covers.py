"""Item 5 of issue 19: the cover Stash generates after a scene was synced reaches Plex.

The watch (worker/cover_watch.py) is first driven directly with an injected clock against
the Stash emulator, then end to end: hook -> drainer -> watcher process -> drainer, with both
emulators. The real-Stash test is tests/real_stash/test_late_covers.py."""
from __future__ import annotations

import hashlib
import json
import time

import pytest

from hooks.stash_api import StashClient
from sync_queue import inbox
from sync_queue.awaited_covers import AwaitedCovers
from sync_queue.records import SyncRecords
from tests.e2e.test_tasks import task
from tests.e2e_fixtures import Synced, start_synced, stop_synced, wait_until
from tests.emulators.plex_library import MULTI_FILES
from tests.emulators.stash_state import make_png
from worker.cover_watch import MAX_ASKS, WATCH_LOCK, WINDOW_S, after_drain, watch

T = 1_750_000_000.0
COVER = make_png("generated later")


class Steps:
    """An injected clock whose wait() moves time on by the poll, and runs what the test
    planned for that moment (e.g. Stash's generate job)."""

    def __init__(self, plan: dict | None = None):
        self.now, self.plan, self.waits = T, dict(plan or {}), 0

    def __call__(self) -> float:
        return self.now

    def wait(self, seconds: float) -> bool:
        self.waits += 1
        self.now += seconds
        action = self.plan.pop(self.waits, None)
        if action:
            action()
        return False


@pytest.fixture
def awaited(stash, stash_library, tmp_path):
    """A scene synced while it had only Stash's placeholder cover ('multi' has none)."""
    data_dir = tmp_path / "data"
    scene = stash_library.scenes["multi"]
    SyncRecords(data_dir, clock=lambda: T).put(scene, {"scene_id": str(scene),
                                                       "cover_placeholder": True})
    return data_dir, str(scene)


def test_a_cover_generated_during_the_watch_is_handed_to_one_sync(stash, awaited):
    data_dir, scene = awaited
    steps = Steps({4: lambda: stash.generate_cover(int(scene), COVER)})
    started = []
    report = watch(data_dir, StashClient(stash.url), lambda: started.append(steps.now),
                   clock=steps, wait=steps.wait, poll=3, window=30)
    assert started == [T + 12]                          # noticed at the next question
    assert report.handed_to_sync == 1 and report.why == "nothing awaited"
    assert report.questions == 5                        # nothing left to ask about: it ends
    [name] = inbox.pending(data_dir)
    assert json.loads(inbox.read(data_dir, name))["scene_ids"] == [scene]
    with AwaitedCovers(data_dir) as rows:               # not handed again while its sync runs
        assert rows.to_check(MAX_ASKS, 100) == []
    assert len(stash.graphql_requests(operation_name="PlexSyncCoverState")) == 5


def test_nothing_generated_means_questions_to_stash_only_until_the_window_closes(stash, awaited):
    data_dir, _ = awaited
    steps = Steps()
    report = watch(data_dir, StashClient(stash.url), lambda: pytest.fail("nothing to sync"),
                   clock=steps, wait=steps.wait, poll=5, window=20)
    assert (report.questions, report.handed_to_sync, steps.now) == (5, 0, T + 20)


def test_a_running_stash_job_keeps_the_watch_open_until_a_minute_after_it(stash, awaited):
    data_dir, _ = awaited
    stash.set_job_queue([{"description": "Generating...", "progress": 0.1}])
    steps = Steps({20: lambda: stash.set_job_queue([])})   # the job ends at T + 60
    report = watch(data_dir, StashClient(stash.url), lambda: pytest.fail("nothing to sync"),
                   clock=steps, wait=steps.wait, poll=3, window=30)
    # The last question that saw the job was at T + 57: the watch runs to 60 s after it,
    # although its own window closed at T + 30.
    assert steps.now == T + 57 + 60 and report.why == "window over"
    assert report.questions == 40


def test_a_second_watcher_steps_aside(stash, awaited):
    from sync_queue.lock import DrainLock
    data_dir, _ = awaited
    with DrainLock(data_dir, "covers.lock"):
        report = watch(data_dir, StashClient(stash.url), lambda: None, poll=0, window=0)
    assert report.questions == 0 and report.why == "another watcher asks"


@pytest.mark.parametrize("since_ago, lock_held, outcome, watch_started, questions", [
    (10, False, "watch started", True, 0),                 # within the window: a watcher asks
    (10, True, "a watch runs", False, 0),                  # ... one at a time
    (WINDOW_S + 1, False, "asked Stash once: 0 cover(s) handed to a sync", False, 1),
])
def test_a_drain_starts_a_watch_only_while_its_window_is_open(stash, awaited, since_ago,
                                                              lock_held, outcome,
                                                              watch_started, questions):
    from sync_queue.lock import DrainLock
    data_dir, _ = awaited                                # awaited since T
    started = []
    lock = DrainLock(data_dir, WATCH_LOCK)
    if lock_held:
        assert lock.try_acquire()
    try:
        said = after_drain(data_dir, StashClient(stash.url), lambda: pytest.fail("no cover yet"),
                           lambda: started.append(True), clock=lambda: T + since_ago)
    finally:
        lock.release()
    assert (said, bool(started)) == (outcome, watch_started)
    assert len(stash.graphql_requests(operation_name="PlexSyncCoverState")) == questions


# ---- end to end: the processes Stash's hook starts ----------------------------------------
@pytest.fixture
def watching(stash, stash_library, plex, plex_library, make_runner, tmp_path) -> Synced:
    """`synced` with a quick watch: a question every 0.5 s for 20 s."""
    env = start_synced(stash, stash_library, plex, plex_library, make_runner, tmp_path,
                       extra_env={"PLEXSYNC_COVER_POLL": "0.5", "PLEXSYNC_COVER_WATCH": "20"})
    yield env
    stop_synced(env)


def sync_without_cover(synced: Synced) -> int:
    scene = synced.library.scenes["multi"]
    synced.edit(scene, title="Two Discs, Remastered")
    synced.wait_plex(MULTI_FILES[0], lambda item: item["title"] == "Two Discs, Remastered")
    wait_until(lambda: "cover watch" in synced.drainer_log() or
               synced.stash.graphql_requests(operation_name="PlexSyncCoverState"), 20,
               what="the cover watch to ask Stash")
    assert synced.plex_item(MULTI_FILES[0])["posterSha1"] is None
    return scene


def test_the_generated_cover_reaches_plex_with_no_other_write(watching):
    synced = watching
    scene = sync_without_cover(synced)
    row = next(line for line in task(synced, "queue_status").output.splitlines()
               if "covers awaited" in line)
    assert "1 scene(s) synced before Stash generated their cover; watching Stash" in row
    synced.plex.clear_log()
    wait_until(lambda: len(synced.stash.graphql_requests(operation_name="PlexSyncCoverState")) >= 3,
               20, what="three questions")
    assert synced.plex.count() == 0                     # nothing changed: nothing sent to Plex
    generated = time.monotonic()
    synced.stash.generate_cover(scene, COVER)
    sha1 = hashlib.sha1(COVER).hexdigest()
    synced.wait_plex(MULTI_FILES[0], lambda item: item["posterSha1"] == item["artSha1"] == sha1,
                     timeout=15, what="the generated cover as poster and background")
    took = time.monotonic() - generated
    assert synced.plex.count("PUT") == 0                # the metadata was already in Plex
    with AwaitedCovers(synced.data_dir) as rows:
        wait_until(lambda: rows.count() == 0, 10, what="the awaited cover to be paid")
    assert "covers awaited" not in task(synced, "queue_status").output
    print(f"generated cover in Plex after {took:.2f} s (emulators, poll 0.5 s)")


def test_a_cover_generated_after_the_watch_comes_with_the_next_drain(watching):
    synced = watching
    synced.runner.env["PLEXSYNC_COVER_WATCH"] = "0"     # no watch: the drain asks once itself
    scene = sync_without_cover(synced)
    synced.wait_drainer_exit()
    assert "cover watch" not in synced.drainer_log()    # no watcher process was started
    synced.stash.generate_cover(scene, COVER)          # hours later, say: nobody watches
    synced.edit(synced.library.scenes["part1"], details="Another edit, another drain")
    sha1 = hashlib.sha1(COVER).hexdigest()
    synced.wait_plex(MULTI_FILES[0], lambda item: item["posterSha1"] == sha1, timeout=20,
                     what="the cover, brought by the next drain's question")
