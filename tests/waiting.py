"""Polling for an asynchronous outcome (a detached drainer's work): tests and bench share it."""
from __future__ import annotations

import time


def wait_until(predicate, timeout: float = 60.0, interval: float = 0.05, what: str = "condition"):
    """Poll until predicate() is truthy and return its value; TimeoutError naming `what`.

    `timeout` only bounds a failure: a passing test returns as soon as the predicate holds, so
    make it generous (a busy 2-core CI machine starts a Python process in seconds)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)
