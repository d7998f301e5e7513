"""Issue 11 item 15: a poster upload whose response is lost (Plex stored the image, then the
connection reset before the answer) is not sent again blindly. PlexSync asks Plex which
poster the item shows (GET /library/metadata/N/posters, as python-plexapi's posters() does)
and, finding its own upload selected there, counts the job as synced: one POST, not up to
four, and no retry of the job.

A lost answer to an upload that did NOT arrive (the connection reset before Plex read it)
must still be retried: Plex's list then lacks the image and the job is rescheduled.
"""
from __future__ import annotations

import hashlib

from tests.emulators.plex_library import PART_I_FILE
from tests.emulators.stash_fixtures import make_png, png_data_url
from tests.proof_checks import queue_counts, tracebacks

POSTERS = "/library/metadata/{}/posters"


def test_upload_whose_answer_is_lost_is_checked_not_resent(synced):
    env = synced
    env.configure(sync_background="false")
    rating_key = env.plex.find_by_file(PART_I_FILE)[0]
    cover = make_png("cover whose answer is lost")
    env.plex.lose_response_next(1, method="POST", path_prefix=POSTERS.format(rating_key))
    env.edit(env.library.scenes["part1"], cover_image=png_data_url(cover))
    env.wait_drained(timeout=30)

    item = env.plex_item(PART_I_FILE)
    assert item["posterSha1"] == hashlib.sha1(cover).hexdigest()
    posts = env.plex.records("POST", POSTERS.format(rating_key))
    assert [r.fault for r in posts] == ["lose"]  # sent once; its answer never came
    assert env.plex.count("GET", POSTERS.format(rating_key)) == 1  # one look at Plex's list
    assert "retry" not in env.drainer_log() and env.dead_letters() == []
    assert tracebacks(env) == []


def test_upload_lost_before_plex_read_it_is_retried(synced):
    env = synced
    env.configure(sync_background="false")
    rating_key = env.plex.find_by_file(PART_I_FILE)[0]
    cover = make_png("cover that never arrived")
    env.plex.drop_next(1, method="POST", path_prefix=POSTERS.format(rating_key))
    env.edit(env.library.scenes["part1"], cover_image=png_data_url(cover))
    env.wait_drained(timeout=60)

    assert env.plex_item(PART_I_FILE)["posterSha1"] == hashlib.sha1(cover).hexdigest()
    posts = env.plex.records("POST", POSTERS.format(rating_key))
    assert [r.fault for r in posts] == ["drop", None]  # the retry of the job sent it again
    assert "retry 1 in" in env.drainer_log()
    assert env.dead_letters() == [] and queue_counts(env)["scheduled"] == 0
