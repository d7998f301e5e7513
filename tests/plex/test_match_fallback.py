"""The last-resort title fallback of the matcher, through the Plex emulator."""
import pytest

from plex.errors import AmbiguousMatch, ItemNotFound
from tests.plex.test_plex_sync import Rig, scene

RENAMED = "/data/movies/renamed/Encore (remux).mkv"


@pytest.fixture
def rig(plex, plex_library, tmp_path):
    plex.add_item(plex_library.sections["movies"], "Encore", files=[RENAMED])
    return Rig(plex, tmp_path)


def test_title_match_is_low_and_dead_lettered_under_strict(rig):
    with pytest.raises(AmbiguousMatch) as err:
        rig.sync(scene("/stash/library/encore.mp4", title="Encore"))
    assert "found only by title" in str(err.value) and RENAMED in str(err.value)


def test_title_match_is_written_with_a_warning_when_not_strict(rig):
    rig.configure(strict_matching=False)
    result = rig.sync(scene("/stash/library/encore.mp4", title="Encore", details="From Stash"))
    assert result.confidence == "LOW" and "found only by title" in result.warnings[0]
    assert rig.plex.item(result.rating_key)["summary"] == "From Stash"


def test_substring_titles_are_not_candidates(rig):
    rig.configure(trigger_plex_scan=False)
    with pytest.raises(ItemNotFound):
        rig.sync(scene("/stash/library/enc.mp4", title="Enc"))


DOUBLE = "/data/movies/double/Double.mkv"


def test_an_ambiguous_match_is_checked_against_plex_as_it_is_now(rig, plex_library):
    """The person removes the duplicate in Plex and presses Retry: the index still lists both
    items, but the matcher asks Plex about each and picks the one that is left."""
    section = plex_library.sections["movies"]
    keep = rig.plex.add_item(section, "Double", files=[DOUBLE])
    duplicate = rig.plex.add_item(section, "Double (copy)", files=[DOUBLE])
    with pytest.raises(AmbiguousMatch) as err:
        rig.sync(scene(DOUBLE, title="Stash Double"), allow_scan=False)
    assert "several Plex items" in str(err.value)
    rig.plex.remove_item(duplicate)
    result = rig.sync(scene(DOUBLE, title="Stash Double"), allow_scan=False)
    assert result.rating_key == str(keep) and result.confidence == "HIGH"
    assert rig.plex.item(keep)["title"] == "Stash Double"
    assert [e.rating_key for e in rig.index.lookup(DOUBLE)] == [str(keep)]  # index corrected
