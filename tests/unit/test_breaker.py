"""Circuit breaker transitions with an injected clock: 5 failures open, 60 s, 1 success closes."""
import pytest

from worker.breaker import (CircuitBreaker, Closed, HalfOpen, Open, Policy, opened,
                            state_from_dict, state_to_dict)

P = Policy()


class Clock:
    def __init__(self, t=1000.0):
        self.t = t

    def __call__(self):
        return self.t


@pytest.mark.parametrize("state, event, now, expected", [
    (Closed(), "failure", 0, Closed(1)),
    (Closed(3), "failure", 0, Closed(4)),
    (Closed(4), "failure", 7, Open(7)),
    (Closed(4), "success", 7, Closed()),
    (Open(100), "failure", 130, Open(100)),      # a late failure does not push the probe out
    (Open(100), "success", 130, Closed()),
    (HalfOpen(100), "success", 170, Closed()),
    (HalfOpen(100), "failure", 170, Open(170)),  # failed probe: a whole new reset timeout
])
def test_transition_table(state, event, now, expected):
    assert getattr(state, f"on_{event}")(now, P) == expected


@pytest.mark.parametrize("opened_at, now, expected", [
    (100, 100, Open(100)), (100, 159.9, Open(100)), (100, 160, HalfOpen(100)),
    (100, 1e6, HalfOpen(100))])
def test_open_reads_as_half_open_after_the_reset_timeout(opened_at, now, expected):
    assert Open(opened_at).at(now, P) == expected


def test_five_failures_open_then_a_probe_after_60_s_closes():
    clock = Clock()
    moves = []
    breaker = CircuitBreaker(clock=clock, listeners=(lambda old, new: moves.append((old, new)),))
    for _ in range(4):
        breaker.record_failure()
    assert breaker.allows_jobs and breaker.state == Closed(4)
    breaker.record_failure()
    assert breaker.state == Open(1000.0) and not breaker.allows_jobs
    assert breaker.seconds_until_probe() == 60.0
    clock.t += 59
    assert breaker.seconds_until_probe() == 1.0 and not breaker.wants_probe
    clock.t += 1
    assert breaker.wants_probe and breaker.seconds_until_probe() == 0.0
    breaker.record_success()
    assert breaker.state == Closed() and breaker.allows_jobs
    assert [opened(o, n) for o, n in moves].count(True) == 1
    assert moves[-1] == (HalfOpen(1000.0), Closed())


def test_reading_the_state_never_writes():
    clock = Clock()
    writes = []
    breaker = CircuitBreaker(clock=clock, state=Open(1000.0),
                             listeners=(lambda old, new: writes.append(new),))
    clock.t += 120
    for _ in range(3):
        assert breaker.state == HalfOpen(1000.0)
        assert breaker.wants_probe and not breaker.allows_jobs
    assert writes == []


def test_failed_probe_reopens_without_counting_as_a_new_trip():
    clock = Clock()
    moves = []
    breaker = CircuitBreaker(clock=clock, state=Open(1000.0),
                             listeners=(lambda old, new: moves.append((old, new)),))
    clock.t = 1060.0
    breaker.record_failure()
    assert breaker.state == Open(1060.0)
    assert moves == [(HalfOpen(1000.0), Open(1060.0))] and not opened(*moves[0])


def test_state_survives_a_round_trip_through_a_dict():
    for state in (Closed(), Closed(3), Open(12.5), HalfOpen(12.5, 0)):
        assert state_from_dict(state_to_dict(state)) == state
    assert state_to_dict(Open(5.0)) == {"name": "open", "opened_at": 5.0}
    for junk in (None, {}, {"name": "open"}, {"name": "closed", "failures": "x"}):
        assert state_from_dict(junk) == Closed()


def test_success_threshold_is_a_policy():
    policy = Policy(failure_threshold=2, reset_timeout=10, success_threshold=2)
    clock = Clock(0)
    breaker = CircuitBreaker(policy, clock=clock)
    breaker.record_failure()
    breaker.record_failure()
    assert breaker.state == Open(0)
    clock.t = 10
    assert breaker.record_success() == HalfOpen(0, 1)
    assert breaker.record_success() == Closed()
