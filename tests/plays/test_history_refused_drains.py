"""Item 3 of issue 19, end to end: a Plex that refuses its play history (an older PMS: 404)
is said once across separate drainers, shown by Queue Status and Health Check with the fix,
not asked again after every drain, and never spoils the drain's own summary. Stash and Plex
are the emulators; the hook and the tasks run exactly as Stash runs them."""
from __future__ import annotations

import pytest

from sync_queue.plays import PlayImports
from sync_queue.state import QueueState
from tests.e2e.test_tasks import task
from tests.e2e_fixtures import Synced, start_synced, stop_synced, wait_until
from tests.emulators.plex_library import PART_I_FILE

HISTORY = "/status/sessions/history"


@pytest.fixture
def every_drain_asks(stash, stash_library, plex, plex_library, make_runner, tmp_path) -> Synced:
    """`synced`, with the plays pace at zero: every drain would ask Plex's history."""
    env = start_synced(stash, stash_library, plex, plex_library, make_runner, tmp_path,
                       extra_env={"PLEXSYNC_PLAYS_INTERVAL": "0"})
    yield env
    stop_synced(env)


def drain_after_edit(synced: Synced, title: str) -> None:
    before = synced.drainer_log().count("background sync stopped")
    synced.edit(synced.library.scenes["part1"], title=title)
    synced.wait_plex(PART_I_FILE, lambda item: item["title"] == title)
    wait_until(lambda: synced.drainer_log().count("background sync stopped") > before, 30,
               what="the drainer to stop")


def test_an_older_plex_is_said_once_shown_with_the_fix_and_the_drain_reports_cleanly(
        every_drain_asks):
    synced = every_drain_asks
    synced.plex.has_history = False
    drain_after_edit(synced, "First Edit")
    drain_after_edit(synced, "Second Edit")            # another drainer process
    assert synced.plex.count("GET", HISTORY) == 1       # the second drain did not ask again
    log = synced.drainer_log()
    assert log.count("Plex has no play history to read (404)") == 1
    assert "could not bring Plex plays into Stash" not in log
    summary = QueueState(synced.data_dir).last_drain_summary()["line"]
    assert "Plex plays" not in summary and "history" not in summary

    synced.edit(synced.library.scenes["part1"], title="Third Edit")  # a hook shows the note once
    said = [m for m in synced.hook_logs("warning") if "play history" in m]
    assert len(said) == 1 and said[0].startswith("Plex has no play history to read (404): this "
                                                 "Plex Media Server is too old for it")

    status = task(synced, "queue_status").output
    row = next(line for line in status.splitlines() if "plex plays" in line)
    assert "Plex has no play history to read (404)" in row and "update Plex Media Server" in row
    health = task(synced, "health_check").output
    assert ("  ✗ Plex has no play history to read (404): this Plex Media Server is too old for "
            "it; plays can't be imported — fix: update Plex Media Server or turn off") in health

    synced.plex.has_history = True                     # Plex upgraded: the check clears it
    assert "  ✓ Plex play history readable" in task(synced, "health_check").output
    assert PlayImports(synced.data_dir).refusal() is None
    assert "plex plays" not in task(synced, "queue_status").output
