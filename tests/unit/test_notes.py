"""Notes and the drain summary for the next hook or task (sync_queue/notes.py): plain files,
each line shown once, however many processes look at the same moment."""
import os
import subprocess
import sys
from pathlib import Path

from sync_queue.notes import (SUMMARY_FILE, leave_note, leave_summary, take_notes,
                              take_summary)
from sync_queue.state import QueueState

ROOT = Path(__file__).resolve().parents[2]

TAKER = """
import sys
from sync_queue.notes import take_summary
sys.stdin.read()  # the barrier: every taker is started and waits here until stdin closes
print(take_summary(sys.argv[1]) or "", flush=True)
"""


def test_a_summary_is_taken_once_and_a_newer_one_replaces_one_nobody_showed(tmp_path):
    assert take_summary(tmp_path) is None
    assert leave_summary(tmp_path, "synced 1, unchanged 0 in 0.2 s")
    assert leave_summary(tmp_path, "synced 2,\nunchanged 0 in 0.3 s")  # one line in Stash's log
    assert take_summary(tmp_path) == "synced 2, unchanged 0 in 0.3 s"
    assert take_summary(tmp_path) is None
    assert sorted(os.listdir(tmp_path)) == []  # nothing left behind: no claim, no temporary


def test_the_drain_side_leaves_the_summary_beside_queue_db_and_keeps_it_for_status(tmp_path):
    QueueState(tmp_path).store_drain_summary("stopped: Plex is away", errors=True)
    assert (tmp_path / SUMMARY_FILE).read_text(encoding="utf-8") == "stopped: Plex is away\n"
    assert take_summary(tmp_path) == "stopped: Plex is away"
    assert QueueState(tmp_path).last_drain_summary()["errors"] is True  # Queue Status still has it


def test_an_empty_flag_left_by_an_older_plexsync_says_nothing(tmp_path):
    (tmp_path / SUMMARY_FILE).write_bytes(b"")  # older versions kept the line in queue.db
    assert take_summary(tmp_path) is None and not (tmp_path / SUMMARY_FILE).exists()


def test_a_summary_that_cannot_be_written_leaves_no_temporary(tmp_path):
    missing = tmp_path / "gone"
    assert not leave_summary(missing, "synced 1")
    assert not missing.exists()


def test_eight_processes_taking_at_the_same_moment_show_the_summary_once(tmp_path):
    leave_summary(tmp_path, "synced 5, unchanged 0 in 1.0 s")
    takers = [subprocess.Popen([sys.executable, "-c", TAKER, str(tmp_path)], cwd=ROOT,
                               env=dict(os.environ, PYTHONPATH=str(ROOT)), text=True,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE) for _ in range(8)]
    for taker in takers:  # release them together
        taker.stdin.close()
    said = [taker.stdout.read().strip() for taker in takers]
    assert [taker.wait(60) for taker in takers] == [0] * 8
    assert sorted(said) == [""] * 7 + ["synced 5, unchanged 0 in 1.0 s"]


def test_notes_are_shown_once_in_order_without_repeats(tmp_path):
    assert leave_note(tmp_path, "queue.db was damaged;\nmoved aside")
    assert leave_note(tmp_path, "the drainer stopped")
    assert leave_note(tmp_path, "the drainer stopped")
    assert take_notes(tmp_path) == ["queue.db was damaged; moved aside", "the drainer stopped"]
    assert take_notes(tmp_path) == []
