"""path_map and path comparison: value tables (pure, no I/O)."""
import pytest

from plex.paths import basename, basename_key, is_under, map_path, parent_folder, path_key

# The same names as macOS / SMB hand them out (decomposed) and as Linux keeps them (composed).
NFD_CAFE, NFC_CAFE = "Cafe\u0301", "Caf\u00e9"

DOCKER = (("/data", "/media"), ("/data/movies", "/mnt/movies"), ("/stash", "/plex"))
WINDOWS = (("/data", "D:\\Videos"),)


@pytest.mark.parametrize("stash_path, path_map, plex_path", [
    # Docker: Stash and Plex mount one share under different names.
    ("/data/a/b.mp4", DOCKER, "/media/a/b.mp4"),
    # Longest prefix wins whatever the order the pairs were typed in.
    ("/data/movies/x.mp4", DOCKER, "/mnt/movies/x.mp4"),
    ("/data/movies/x.mp4", tuple(reversed(DOCKER)), "/mnt/movies/x.mp4"),
    # Whole components only: /data is not a prefix of /database or /data2.
    ("/database/x.mp4", DOCKER, "/database/x.mp4"),
    ("/data2/x.mp4", DOCKER, "/data2/x.mp4"),
    # Trailing slashes in the setting do not matter.
    ("/stash/x.mp4", (("/stash/", "/plex/"),), "/plex/x.mp4"),
    # Linux Stash, Windows Plex: the remainder takes the Plex side's separators.
    ("/data/sub/Clip.MP4", WINDOWS, "D:\\Videos\\sub\\Clip.MP4"),
    # Windows Stash: drive letter and folder case do not matter, file name case is kept.
    ("d:/videos/A.mp4", (("D:\\Videos", "/media"),), "/media/A.mp4"),
    ("D:\\Videos\\Sub\\A.mp4", (("d:/videos", "/media"),), "/media/Sub/A.mp4"),
    ("D:\\VideosX\\A.mp4", (("d:/videos", "/media"),), "D:\\VideosX\\A.mp4"),
    # UNC shares.
    ("\\\\nas\\share\\a.mp4", (("//NAS/share", "/mnt/nas"),), "/mnt/nas/a.mp4"),
    # No map, or no matching prefix: the path is used as it is.
    ("/x/y.mp4", (), "/x/y.mp4"),
    # A root prefix maps everything (and loses to any longer one).
    ("/x/y.mp4", (("/", "/root"),), "/root/x/y.mp4"),
    ("/data/y.mp4", (("/", "/root"), ("/data", "/d")), "/d/y.mp4"),
    # A prefix typed composed matches a path that arrives decomposed (and the other way);
    # the rest keeps Stash's own spelling.
    (f"/Volumes/{NFD_CAFE}/a.mp4", ((f"/Volumes/{NFC_CAFE}", "/media"),), "/media/a.mp4"),
    (f"/data/{NFC_CAFE}/{NFD_CAFE}.mp4", ((f"/data/{NFD_CAFE}", "/m"),), f"/m/{NFD_CAFE}.mp4"),
])
def test_map_path(stash_path, path_map, plex_path):
    assert map_path(stash_path, path_map) == plex_path


@pytest.mark.parametrize("a, b, same", [
    ("D:\\Videos\\A.mp4", "d:/videos/A.mp4", True),   # Windows: case-insensitive
    ("D:\\Videos\\A.mp4", "d:/videos/a.mp4", True),
    ("/media/A.mp4", "/media/a.mp4", False),          # POSIX: case-sensitive
    ("/media//sub/./A.mp4", "/media/sub/A.mp4", True),
    ("/media/A.mp4", "media/A.mp4", False),           # absolute is not relative
    ("\\\\nas\\share\\a.mp4", "//NAS/Share/A.mp4", True),
    ("/media/Part I.mp4", "/media/Part II.mp4", False),
    (f"/media/{NFD_CAFE}/{NFD_CAFE}.mp4", f"/media/{NFC_CAFE}/{NFC_CAFE}.mp4", True),  # NFD/NFC
    (f"D:\\{NFD_CAFE}\\a.mp4", f"d:/{NFC_CAFE.lower()}/a.mp4", True),
])
def test_path_key_equality(a, b, same):
    assert (path_key(a) == path_key(b)) is same


@pytest.mark.parametrize("path, folder, inside", [
    ("/media/movies/a.mp4", "/media/movies", True),
    ("/media/movies/a.mp4", "/media/movies/", True),
    ("/media/movies2/a.mp4", "/media/movies", False),
    ("D:\\Videos\\a.mp4", "d:\\videos", True),
    ("/media/a.mp4", "/media/movies", False),
    (f"/media/{NFD_CAFE}/a.mp4", f"/media/{NFC_CAFE}", True),
])
def test_is_under(path, folder, inside):
    assert is_under(path, folder) is inside


@pytest.mark.parametrize("path, folder, name", [
    ("/media/movies/a.mp4", "/media/movies", "a.mp4"),
    ("D:\\Videos\\a.mp4", "D:\\Videos", "a.mp4"),
    ("D:\\a.mp4", "D:\\", "a.mp4"),
    ("/a.mp4", "/", "a.mp4"),
])
def test_parent_folder_and_basename(path, folder, name):
    assert parent_folder(path) == folder
    assert basename(path) == name


def test_basename_key_is_the_same_for_both_unicode_forms():
    assert basename_key(f"/a/{NFD_CAFE}.MP4") == basename_key(f"D:\\b\\{NFC_CAFE}.mp4")
