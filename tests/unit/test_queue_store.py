"""queue.db from the hook's side: persist-queue compatible rows, one transaction, newest job
per scene, scheduled jobs, counts from SQLite, and concurrent enqueues from many processes."""
import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import persistqueue.serializers.json as pq_json
import pytest
from persistqueue import SQLiteAckQueue

from sync_queue.dlq import AMBIGUOUS_MATCH, NOT_FOUND, DeadLetters
from sync_queue.notes import take_summary
from sync_queue.records import SyncRecords
from sync_queue.state import QueueState
from sync_queue.store import QUEUE_DB, QueueStore

ROOT = Path(__file__).resolve().parents[2]


def make_job(scene_id, key="k", not_before=0.0, title="A title"):
    return {"scene_id": scene_id, "update_type": "update",
            "data": {"id": str(scene_id), "title": title, "files": [f"/m/{scene_id}.mp4"]},
            "enqueued_at": time.time(), "job_key": key, "attempts": 0, "not_before": not_before}


def rows(data_dir, sql):
    with sqlite3.connect(Path(data_dir) / QUEUE_DB) as conn:
        return conn.execute(sql).fetchall()


def test_persist_queue_reads_back_what_the_hook_enqueued(tmp_path):
    jobs = [make_job(i, key=f"k{i}") for i in (1, 2, 3)]
    assert QueueStore(tmp_path).enqueue(jobs) == 3
    queue = SQLiteAckQueue(str(tmp_path), auto_resume=False, serializer=pq_json,
                           db_file_name=QUEUE_DB)
    got = [queue.get(block=False) for _ in range(3)]
    assert [g["job_key"] for g in got] == ["k1", "k2", "k3"]
    assert got[0] == dict(jobs[0], seq=1)  # the job itself, plus its sequence number
    assert queue.unack_count() == 3 and queue.ready_count() == 0
    assert rows(tmp_path, "SELECT DISTINCT status FROM ack_queue_default") == [(2,)]


def test_enqueue_is_one_transaction(tmp_path):
    store = QueueStore(tmp_path)
    poisoned = [make_job(1), make_job(2), {"scene_id": 3, "data": {1: object()}}]
    with pytest.raises(TypeError):
        store.enqueue(poisoned)
    assert store.counts()["ready"] == 0 and store.latest_job_key(1) is None
    # ... and a whole bulk edit is one call: 500 jobs, consecutive seqs. (What a commit costs
    # per job, one by one or batched, is measured by bench/queue_throughput.py.)
    store.enqueue([make_job(i, key="bulk") for i in range(500)])
    assert store.counts()["ready"] == 500
    seqs = [json.loads(d)["seq"] for (d,) in rows(tmp_path, "SELECT data FROM ack_queue_default")]
    assert sorted(seqs) == list(range(1, 501))  # the poisoned batch's seqs were rolled back too


def test_latest_job_key_is_the_newest_job_of_the_scene(tmp_path):
    store = QueueStore(tmp_path)
    assert store.latest_job_key(42) is None
    store.enqueue([make_job(42, key="first"), make_job(7, key="other")])
    store.enqueue([make_job(42, key="second")])
    assert store.latest_job_key("42") == "second" and store.latest_job_key(7) == "other"
    assert rows(tmp_path, "SELECT scene_id, seq FROM scene_latest ORDER BY scene_id") == [
        ("42", 3), ("7", 2)]


def test_future_jobs_wait_in_the_scheduled_table_not_in_front_of_ready_ones(tmp_path):
    store = QueueStore(tmp_path)
    due = time.time() + 30
    store.enqueue([make_job(1, not_before=due), make_job(2)])
    counts = store.counts()
    assert (counts["ready"], counts["scheduled"]) == (1, 1)
    assert counts["next_due"] == pytest.approx(due)
    queue = SQLiteAckQueue(str(tmp_path), auto_resume=False, serializer=pq_json,
                           db_file_name=QUEUE_DB)
    assert queue.get(block=False)["scene_id"] == 2


def test_counts_come_from_sqlite_as_every_process_sees_them(tmp_path):
    QueueStore(tmp_path).enqueue([make_job(i) for i in range(4)])
    queue = SQLiteAckQueue(str(tmp_path), auto_resume=False, serializer=pq_json,
                           db_file_name=QUEUE_DB)
    taken = queue.get(block=False, raw=True)
    queue.ack(id=queue.get(block=False, raw=True)["pqid"])
    DeadLetters(tmp_path).add(dict(taken["data"]), reason_code=AMBIGUOUS_MATCH, reason="two",
                              error_class="AmbiguousMatch")
    SyncRecords(tmp_path).mark_skipped(9, "not in Plex")
    counts = QueueStore(tmp_path).counts()  # a fresh connection: nothing cached per process
    assert counts == {"ready": 2, "in_flight": 1, "scheduled": 0, "next_due": None,
                      "dead_letters": 1, "dead_letters_by_reason": {AMBIGUOUS_MATCH: 1},
                      "skipped": 1, "inbox": 0}


def test_edits_a_hook_noted_count_as_ready_before_the_drainer_reads_them(tmp_path):
    from sync_queue import inbox
    inbox.write_edit(tmp_path, "00000000000000000001-1-7.json", b'{"scene_ids": ["7"]}')
    inbox.write_edit(tmp_path, "bulk-abc.json", b'{"scene_ids": ["8", "9"]}', once=True)
    assert not inbox.write_edit(tmp_path, "bulk-abc.json", b"{}", once=True)  # same bulk edit
    counts = QueueStore(tmp_path).counts()
    assert (counts["ready"], counts["inbox"]) == (2, 2)


def test_background_summary_is_reported_once_and_kept_for_queue_status(tmp_path):
    assert take_summary(tmp_path) is None
    QueueState(tmp_path).store_drain_summary("synced 3, unchanged 0 in 1.0 s")
    assert take_summary(tmp_path) == "synced 3, unchanged 0 in 1.0 s"
    assert take_summary(tmp_path) is None
    assert QueueState(tmp_path).last_drain_summary()["line"] == "synced 3, unchanged 0 in 1.0 s"


def test_auth_failure_is_remembered_per_token(tmp_path):
    QueueState(tmp_path).record_auth_failure("abc123", "Plex refused the token (401)")
    store = QueueStore(tmp_path)
    assert store.auth_failed_for("abc123") and not store.auth_failed_for("other")
    assert QueueState(tmp_path).auth_blocked("abc123") == "Plex refused the token (401)"
    QueueState(tmp_path).clear_auth_failure()
    assert not store.auth_failed_for("abc123")


def test_dead_letters_list_retry_and_purge(tmp_path):
    clock = [1_000_000.0]
    dead = DeadLetters(tmp_path, clock=lambda: clock[0])
    job = dict(make_job(5, title="Part II"), seq=11, attempts=13, first_failed_at=999_000.0)
    candidates = [{"title": "Part I", "rating_key": "1", "file": "/a"},
                  {"title": "Part II", "rating_key": "2", "file": "/b"}]
    dead.add(job, reason_code=AMBIGUOUS_MATCH, reason="two items", error_class="AmbiguousMatch",
             candidates=candidates)
    dead.add(job, reason_code=AMBIGUOUS_MATCH, reason="two items", error_class="AmbiguousMatch",
             candidates=candidates)  # the same job again (crash before ack): still one entry
    clock[0] += 10 * 86400
    dead.add(dict(make_job(6), seq=12), reason_code=NOT_FOUND, reason="no item",
             error_class="ItemNotFound")
    entries = dead.list()
    assert [(e.scene_id, e.reason_code) for e in entries] == [("6", NOT_FOUND),
                                                              ("5", AMBIGUOUS_MATCH)]
    old = entries[1]
    assert (old.title, old.attempts, old.first_failure, old.candidates) == (
        "Part II", 13, 999_000.0, candidates)
    assert dead.counts_by_reason() == {AMBIGUOUS_MATCH: 1, NOT_FOUND: 1}
    assert dead.retry(NOT_FOUND) == 1
    assert QueueStore(tmp_path).counts()["ready"] == 1
    requeued = json.loads(rows(tmp_path, "SELECT data FROM ack_queue_default")[0][0])
    assert (requeued["seq"], requeued["attempts"], requeued["scene_id"]) == (12, 0, 6)
    assert dead.purge(9) == 1 and dead.list() == []


def test_sync_records_round_trip(tmp_path):
    records = SyncRecords(tmp_path, clock=lambda: 50.0)
    records.mark_skipped(3, "not in Plex")
    record = {"scene_id": "3", "rating_key": "9", "written": {"genres": ["a"]}}
    records.put(3, record)
    assert records.get("3") == record and records.get(4) is None
    assert records.skipped() == [] and records.last_synced_at() == 50.0
    assert records.get_many(["3", "4"]) == {"3": record}


ENQUEUER = """
import sys, time
from sync_queue.store import QueueStore
data_dir, worker, count, batch, start_at = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
jobs = [{"scene_id": worker * 100000 + i, "update_type": "update", "data": {"id": str(i)},
         "enqueued_at": 0.0, "job_key": f"w{worker}-{i}", "attempts": 0, "not_before": 0}
        for i in range(count)]
while time.time() < start_at:
    time.sleep(0.001)
t0 = time.perf_counter()
store = QueueStore(data_dir)
for start in range(0, count, batch):
    store.enqueue(jobs[start:start + batch])
print(time.perf_counter() - t0)
"""


def enqueue_concurrently(data_dir, processes, per_process, batch):
    start_at = time.time() + 1.0  # every process is up and waiting before the first write
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    procs = [subprocess.Popen([sys.executable, "-c", ENQUEUER, str(data_dir), str(w),
                               str(per_process), str(batch), str(start_at)],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for w in range(processes)]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err for _, err in outputs]
    return [float(out) for out, _ in outputs]


def test_four_processes_enqueue_1000_jobs_every_job_exactly_once(tmp_path):
    data_dir = tmp_path / "fresh"  # not created yet: the schema race is part of the test
    enqueue_concurrently(data_dir, processes=4, per_process=250, batch=1)
    queued = [json.loads(d) for (d,) in rows(data_dir, "SELECT data FROM ack_queue_default")]
    keys = sorted(j["job_key"] for j in queued)
    assert keys == sorted(f"w{w}-{i}" for w in range(4) for i in range(250))
    assert sorted(j["seq"] for j in queued) == list(range(1, 1001))
    assert rows(data_dir, "SELECT COUNT(*) FROM scene_latest") == [(1000,)]
    assert QueueStore(data_dir).counts()["ready"] == 1000
