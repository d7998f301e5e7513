"""process_queue.py in a new user's first hour (issue 12, items 8-10): the local commands work
without Stash or settings, every bad argument exits 2 with one line, nothing unexpected ends in
a Stash-only hint, and a background sync started here keeps --plex-url / --plex-token across
its hand-over."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import process_queue
from tests.e2e_fixtures import wait_until
from tests.emulators.plex_library import PART_I_FILE
from tests.e2e.test_cli import cli_env, queue_edits

ROOT = Path(__file__).resolve().parents[2]
CLI = str(ROOT / "process_queue.py")
NOBODY = "http://127.0.0.1:9"  # nothing listens there: "Stash is down"


def run(*args, data_dir: Path, stash_url: str = NOBODY, timeout: float = 60, **env):
    base = {k: v for k, v in os.environ.items() if not k.startswith("PLEXSYNC_")}
    base.pop("PYTHONPATH", None)
    base.update(PLEXSYNC_STASH_URL=stash_url, PLEXSYNC_DATA_DIR=str(data_dir), **env)
    return subprocess.run([sys.executable, CLI, *args], env=base, cwd="/", capture_output=True,
                          text=True, timeout=timeout)


@pytest.mark.parametrize("args, first_line", [
    (["status"], "Queue Status: 0 pending, 0 waiting, 0 failed"),
    (["dlq", "list"], "Failed Syncs: 0"),
    (["dlq", "purge", "--days", "7"], "Delete Old Failed Syncs: removed 0 failed syncs older than 7 days; 0 left"),
])
def test_local_commands_work_with_stash_down_and_nothing_set_up(tmp_path, args, first_line):
    done = run(*args, data_dir=tmp_path / "data")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == first_line
    assert done.stderr == ""


def test_status_without_any_contact_does_not_claim_plex_is_reachable(tmp_path):
    done = run("status", data_dir=tmp_path / "data")
    assert re.search(r"^  plex +not contacted yet", done.stdout, re.M), done.stdout


def test_purge_without_days_needs_the_setting_and_says_how_to_do_without(tmp_path):
    done = run("dlq", "purge", data_dir=tmp_path / "data")
    assert done.returncode == 1
    assert done.stderr.strip().endswith("pass --days N to purge without Stash")


def test_missing_settings_are_reported_together_once_with_the_flags(synced, tmp_path):
    synced.stash.set_plugin_settings("PlexSync", {})
    done = run("health", data_dir=tmp_path / "data", stash_url=synced.stash.url)
    assert done.returncode == 1
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("error: Plex URL (plex_url) and Plex token (plex_token) are required; "
                           "set them in Stash: Settings > Plugins > PlexSync, or pass --plex-url "
                           "and --plex-token. Connect to Plex on the PlexSync page (or "
                           "process_queue.py plex-login) sets both; by hand, the Plex token is in "
                           "Plex Web"), line
    assert line.count("required") == 1 and "Traceback" not in done.stderr


@pytest.mark.parametrize("args", [
    ["sync-recent", "--hours", "1e20"],          # overflowed every date function before
    ["sync-recent", "--hours", "nan"],
    ["sync-recent", "--hours", "0"],
    ["dlq", "purge", "--days", "-1"],
    ["dlq", "purge", "--days", "inf"],
    ["--data-dir", "FILE", "status"],            # a file where the queue folder should be
    ["--data-dir", "FILE/sub", "status"],        # a folder that cannot be created
    ["--plex-url", "plex:32400", "status"],      # a bad URL is a bad argument, always
    ["--stash-url", "http://stash:99999", "status"],
    ["--stash-url", "localhost", "status"],
])
def test_bad_arguments_exit_2_with_one_line(tmp_path, args):
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    args = [str(a_file) + arg[4:] if arg.startswith("FILE") else arg for arg in args]
    done = run(*args, data_dir=tmp_path / "data")
    assert done.returncode == 2, (args, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith(("error: ", "process_queue.py"))


def test_unexpected_errors_get_a_terminal_hint_not_a_stash_one():
    text = process_queue.cli_message(OverflowError("date value out of range"))
    assert text == ("unexpected OverflowError: date value out of range "
                    "(run again with --verbose for the traceback)")
    assert "Debug logging" not in text


def test_a_cli_started_background_sync_keeps_the_overrides_across_its_hand_over(synced):
    """Stash has no Plex settings at all: only --plex-url / --plex-token make a sync possible.
    Plex is down, so the drain leaves a retry for a background sync; that one hands over after
    its (shortened) lifetime, and the next must still use the command line's Plex."""
    queue_edits(synced, ["part1"], title="Kept Across Hand-over")
    synced.stash.set_plugin_settings("PlexSync", {"connect_timeout": 0.5})
    synced.plex.down()
    done = subprocess.run(
        [sys.executable, CLI, "--plex-url", synced.plex.url, "--plex-token", synced.plex.token],
        env=cli_env(synced, PLEXSYNC_DRAINER_LIFETIME="1"), cwd="/", capture_output=True,
        text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr  # a retry is not a failure
    assert "started a background sync for the jobs left" in done.stdout
    wait_until(lambda: "handed over to a fresh drainer" in synced.drainer_log(), 60,
               what="the first background sync to hand over")
    synced.plex.up()
    synced.wait_plex(PART_I_FILE, lambda item: item["title"] == "Kept Across Hand-over", 90)
    stopped_after_sync = re.compile(r" INFO background sync stopped \([^)]*\): synced 1")
    wait_until(lambda: stopped_after_sync.search(synced.drainer_log()), 60,
               what="the background sync that synced to log its stop")
    log = synced.drainer_log()
    assert "handed over to a fresh drainer (settings re-read from Stash)" in log
    assert "Traceback" not in log and "ConfigError" not in log and "not started" not in log
    assert re.search(r" INFO background sync started \(pid \d+\): ", log)
    assert re.search(r" INFO background sync stopped \(handed over to a fresh drainer\): ", log)
    assert synced.plex.token not in log
