"""The drain lock across real processes: exclusive, non-blocking, and gone with a SIGKILLed holder."""
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from sync_queue import lock as lock_module
from sync_queue.lock import DrainLock, drain_lock_held, lock_holder_pid

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(os.name == "nt", reason="uses SIGKILL")

HOLDER = """
import sys, time
from sync_queue.lock import DrainLock
lock = DrainLock(sys.argv[1])
print("held" if lock.try_acquire() else "busy", flush=True)
time.sleep(float(sys.argv[2]))
"""


def start_holder(data_dir, hold_s=60.0):
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(data_dir), str(hold_s)],
                            env=dict(os.environ, PYTHONPATH=str(ROOT)), stdout=subprocess.PIPE,
                            text=True)
    return proc, proc.stdout.readline().strip()


def test_one_holder_at_a_time_within_a_process(tmp_path):
    first, second = DrainLock(tmp_path), DrainLock(tmp_path)
    assert not drain_lock_held(tmp_path)
    assert first.try_acquire() and first.held
    assert not second.try_acquire() and not second.held
    assert drain_lock_held(tmp_path)
    assert lock_holder_pid(tmp_path) == os.getpid()
    first.release()
    assert not drain_lock_held(tmp_path)
    assert second.try_acquire()
    second.release()
    second.release()  # releasing twice is harmless


def test_lock_is_exclusive_across_processes_and_dies_with_a_sigkilled_holder(tmp_path,
                                                                            monkeypatch):
    holder, said = start_holder(tmp_path)
    try:
        assert said == "held"
        mine = DrainLock(tmp_path)
        slept = []
        with monkeypatch.context() as patch:
            patch.setattr(lock_module.time, "sleep", slept.append)
            assert not mine.try_acquire()
        assert slept == []  # non-blocking: one look, no wait for the holder
        assert drain_lock_held(tmp_path)
        assert lock_holder_pid(tmp_path) == holder.pid
        other, other_said = start_holder(tmp_path, hold_s=0)
        other.wait(10)
        assert other_said == "busy"
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
    assert not drain_lock_held(tmp_path)  # no stale lock: the kernel dropped it
    assert mine.try_acquire()
    mine.release()


def test_many_processes_racing_get_exactly_one_lock(tmp_path):
    # the holder keeps the lock until killed: however late the last process starts, it races
    # against a lock that is still held
    procs = [subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path), "600"],
                              env=dict(os.environ, PYTHONPATH=str(ROOT)), stdout=subprocess.PIPE,
                              text=True) for _ in range(6)]
    answers = [p.stdout.readline().strip() for p in procs]
    for p in procs:
        p.kill()
        p.wait(10)
    assert sorted(answers) == ["busy"] * 5 + ["held"]


def test_try_acquire_waits_out_a_brief_holder(tmp_path):
    holder, said = start_holder(tmp_path, hold_s=0.3)
    assert said == "held"
    mine = DrainLock(tmp_path)
    assert mine.try_acquire(wait=60.0)  # e.g. a hook's drain_lock_held probe, or a finishing drainer
    holder.wait(10)
    mine.release()


def test_probes_never_take_the_lock_for_good_nor_clobber_the_holders_pid(tmp_path):
    # Every hook probes once; what a probe costs is measured by bench/queue_throughput.py.
    holder = DrainLock(tmp_path)
    assert holder.try_acquire()
    assert all(drain_lock_held(tmp_path) for _ in range(100))
    assert lock_holder_pid(tmp_path) == os.getpid()
    holder.release()
    assert not any(drain_lock_held(tmp_path) for _ in range(100))
    after = DrainLock(tmp_path)
    assert after.try_acquire()  # a probe that found the lock free let go of it again
    after.release()
