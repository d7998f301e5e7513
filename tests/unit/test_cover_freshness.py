"""The cover-download skip rule (issue 13 item 4): Stash's screenshot URL carries the scene's
updated_at in whole seconds; a cover fetched in a later second is still the current one."""
import hashlib

import pytest

from plex.cover_freshness import cover_still_current, url_stamp
from plex.sync import sync_scene

SHA = hashlib.sha1(b"cover").hexdigest()
URL = "http://stash:9999/scene/7/screenshot?t=1000"


def ours(fetched_at=1001.2, url=URL, poster=SHA, art=SHA):
    return {"cover_fetched_at": fetched_at, "cover_url": url, "poster_sha1": poster,
            "art_sha1": art}


@pytest.mark.parametrize("cover_url, record, current", [
    (URL, ours(), True),                                           # fetched a second later
    (URL, ours(fetched_at=1000.99), False),                        # same second: may predate
    (URL, ours(fetched_at=999.5), False),                          # before the change
    ("http://stash:9999/scene/7/screenshot?t=1001", ours(), False),  # changed since the fetch
    ("http://stash:9999/scene/7/screenshot?t=900", ours(url="http://stash:9999/scene/7/screenshot?t=800"), True),
    ("http://stash:9999/scene/8/screenshot?t=900", ours(), False),   # another scene's cover
    ("http://stash:9999/scene/7/screenshot", ours(), False),         # no stamp: cannot tell
    (URL, ours(fetched_at=None), False),                           # record from before the rule
    (URL, ours(art=None), False),                                  # background never uploaded
    (URL, {}, False),
    (URL, ours(poster=None, art=None), False),  # no cover yet: Stash may generate it later
])
def test_skip_rule(cover_url, record, current):
    assert cover_still_current(cover_url, record, ["poster", "art"]) is current


def test_url_stamp():
    assert url_stamp(URL) == 1000
    assert url_stamp("http://s/scene/1/screenshot?t=abc") is None
    assert url_stamp(None) is None


def test_a_current_cover_is_not_downloaded_again_and_a_same_second_one_is(plex, plex_library,
                                                                          tmp_path):
    from tests.plex.test_plex_sync import PART_I_FILE, Rig, scene
    rig = Rig(plex, tmp_path)
    old = "http://stash/scene/42/screenshot?t=1000"  # updated long before any fetch
    rig.images[old] = b"\x89PNG old cover"
    rig.sync(scene(PART_I_FILE, cover_url=old))
    assert rig.fetched == [old] and rig.record["cover_fetched_at"] > 1001
    rig.sync(scene(PART_I_FILE, cover_url=old, title="edited"))
    assert rig.fetched == [old]  # no second download
    plex.clear_log()
    future = f"http://stash/scene/42/screenshot?t={int(rig.record['cover_fetched_at']) + 5}"
    rig.images[future] = b"\x89PNG replaced"  # t not before the fetch second: fetched again
    assert rig.sync(scene(PART_I_FILE, cover_url=future, title="edited")).summary == \
        "poster, background"
    assert rig.fetched == [old, future] and plex.count("POST") == 2
