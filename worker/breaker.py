"""Circuit breaker for Plex: CLOSED -> (5 failures) OPEN -> (60 s) HALF_OPEN -> (1 success) CLOSED.

While Plex is down, taking jobs only burns their retries and floods Plex when it comes back.
So after `failure_threshold` consecutive transient failures the breaker OPENs: the drain takes
no job and spends no retry; it sleeps until `reset_timeout` has passed, then (HALF_OPEN) asks
Plex once with a cheap health check instead of a job; one success CLOSEs it again.

The states are small immutable objects (pybreaker style) whose methods return the next state;
time is passed in, so the transitions are pure and tested with value tables. OPEN turns into
HALF_OPEN by the clock alone: reading the state computes that, it never writes. Persistence and
any other reaction (logging, counting) are listeners called after a transition, outside it.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Callable, ClassVar, Union


@dataclass(frozen=True)
class Policy:
    failure_threshold: int = 5
    reset_timeout: float = 60.0
    success_threshold: int = 1


@dataclass(frozen=True)
class Closed:
    failures: int = 0  # consecutive transient failures so far
    name: ClassVar[str] = "closed"

    def at(self, now: float, policy: Policy) -> "State":
        return self

    def on_success(self, now: float, policy: Policy) -> "State":
        return Closed()

    def on_failure(self, now: float, policy: Policy) -> "State":
        failures = self.failures + 1
        return Open(now) if failures >= policy.failure_threshold else Closed(failures)


@dataclass(frozen=True)
class Open:
    opened_at: float
    name: ClassVar[str] = "open"

    def at(self, now: float, policy: Policy) -> "State":
        """OPEN becomes HALF_OPEN once the reset timeout has passed."""
        return HalfOpen(self.opened_at) if now >= self.opened_at + policy.reset_timeout else self

    def on_success(self, now: float, policy: Policy) -> "State":
        return Closed()  # Plex answered after all (a call that started before the trip)

    def on_failure(self, now: float, policy: Policy) -> "State":
        return self  # already open; a late failure must not push the probe further out


@dataclass(frozen=True)
class HalfOpen:
    opened_at: float
    successes: int = 0
    name: ClassVar[str] = "half_open"

    def at(self, now: float, policy: Policy) -> "State":
        return self

    def on_success(self, now: float, policy: Policy) -> "State":
        successes = self.successes + 1
        return Closed() if successes >= policy.success_threshold else HalfOpen(self.opened_at,
                                                                               successes)

    def on_failure(self, now: float, policy: Policy) -> "State":
        return Open(now)  # the probe failed: wait a whole reset timeout again


State = Union[Closed, Open, HalfOpen]
Listener = Callable[[State, State], None]


def state_to_dict(state: State) -> dict:
    """A plain dict to persist (sync_queue.state)."""
    return {"name": state.name, **asdict(state)}


def state_from_dict(value: dict | None) -> State:
    """The state a dict describes; anything unreadable starts CLOSED."""
    value = value or {}
    try:
        if value.get("name") == Open.name:
            return Open(float(value["opened_at"]))
        if value.get("name") == HalfOpen.name:
            return HalfOpen(float(value["opened_at"]), int(value.get("successes", 0)))
        return Closed(int(value.get("failures", 0)))
    except (KeyError, TypeError, ValueError):
        return Closed()


class CircuitBreaker:
    def __init__(self, policy: Policy = Policy(), *, clock: Callable[[], float] = time.time,
                 state: State | None = None, listeners: tuple[Listener, ...] = ()):
        self.policy = policy
        self._clock = clock
        self._state: State = state or Closed()
        self._listeners = list(listeners)

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    @property
    def state(self) -> State:
        """The current state at the clock's time (OPEN may read as HALF_OPEN); never writes."""
        return self._state.at(self._clock(), self.policy)

    @property
    def allows_jobs(self) -> bool:
        """Jobs may run only while CLOSED; HALF_OPEN wants a health probe first."""
        return isinstance(self.state, Closed)

    @property
    def wants_probe(self) -> bool:
        return isinstance(self.state, HalfOpen)

    def seconds_until_probe(self) -> float:
        """How long the drain should sleep before probing (0 unless OPEN)."""
        state = self.state
        if isinstance(state, Open):
            return max(0.0, state.opened_at + self.policy.reset_timeout - self._clock())
        return 0.0

    def record_success(self) -> State:
        now = self._clock()
        return self._move(self._state.at(now, self.policy), lambda s: s.on_success(now, self.policy))

    def record_failure(self) -> State:
        now = self._clock()
        return self._move(self._state.at(now, self.policy), lambda s: s.on_failure(now, self.policy))

    def _move(self, current: State, transition: Callable[[State], State]) -> State:
        new = transition(current)
        stored, self._state = self._state, new
        if new != stored:
            for listener in self._listeners:
                listener(current, new)
        return new


def opened(old: State, new: State) -> bool:
    """True for the transition that trips a CLOSED breaker (not a failed HALF_OPEN probe)."""
    return isinstance(old, Closed) and isinstance(new, Open)
