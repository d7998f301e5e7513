"""Switchable faults and the request log of the Plex emulator.

Tests flip faults from their own thread while handler threads consume them, so every counter
sits behind one lock. K-request faults can be narrowed to a method and/or path prefix so a test
can break, say, only the next PUT.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

# Headers worth asserting on; the token is never recorded (it is a secret even in tests).
LOGGED_HEADERS = ("X-Plex-Client-Identifier", "X-Plex-Product", "X-Plex-Version",
                  "X-Plex-Container-Start", "X-Plex-Container-Size", "Content-Type",
                  "Content-Length", "User-Agent")


@dataclass
class RequestRecord:
    method: str
    path: str
    query: dict                  # decoded, last value wins; X-Plex-Token removed
    headers: dict                # LOGGED_HEADERS subset
    time: float                  # emulator clock at arrival
    status: int | None = None    # None while running, or for hang / drop faults
    fault: str | None = None     # "fail", "hang", "drop" or None
    duration: float | None = None
    answered: float | None = None  # emulator clock when its answer started going out

    @property
    def client_id(self) -> str | None:
        return self.headers.get("X-Plex-Client-Identifier")


class RequestLog:
    def __init__(self):
        self._lock = threading.Lock()
        self._records: list[RequestRecord] = []

    def add(self, record: RequestRecord) -> RequestRecord:
        with self._lock:
            self._records.append(record)
        return record

    def records(self, method: str | None = None, path_prefix: str | None = None) -> list:
        with self._lock:
            return [r for r in self._records
                    if (method is None or r.method == method.upper())
                    and (path_prefix is None or r.path.startswith(path_prefix))]

    def count(self, method: str | None = None, path_prefix: str | None = None) -> int:
        return len(self.records(method, path_prefix))

    def clear(self) -> None:
        with self._lock:
            self._records.clear()


@dataclass
class Fault:
    kind: str                    # "fail" | "hang" | "drop" | "lose" (done, answer lost)
    status: int = 0              # for "fail"
    during: str = "headers"      # for "drop": "headers" (ConnectionError) or "body"
    page: str = ""               # for "fail": an HTML body instead of PMS's small error page


@dataclass
class _Rule:
    fault: Fault
    remaining: int
    method: str | None = None
    path_prefix: str | None = None

    def matches(self, method: str, path: str) -> bool:
        return ((self.method is None or self.method == method)
                and (self.path_prefix is None or path.startswith(self.path_prefix)))


class Hold:
    """Requests that wait at the emulator before they are answered, so a test decides when
    they are in flight together or when a drain is mid-job -- not the scheduler.

    The first `after` matching requests pass; later ones wait until release() (or, with
    `release_at`, until that many are waiting: then all go, and so does every later one).
    `timeout` only bounds a failure: a request still held then is answered anyway and the
    emulator's `errors` says so."""

    def __init__(self, *, method=None, path_prefix=None, after: int = 0,
                 release_at: int | None = None, timeout: float = 60.0):
        self.method, self.path_prefix = method and method.upper(), path_prefix
        self.after, self.release_at, self.timeout = int(after), release_at, float(timeout)
        self.seen = self.waiting = self.arrived = 0
        self.released = False
        self._cond = threading.Condition()

    def join(self, method: str, path: str) -> bool:
        """Count this request in; True if it must wait."""
        if not ((self.method is None or self.method == method)
                and (self.path_prefix is None or path.startswith(self.path_prefix))):
            return False
        with self._cond:
            self.seen += 1
            if self.released or self.seen <= self.after:
                return False
            self.arrived += 1
            self.waiting += 1
            if self.release_at is not None and self.arrived >= self.release_at:
                self.released = True
            self._cond.notify_all()
            return True

    def wait(self, halt: threading.Event) -> bool:
        """Wait until released: True; False when the server went down or time ran out."""
        deadline = time.monotonic() + self.timeout
        with self._cond:
            try:
                while not self.released:
                    if halt.is_set() or time.monotonic() > deadline:
                        return False
                    self._cond.wait(0.05)  # at once on release(); within 50 ms on a halt
                return True
            finally:
                self.waiting -= 1
                self._cond.notify_all()

    def release(self) -> None:
        with self._cond:
            self.released = True
            self._cond.notify_all()

    def held(self) -> int:
        with self._cond:
            return self.waiting


@dataclass
class FaultPlan:
    clock: object
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _rules: list = field(default_factory=list)
    _fail_until: float = 0.0
    _fail_status: int = 503
    _fail_prefix: str | None = None
    _fail_page: str = ""
    _latency: float = 0.0
    _holds: list = field(default_factory=list)

    def fail_next(self, k: int, status: int = 500, *, method=None, path_prefix=None) -> None:
        self._add(Fault("fail", status), k, method, path_prefix)

    def hang_next(self, k: int, *, method=None, path_prefix=None) -> None:
        self._add(Fault("hang"), k, method, path_prefix)

    def drop_next(self, k: int, during: str = "headers", *, method=None, path_prefix=None):
        if during not in ("headers", "body"):
            raise ValueError("during must be 'headers' or 'body'")
        self._add(Fault("drop", during=during), k, method, path_prefix)

    def lose_response_next(self, k: int, *, method=None, path_prefix=None) -> None:
        """Carry out the request, then reset the connection instead of answering: the client
        cannot tell whether it happened (a proxy timing out, Wi-Fi dropping, PMS busy)."""
        self._add(Fault("lose"), k, method, path_prefix)

    def fail_for(self, seconds: float, status: int = 503, *, path_prefix: str | None = None,
                 page: str = "") -> None:
        """Answer `status` for `seconds` (every path, or only those under `path_prefix`)."""
        with self._lock:
            self._fail_until = self.clock() + seconds
            self._fail_status = status
            self._fail_prefix = path_prefix
            self._fail_page = page

    def latency(self, seconds: float) -> None:
        with self._lock:
            self._latency = max(0.0, float(seconds))

    def hold(self, hold: Hold) -> Hold:
        with self._lock:
            self._holds = [h for h in self._holds if not h.released] + [hold]
        return hold

    def holds_for(self, method: str, path: str) -> list[Hold]:
        """The holds this arriving request must wait at (it is counted in each)."""
        with self._lock:
            holds = list(self._holds)
        return [h for h in holds if h.join(method, path)]

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
            self._fail_until = 0.0
            self._latency = 0.0
            holds, self._holds = self._holds, []
        for hold in holds:
            hold.release()

    def current_latency(self) -> float:
        with self._lock:
            return self._latency

    def take(self, method: str, path: str) -> Fault | None:
        """The fault this request suffers, if any (K-request rules first, in the order set)."""
        with self._lock:
            for rule in self._rules:
                if rule.remaining > 0 and rule.matches(method, path):
                    rule.remaining -= 1
                    return rule.fault
            if self.clock() < self._fail_until and (
                    self._fail_prefix is None or path.startswith(self._fail_prefix)):
                return Fault("fail", self._fail_status, page=self._fail_page)
            return None

    def _add(self, fault: Fault, k: int, method, path_prefix) -> None:
        with self._lock:
            self._rules = [r for r in self._rules if r.remaining > 0]
            self._rules.append(_Rule(fault, int(k), method and method.upper(), path_prefix))
