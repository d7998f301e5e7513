"""Issue 19, item 5 on the REAL Stash (../shared/stash-server): a scene scanned with cover
generation off is synced without a poster; Stash's Generate > Covers job, which fires no
hook, later stores its cover, and the cover watch (worker/cover_watch.py, shipped pace) brings
it to Plex with nothing else written. How long that takes (the 15 s goal) is measured by
bench/late_cover_real_stash.py; this test prints the time of its own round.

Skips with the reason when the real Stash or ffmpeg is missing.
"""
from __future__ import annotations

import pytest

from tests.plays.real_stash_support import unavailable_reason
from tests.real_stash.late_cover import late_cover_round, start_world, stop_world


@pytest.fixture
def world(tmp_path):
    reason = unavailable_reason()
    if reason:
        pytest.skip(f"real Stash late-cover test skipped: {reason}")
    world = start_world(tmp_path)
    try:
        yield world
    finally:
        stop_world(world)
    assert not world.plex.errors, world.plex.errors


def test_the_cover_stash_generates_later_reaches_plex_and_nothing_else_is_written(world):
    done = late_cover_round(world)
    assert done["poster_before"] is None and done["awaited"]   # synced with the placeholder
    assert done["content_type"] == "image/jpeg"                # Stash generated a real cover
    assert done["puts"] == 0                                   # only the images were sent
    print(f"\ngenerated cover in Plex {done['seconds']:.2f} s after Stash's generate job ended")
