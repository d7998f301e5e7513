"""process_queue.py as a user and a script run it: a real subprocess against the Stash and Plex
emulators, reading its stdout, stderr and exit status (0 ok, 1 failed, 2 usage, 130 Ctrl-C)."""
from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from sync_queue.lock import drain_lock_held
from sync_queue.records import SyncRecords
from sync_queue.store import QueueStore
from tests.e2e_fixtures import wait_until
from tests.emulators.plex_library import PART_I_FILE, PART_II_FILE
from tests.e2e.test_tasks import BOTH_PARTS, drainer_busy
from tests.proof_checks import twin_scenes

ROOT = Path(__file__).resolve().parents[2]
CLI = str(ROOT / "process_queue.py")
ANSI = re.compile(r"\x1b\[")


def cli_env(synced, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLEXSYNC_")}
    env.pop("PYTHONPATH", None)  # the CLI finds its own modules, as on a user's machine
    env.update(PLEXSYNC_STASH_URL=synced.stash.url, PLEXSYNC_DATA_DIR=str(synced.data_dir))
    env.update(extra)
    return env


def run_cli(synced, *args, timeout=90, **env):
    return subprocess.run([sys.executable, CLI, *args], env=cli_env(synced, **env), cwd="/",
                          capture_output=True, text=True, timeout=timeout)


def queue_edits(synced, slugs, **fields):
    with drainer_busy(synced):
        for slug in slugs:
            synced.edit(synced.library.scenes[slug], **fields)


def test_drain_prints_plain_progress_lines_and_the_summary(synced):
    queue_edits(synced, ["part1", "part2"], details="From the terminal")
    done = run_cli(synced)
    assert done.returncode == 0, done.stderr
    assert re.match(r"Process Queue: synced 2, unchanged 0, retrying 0, failed 0 in "
                    r"\d+\.\d s\n", done.stdout)
    assert "syncing to Plex …" in done.stderr
    assert re.search(r"syncing to Plex: 2/2 \(100%\), \d+\.\d/s", done.stderr)
    assert "INFO: scene 1 → Plex" in done.stderr
    assert not ANSI.search(done.stdout + done.stderr)  # no terminal: no escape codes
    assert synced.plex_item(PART_I_FILE)["summary"] == "From the terminal"


def test_json_answers_for_scripts(synced):
    synced.stash.add_scene("Both Parts", files=BOTH_PARTS)
    synced_all = run_cli(synced, "sync-all", "--json")
    answer = json.loads(synced_all.stdout)
    assert synced_all.returncode == 1  # a scene was dead-lettered: the script must notice
    assert answer["mode"] == "sync_all" and answer["ok"] is False
    assert answer["scenes"]["queued"] == 6 and answer["drain"]["synced"] == 5
    assert answer["drain"]["dead_lettered"] == 1
    assert answer["text"].startswith("Sync All: synced 5")

    status = json.loads(run_cli(synced, "--json", "status").stdout)
    assert status["queue"]["dead_letters_by_reason"] == {"ambiguous_match": 1}
    assert status["drainer"]["running"] is False and status["synced_scenes"] == 5

    listed = json.loads(run_cli(synced, "dlq", "list", "--json").stdout)
    [entry] = listed["entries"]
    assert entry["reason_code"] == "ambiguous_match" and entry["title"] == "Both Parts"
    assert [c["title"] for c in entry["candidates"]] == ["Saga Part I", "Saga Part II"]

    dry = json.loads(run_cli(synced, "dry-run", "--json").stdout)
    assert dry["counts"]["would change"] == 0 and dry["selection"]["in_sync"] == 5


def test_exit_codes(synced):
    assert run_cli(synced, "status").returncode == 0
    for usage in (["bogus"], ["sync-recent", "--hours", "soon"], ["dlq"],
                  ["dlq", "retry", "--reason", "no_such_reason"], ["--stash-url", "localhost"]):
        result = run_cli(synced, *usage)
        assert result.returncode == 2, (usage, result.stderr)
    retry = run_cli(synced, "dlq", "retry", "--reason", "no_such_reason")
    assert "argument 'reason' must be one of ambiguous_match" in retry.stderr
    unreachable = run_cli(synced, "health", "--stash-url", "http://127.0.0.1:9")
    assert unreachable.returncode == 1
    assert unreachable.stderr.strip().endswith("error: Stash is not reachable at "
                                               "http://127.0.0.1:9: [Errno 111] Connection refused")
    synced.plex.down()
    health = run_cli(synced, "health")
    assert health.returncode == 1 and "✗ Plex not reachable" in health.stdout


def test_plex_overrides_and_stash_api_key(stash_factory, plex, synced, tmp_path):
    locked = stash_factory(api_key="stash-api-key-42")
    locked.add_scene("Saga Part I", files=[PART_I_FILE])
    locked.set_plugin_settings("PlexSync", {"plex_url": "http://127.0.0.1:9",
                                            "plex_token": "wrong-token"})
    data = str(tmp_path / "locked-data")
    refused = run_cli(synced, "health", "--data-dir", data, PLEXSYNC_STASH_URL=locked.url)
    assert refused.returncode == 1
    assert "Stash refused PlexSync's request (HTTP 401)" in refused.stderr
    healthy = run_cli(synced, "health", "--data-dir", data, "--plex-url", plex.url,
                      "--plex-token", plex.token, PLEXSYNC_STASH_URL=locked.url,
                      PLEXSYNC_STASH_API_KEY="stash-api-key-42")
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    assert f"✓ Plex reachable at {plex.url}" in healthy.stdout
    assert "stash-api-key-42" not in healthy.stdout + healthy.stderr


def test_ctrl_c_stops_after_the_current_job_and_loses_nothing(synced):
    slugs = ["part1", "part2", "multi", "rich", "untitled"]
    queue_edits(synced, slugs, details="Interrupted")
    twins = twin_scenes(synced, 6, "ctrl-c")  # more jobs than the first job + one wave of 4
    with drainer_busy(synced):
        for scene in twins:
            synced.edit(scene, details="Interrupted")
    jobs = len(slugs) + len(twins)
    # Ctrl-C lands in the middle of the drain by construction: after the first job, edits
    # wait at Plex until the CLI has taken the Ctrl-C in
    held = synced.plex.hold(method="PUT", after=1)
    child = subprocess.Popen([sys.executable, CLI], env=cli_env(synced), cwd="/",
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stderr: list[str] = []
    reader = threading.Thread(target=lambda: stderr.extend(child.stderr), daemon=True)
    reader.start()
    wait_until(lambda: any("→ Plex" in line for line in stderr) and held.held(), 60,
               what="a synced job and the next one mid-sync")
    child.send_signal(signal.SIGINT)
    wait_until(lambda: "stopping after the current job" in "".join(stderr), 60,
               what="the CLI to take the Ctrl-C in")
    held.release()
    child.wait(timeout=60)  # not communicate(): the reader thread owns stderr
    stdout = child.stdout.read()
    reader.join(60)
    assert child.returncode == 130, "".join(stderr)
    assert "stopping after the current job" in "".join(stderr)
    assert re.search(r"  stopped +on request, after the current job; nothing was lost", stdout)
    synced_now = SyncRecords(synced.data_dir).count()
    with QueueStore(synced.data_dir) as store:
        left = store.counts()
    assert 1 <= synced_now < jobs  # stopped after the jobs in flight (worker.waves)
    assert left["in_flight"] == 0 and left["ready"] == jobs - synced_now
    assert not drain_lock_held(synced.data_dir)  # and no drainer was started behind our back

    rest = run_cli(synced)
    assert rest.returncode == 0, rest.stderr
    assert rest.stdout.startswith(f"Process Queue: synced {jobs - synced_now},")
    assert synced.plex_item(PART_II_FILE)["summary"] == "Interrupted"
    assert SyncRecords(synced.data_dir).count() == jobs


def test_progress_bar_with_rate_and_eta_on_a_terminal(synced):
    queue_edits(synced, ["part1", "part2", "rich"], details="On a TTY")
    synced.plex.latency(0.1)
    master, slave = pty.openpty()
    child = subprocess.Popen([sys.executable, CLI], env=cli_env(synced, COLUMNS="120"),
                             cwd="/", stdout=subprocess.PIPE, stderr=slave, text=True)
    os.close(slave)
    screen = b""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the terminal closed: the child is gone
                break
            if not chunk:
                break
            screen += chunk
        elif child.poll() is not None:
            break
    os.close(master)
    stdout, _ = child.communicate(timeout=30)
    text = screen.decode("utf-8", "replace")
    assert child.returncode == 0
    assert "syncing to Plex" in text and "3/3" in text
    assert re.search(r"\d+\.\d/s", text)          # rate
    assert re.search(r"\d:\d\d:\d\d|-:--:--", text)  # ETA column
    assert ANSI.search(text)                      # a live bar, not plain lines
    assert stdout.startswith("Process Queue: synced 3")
