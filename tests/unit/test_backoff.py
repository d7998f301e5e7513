"""Backoff value tables: full jitter uniform(0, min(cap, base * 2**attempt)), injected rng."""
import random

import pytest

from validation.config import parse_config
from worker.backoff import (AFTER_SCAN, NOT_FOUND, STANDARD, ceiling, full_jitter,
                            standard_for)


def upper(lo, hi):
    return hi


def lower(lo, hi):
    return lo


@pytest.mark.parametrize("attempt, expected", [
    (0, 5), (1, 10), (2, 20), (3, 40), (4, 80), (5, 80), (12, 80)])
def test_standard_ceilings(attempt, expected):
    assert ceiling(attempt, STANDARD.base, STANDARD.cap) == expected
    assert STANDARD.delay(attempt, upper) == expected


@pytest.mark.parametrize("attempt, expected", [
    (0, 30), (1, 60), (2, 120), (3, 240), (4, 480), (5, 600), (11, 600)])
def test_not_found_ceilings(attempt, expected):
    assert NOT_FOUND.delay(attempt, upper) == expected


@pytest.mark.parametrize("attempt, low, high", [
    (0, 0.5, 1), (1, 0.5, 1), (2, 1, 2), (5, 1.5, 3), (9, 4, 8),  # short polls, equal jitter
    (10, 0, 30), (11, 0, 60), (15, 0, 600)])                      # then NOT_FOUND, full jitter
def test_after_scan_polls_soon_then_falls_back_to_the_long_schedule(attempt, low, high):
    assert AFTER_SCAN.delay(attempt, lower) == low
    assert AFTER_SCAN.delay(attempt, upper) == high


def test_after_scan_short_window_and_budget():
    assert sum(AFTER_SCAN.short) <= 32  # the window before the long schedule
    assert not AFTER_SCAN.exhausted(22) and AFTER_SCAN.exhausted(23)


def test_full_jitter_draws_from_zero_to_the_ceiling():
    seen = []
    full_jitter(3, 5, 80, rng=lambda lo, hi: seen.append((lo, hi)) or 0.0)
    assert seen == [(0.0, 40)]
    assert full_jitter(3, 5, 80, rng=lower) == 0.0
    rng = random.Random(7)
    draws = [full_jitter(2, 5, 80, rng.uniform) for _ in range(2000)]
    assert all(0.0 <= d <= 20.0 for d in draws)
    assert min(draws) < 2.0 and max(draws) > 18.0  # spread over the whole range, not a step


@pytest.mark.parametrize("schedule, failures, exhausted", [
    (STANDARD, 1, False), (STANDARD, 5, False), (STANDARD, 6, True),
    (NOT_FOUND, 12, False), (NOT_FOUND, 13, True)])
def test_retry_budget(schedule, failures, exhausted):
    assert schedule.exhausted(failures) is exhausted


def test_standard_takes_max_retries_from_the_config():
    cfg = parse_config({"plex_url": "http://plex:32400", "plex_token": "t0ken", "max_retries": 2})
    schedule = standard_for(cfg.max_retries)
    assert (schedule.base, schedule.cap, schedule.max_retries) == (5.0, 80.0, 2)
    assert schedule.exhausted(3) and not schedule.exhausted(2)
    assert STANDARD.max_retries == 5 and NOT_FOUND.max_retries == 12
    assert standard_for(0).exhausted(1)  # max_retries 0: the first failure is final
