"""Every summary is true and agrees with the others (issue 12, item 6): nothing claims what
PlexSync does not know, a time in the past never reads as the next one, and a line never
repeats its own prefix."""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sync_queue.notes import take_summary
from sync_queue.store import QueueStore
from worker.tasks import formatting as fmt
from worker.tasks import status
from tests.e2e_fixtures import wait_until
from tests.emulators.plex_library import PART_I_FILE
from tests.e2e.test_tasks import task

ROOT = Path(__file__).resolve().parents[2]
NOON = time.mktime((2026, 1, 2, 12, 0, 0, 0, 0, -1))


@pytest.mark.parametrize("due_in, expected", [
    (30, "next at 12:00:30"),
    (0, "due since 12:00:00"),
    (-600, "due since 11:50:00"),               # ten minutes late: never "next at"
    (-3 * 86400, "due since 2025-12-30 12:00:00"),  # days ago: with the date
])
def test_due_never_shows_a_past_time_as_the_next(due_in, expected):
    assert fmt.due(NOON + due_in, now=NOON) == expected


COUNTS = {"ready": 1, "in_flight": 0, "scheduled": 4, "next_due": NOON - 600, "dead_letters": 0,
          "dead_letters_by_reason": {}, "skipped": 0}
CLOSED_NEVER = {"state": "closed", "opened_at": None, "failures": 0, "contacted": False}
IDLE = {"running": False, "pid": None, "processed": None, "total": None}


def _table(breaker=CLOSED_NEVER, counts=COUNTS, drainer=IDLE) -> dict:
    return dict(status._rows(counts, breaker, None, None, None, 0, drainer, [], None, NOON))


def test_status_does_not_call_a_never_contacted_plex_reachable():
    table = _table()
    assert table["plex"].startswith("not contacted yet")
    assert "reachable" not in table["plex"]
    contacted = _table(breaker={**CLOSED_NEVER, "contacted": True})
    assert contacted["plex"] == "answered at the last contact"


def test_status_shows_an_overdue_retry_as_due_with_what_runs_it():
    waiting = _table()["waiting for retry"]
    assert waiting == "4 (due since 11:50:00); Process Queue syncs them now"
    running = _table(drainer={**IDLE, "running": True, "pid": 7})["waiting for retry"]
    assert running == "4 (due since 11:50:00)"


def test_dry_run_stopped_by_plex_says_so_first_and_claims_nothing(synced):
    synced.plex.down()
    result = synced.runner.run_task("dry_run", timeout=120)
    first = result.output.splitlines()[0]
    assert first.startswith("Dry Run stopped after 0 of "), result.output
    assert "Plex" in first and "nothing was written" in first
    assert "no scene would change" not in result.output
    assert "Summary of the scenes compared: 0 would change" in result.output


def test_dry_run_that_finished_still_says_no_scene_would_change(synced):
    task(synced, "sync_all")
    result = task(synced, "dry_run")
    assert result.output.splitlines()[:2] == [
        "Dry Run: 0 of 5 scenes would change in Plex (0 field changes); nothing was written",
        "  (no scene would change)"]


def test_a_drainer_that_cannot_start_leaves_one_line_without_a_repeated_prefix(tmp_path):
    """The next hook or task logs it as 'background sync: <line>'."""
    payload = {"server_connection": {"Scheme": "http", "Host": "127.0.0.1", "Port": 9},
               "settings": {"plex_url": "http://127.0.0.1:9"}}  # no token in Stash
    done = subprocess.run([sys.executable, "-m", "worker", "--background"], cwd=ROOT,
                          env=dict(os.environ, PLEXSYNC_DATA_DIR=str(tmp_path)),
                          input=json.dumps(payload), capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    line = take_summary(tmp_path)
    assert line.startswith("not started: Plex token (plex_token) is required"), line
    assert not line.lower().startswith("background sync")
    log = (tmp_path / "drainer.log").read_text()
    assert "Traceback" not in log and "ERROR background sync not started: Plex token" in log


def test_a_hand_over_that_keeps_the_old_settings_does_not_claim_it_re_read_them(synced, monkeypatch):
    """Stash's settings stop parsing while a drainer waits for a retry: the hand-over keeps the
    settings it had and says so, in one warning and one matching info line."""
    from tests.e2e.test_tasks import drainer_busy
    with drainer_busy(synced):
        synced.edit(synced.library.scenes["part1"], title="Handed Over")
    synced.plex.down()
    monkeypatch.setenv("PLEXSYNC_DRAINER_LIFETIME", "1")
    synced.configure(connect_timeout=0.5)
    started_with = synced.stash.plugin_settings("PlexSync")
    # what the next drainer reads from Stash, set before this one could hand over
    synced.configure(max_retries="many")
    synced.start_drainer(settings=started_with)
    wait_until(lambda: QueueStore(synced.data_dir).counts()["scheduled"], 60, what="a retry")
    wait_until(lambda: "handed over to a fresh drainer" in synced.drainer_log(), 60,
               what="a hand-over")
    synced.plex.up()
    synced.wait_plex(PART_I_FILE, lambda item: item["title"] == "Handed Over", 90)
    log = synced.drainer_log()
    assert ("WARNING the settings in Stash are not usable (setting Max retries (max_retries): "
            "expected a whole number") in log
    assert "handed over to a fresh drainer (with the settings it had)" in log
    assert "settings re-read from Stash" not in log and "Traceback" not in log


def test_the_stored_drain_line_does_not_promise_a_time_it_is_read_after():
    """The drainer's line is shown by the next hook or task, maybe long after its retry time."""
    from worker.drain_context import DrainSummary
    line = DrainSummary(synced=1, waiting=2, next_due=NOON).line()
    assert "2 waiting (first due at 12:00:00)" in line and "next at" not in line
