"""plex/index_xml.parse_body on pages written by hand: what PMS sends, odd bytes included.
(Pages as the emulator renders them are read end to end in test_plex_index.py.)"""
import pytest

from plex.errors import PlexUnavailable
from plex.index_xml import parse_body


def page(*videos: str, total: int | None = None) -> bytes:
    size = len(videos) if total is None else total
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<MediaContainer size="{len(videos)}" '
            f'totalSize="{size}" offset="0">' + "".join(videos) + "</MediaContainer>").encode()


def video(rk: int, title: str, files=(), inner: str = "", updated: int = 1700000000) -> str:
    parts = "".join(f'<Media id="{rk}{n}"><Part id="{rk}{n}" file="{f}"/></Media>'
                    for n, f in enumerate(files))
    return (f'<Video ratingKey="{rk}" title="{title}" type="movie" updatedAt="{updated}">'
            f"{parts}{inner}</Video>")


def items(body: bytes) -> list[tuple]:
    return [(v.rating_key, v.title, v.updated_at, v.files) for v in parse_body(body).videos]


def test_items_files_and_total():
    body = page(video(1, "One", ["/m/a.mkv"]), video(2, "Two", ["/m/cd1.mkv", "/m/cd2.mkv"]),
                video(3, "No file yet"), total=40)
    assert items(body) == [("1", "One", 1700000000, ["/m/a.mkv"]),
                           ("2", "Two", 1700000000, ["/m/cd1.mkv", "/m/cd2.mkv"]),
                           ("3", "No file yet", 1700000000, [])]
    assert parse_body(body).total == 40


@pytest.mark.parametrize("holder", ["Extras", "Related", "Hub", "SomethingNew"])
def test_videos_nested_in_an_item_are_not_items_and_their_files_not_its_files(holder):
    trailer = video(900, "Trailer", ["/m/Trailers/t.mp4"], inner='<Genre tag="x"/>')
    nested = f'<{holder} size="2">{trailer}<{holder}>{video(901, "Deeper", ["/m/d.mp4"])}' \
             f'</{holder}>{video(902, "Clip", ["/m/c.mp4"])}</{holder}>'
    body = page(video(1, "Movie", ["/m/movie.mkv"], inner=nested), video(2, "Next", ["/m/n.mkv"]))
    assert items(body) == [("1", "Movie", 1700000000, ["/m/movie.mkv"]),
                           ("2", "Next", 1700000000, ["/m/n.mkv"])]


def test_only_videos_directly_in_the_container_are_items():
    meta = (f'<Meta><Type key="x"><Sort key="y"/></Type></Meta>'
            f'<Directory>{video(5, "Dir")}</Directory>')
    body = page(video(1, "One", ["/m/a.mkv"]))
    body = body.replace(b'offset="0">', f'offset="0">{meta}'.encode())
    assert items(body) == [("1", "One", 1700000000, ["/m/a.mkv"])]
    assert parse_body(body).total == 1


@pytest.mark.parametrize("raw_title, read_as", [
    ("Bad\x04Title", "BadTitle"),                # raw C0 control: XML forbids it, PMS sends it
    ("Bell&#7;s", "Bells"),                      # the same as a character reference
    ("Ref&#x1F;hex", "Refhex"),
    ("Tab&#9;ok &amp; &lt;fine&gt; &quot;q&quot;", 'Tab\tok & <fine> "q"'),  # allowed: kept
])
def test_what_xml_forbids_is_dropped_like_plexapi_and_the_rest_of_the_page_read(raw_title,
                                                                               read_as):
    body = page(video(1, "Good", ["/m/good.mkv"]), video(2, raw_title, ["/m/odd.mkv"]))
    assert items(body) == [("1", "Good", 1700000000, ["/m/good.mkv"]),
                           ("2", read_as, 1700000000, ["/m/odd.mkv"])]


def test_a_file_name_that_is_not_utf8_is_read_with_a_replacement_character():
    body = page(video(1, "Latin-1", ["/m/caf__.mkv"])).replace(b"caf__", b"caf\xe9")
    assert items(body) == [("1", "Latin-1", 1700000000, ["/m/caf\ufffd.mkv"])]


def test_a_page_cut_short_is_a_dropped_connection():
    body = page(video(1, "One", ["/m/a.mkv"]), video(2, "Two", ["/m/b.mkv"]))
    with pytest.raises(PlexUnavailable, match="cannot reach Plex"):
        parse_body(body[: len(body) // 2])
