"""The scene panel's state rules (hooks/ui/scene_state.py) and what the read modes answer
(hooks/ui/reads.py) from a data folder written through sync_queue, with an injected clock."""
from __future__ import annotations

import json
import time

import pytest

from hooks.ui import scene_state as s
from hooks.ui.reads import answer, open_in_plex
from sync_queue import inbox
from sync_queue.dlq import DeadLetters
from sync_queue.records import SyncRecords
from sync_queue.state import QueueState
from sync_queue.store import QueueStore, connect

NOW = 1_700_000_000.0


def dead(seq: int, code: str = "not_found") -> dict:
    """A dead letter as sync_queue/view.py reads it."""
    return {"id": 1, "scene_id": "7", "title": "t", "reason_code": code, "reason": "why",
            "error_class": "ItemNotFound", "candidates": [], "attempts": 3,
            "first_failure": NOW - 90, "last_failure": NOW - 60,
            "job": {"seq": seq, "looked_for": "/plex/a.mp4"}}


RECORD = {"synced_at": NOW - 100}
SCHEDULED_RETRY = {"seq": 5, "attempts": 2, "not_before": NOW + 60, "last_error": "PlexUnavailable: 503"}
SCHEDULED_NEW = {"seq": 5, "attempts": 0, "not_before": NOW + 30, "enqueued_at": NOW}
NOT_FOUND = {"seq": 5, "attempts": 1, "not_before": NOW + 9, "last_error": "ItemNotFound: no item",
             "looked_for": "/plex/a.mp4"}


@pytest.mark.parametrize("latest, scheduled, dead_letter, record, skipped, noted, state", [
    (None, [], None, None, None, False, s.NOT_SYNCED),
    (None, [], None, None, None, True, s.WAITING),                     # a hook noted it
    ((5, NOW - 10), [], None, RECORD, None, False, s.WAITING),        # queued after the last sync
    ((5, NOW - 200), [], None, RECORD, None, False, s.SYNCED),
    ((5, NOW - 10), [SCHEDULED_RETRY], None, RECORD, None, False, s.RETRYING),
    ((5, NOW - 10), [SCHEDULED_NEW], None, None, None, False, s.WAITING),
    ((5, NOW - 10), [NOT_FOUND], None, None, None, False, s.NOT_IN_PLEX),
    ((5, NOW - 10), [], dead(5), None, None, False, s.FAILED),
    ((6, NOW - 10), [], dead(5), RECORD, None, False, s.WAITING),     # edited after it failed
    ((5, NOW - 300), [], None, RECORD, {"reason": "not in Plex", "skipped_at": NOW - 50}, False,
     s.NOT_IN_PLEX),
])
def test_state_table(latest, scheduled, dead_letter, record, skipped, noted, state):
    facts = s.scene_state(latest=latest, scheduled=scheduled, dead=dead_letter, record=record,
                          skipped=skipped, noted=noted, now=NOW)
    assert facts["state"] == state


def test_failed_and_not_in_plex_carry_reason_fix_and_looked_for():
    failed = s.scene_state(latest=(5, NOW), scheduled=[], dead=dead(5), record=None,
                           skipped=None, noted=False, now=NOW)
    assert failed["fix"] == s.FIXES["not_found"] and failed["looked_for"] == "/plex/a.mp4"
    retry = s.scene_state(latest=(5, NOW), scheduled=[NOT_FOUND], dead=None, record=None,
                          skipped=None, noted=False, now=NOW)
    assert retry["next_try"] == NOW + 9 and retry["looked_for"] == "/plex/a.mp4"
    assert s.fix_for("something new") == s.FIXES["unexpected_error"]


def test_open_in_plex_address():
    server = {"url": "http://plex.lan:32400", "machine_identifier": "abc123"}
    assert open_in_plex(server, "42") == ("http://plex.lan:32400/web/index.html#!/server/abc123"
                                          "/details?key=%2Flibrary%2Fmetadata%2F42")
    assert open_in_plex({"url": "http://plex.lan:32400", "machine_identifier": ""}, "42") is None
    assert open_in_plex(server, None) is None


def test_plex_address_is_kept_without_a_token_pasted_into_it(tmp_path):
    conn = connect(tmp_path)
    try:
        QueueState(conn).remember_plex_server(
            "https://me:pw@plex.lan:32400/plex/?X-Plex-Token=s3cret#frag", "m1")
        assert QueueState(conn).plex_server() == {"url": "https://plex.lan:32400/plex",
                                                  "machine_identifier": "m1"}
    finally:
        conn.close()


def test_scene_answer_from_a_data_folder(tmp_path):
    now = time.time()  # the queue stamps its rows with the real clock
    with QueueStore(tmp_path) as store:
        store.enqueue([{"scene_id": 7, "job_key": "k", "data": {}}])
    conn = connect(tmp_path)
    try:
        SyncRecords(conn).put("7", {"rating_key": "42", "synced_at": now + 5, "plex_title": "T",
                                    "library": "Movies", "changed": "title",
                                    "written": {"title": "T", "actor_thumbs": []}})
        QueueState(conn).remember_plex_server("http://plex:32400", "m1")
        conn.execute("CREATE TABLE play_imports (scene_id TEXT PRIMARY KEY, state TEXT, updated_at REAL)")
        conn.execute("INSERT INTO play_imports VALUES ('7', ?, 0)", (json.dumps({"imported": [10, 30]}),))
    finally:
        conn.close()
    got = answer("ui_scene", {"scene_id": "7"}, {}, str(tmp_path), now=now + 10)
    assert got["state"] == "synced"
    assert got["item"] == {"rating_key": "42", "title": "T", "library": "Movies",
                           "open_in_plex": open_in_plex({"url": "http://plex:32400",
                                                         "machine_identifier": "m1"}, "42")}
    assert got["last_sync"] == {"at": now + 5, "changed": "title", "fields": ["title"]}
    assert got["plays"] == {"count": 2, "last_at": 30}
    assert answer("ui_scene", {"scene_id": "x"}, {}, str(tmp_path))["state"] == "error"


def test_overview_answer_counts_failed_and_plex_contact(tmp_path):
    with QueueStore(tmp_path) as store:
        store.enqueue([{"scene_id": 8, "job_key": "k", "data": {"title": "Eight"}}])
    conn = connect(tmp_path)
    try:
        for seq, reason in ((1, "older"), (2, "Plex refused")):  # edited twice: two entries
            DeadLetters(conn).add({"seq": seq, "scene_id": 8, "data": {"title": "Eight"}},
                                  reason_code="bad_request", reason=reason, error_class="X")
        QueueState(conn).save_breaker({"name": "open", "opened_at": NOW - 30})
    finally:
        conn.close()
    got = answer("ui_overview", {}, {}, str(tmp_path), now=NOW)
    assert got["failed_total"] == 1 and len(got["failed"]) == 1  # one row per scene
    assert got["failed"][0]["scene_id"] == "8" and got["failed"][0]["reason"] == "Plex refused"
    assert got["failed"][0]["fix"] == s.FIXES["bad_request"]
    assert got["plex"] == {"state": "unavailable", "since": NOW - 30}
    assert got["queue"]["ready"] == 1 and got["drainer"]["running"] is False


def test_a_damaged_queue_file_is_named_and_left_for_the_writers(tmp_path):
    (tmp_path / "queue.db").write_bytes(b"not sqlite " * 500)
    got = answer("ui_scene", {"scene_id": "7"}, {}, str(tmp_path))
    assert got["state"] == "error" and got["can_sync"] is True
    assert "queue.db is damaged" in got["line"]
    assert (tmp_path / "queue.db").read_bytes().startswith(b"not sqlite")  # not repaired by a read


def test_inbox_note_makes_the_scene_waiting_before_any_queue_db(tmp_path):
    inbox.write_edit(tmp_path, "0001-1-9.json", json.dumps({"scene_ids": ["9"]}).encode())
    got = answer("ui_scene", {"scene_id": "9"}, {}, str(tmp_path))
    assert got["state"] == "waiting" and got["no_data"] is True
    assert not (tmp_path / "queue.db").exists()
