"""worker.cover_watch's pure rules as value tables: which id ranges one question asks about,
and when the watch stops (injected times, no clock)."""
from __future__ import annotations

import pytest

from worker.cover_watch import id_ranges, watch_ends_at

T = 1_750_000_000.0


@pytest.mark.parametrize("ids, max_ranges, expected", [
    (["7"], 10, [(7, 7)]),
    (["3", "1", "2"], 10, [(1, 3)]),                        # a scan's consecutive new scenes
    (["1", "2", "9", "10"], 10, [(1, 2), (9, 10)]),
    (["1", "2", "9", "10", "40"], 2, [(1, 10), (40, 40)]),  # the closest neighbours join first
    (["1", "50", "52", "100"], 1, [(1, 100)]),
    (["5", "5", "6"], 10, [(5, 6)]),                         # duplicates count once
    ([], 10, []),
])
def test_one_question_asks_about_few_ranges(ids, max_ranges, expected):
    assert id_ranges(ids, max_ranges) == expected


@pytest.mark.parametrize("newest, job_seen, expected", [
    (T, None, T + 600),                       # the window after the newest placeholder sync
    (T, T + 100, T + 600),                    # a job inside the window changes nothing
    (T, T + 580, T + 640),                    # a job near its end: on until 60 s after it
    (T, T + 3590, T + 3600),                  # never past the cap
    (T + 50, T + 10, T + 650),                # a newer placeholder sync moves the window
])
def test_the_watch_ends_after_its_window_or_the_last_stash_job(newest, job_seen, expected):
    assert watch_ends_at(newest, job_seen, window=600, after_job=60, cap=3600) == expected
