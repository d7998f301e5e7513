"""Issue 11, "Plex data": what real Plex Media Servers send, end to end through both emulators.

Each test edits a scene in the Stash emulator (the hook runs as in Stash), lets the detached
drainer sync it, and checks the Plex emulator, which here sends what real PMS sends: raw
control characters, <Extras> with nested <Video>s, renames that keep ratingKey and updatedAt,
decomposed (NFD) file names, an nginx in front answering 414 above 8 KB, TV-show libraries.
Nothing may end in the dead-letter queue, a retry loop or a silent stop.
"""
import urllib.request

from tests.e2e_fixtures import wait_until
from tests.emulators.plex_library import PART_I_FILE, PART_II_FILE
from tests.emulators.stash_state import make_png

NGINX_LIMIT = 8192  # nginx's default large_client_header_buffers: 414 above this request line


def raw_listing(plex, section) -> bytes:
    request = urllib.request.Request(f"{plex.url}/library/sections/{section}/all?type=1",
                                     headers={"X-Plex-Token": plex.token})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read()


def assert_clean_drain(synced):
    synced.wait_drained(timeout=40)
    assert synced.dead_letters() == []
    assert not synced.plex.errors, synced.plex.errors


# -- 1. control characters -------------------------------------------------------------------

def test_a_raw_control_character_in_another_item_does_not_stop_sync(synced):
    movies = synced.plex_library.sections["movies"]
    synced.plex.add_item(movies, "Bad\x04Title", files=["/data/movies/bad/ctrl.mp4"],
                         summary="Bell\x07 and \x1b escape")
    assert b"Bad\x04Title" in raw_listing(synced.plex, movies)  # sent raw, as PMS does
    synced.edit(synced.library.scenes["part1"], title="Saga I, control chars nearby")
    synced.wait_plex(PART_I_FILE, lambda i: i["title"] == "Saga I, control chars nearby")
    assert_clean_drain(synced)


def test_a_control_character_in_the_scenes_own_item_is_replaced_by_the_sync(synced):
    key = synced.plex.find_by_file(PART_II_FILE)[0]
    synced.plex.set_item(key, title="Saga\x04 Part II", lock=False)
    synced.edit(synced.library.scenes["part2"], title="Saga Part II, clean")
    synced.wait_plex(PART_II_FILE, lambda i: i["title"] == "Saga Part II, clean")
    assert_clean_drain(synced)


# -- 2. request length -----------------------------------------------------------------------

def long_scene(synced, details: str, tag_count: int) -> int:
    tags = [str(synced.stash.add_tag(f"long tag number {n:03d}")) for n in range(tag_count)]
    scene = synced.library.scenes["part1"]
    synced.edit(scene, details=details, tag_ids=tags)
    return scene


def test_behind_nginx_a_long_edit_is_split_into_puts_that_fit_and_nothing_is_lost(synced):
    synced.plex.url_limit = NGINX_LIMIT
    details = ("LongEnglishDetails." * 400)[:7000]  # 7 KB + 40 tags (2 KB): over 8 KB
    long_scene(synced, details, 40)
    item = synced.wait_plex(PART_I_FILE, lambda i: len(i["genres"]) == 40, timeout=30)
    assert item["summary"] == details  # whole: only the PUT was split
    puts = synced.plex.records("PUT", "/library/sections")
    assert [p.status for p in puts].count(414) == 1  # one refusal teaches the limit
    assert [p.status for p in puts if p.status != 414] == [200, 200]  # then 2 PUTs, not more
    assert_clean_drain(synced)


def test_behind_nginx_a_cjk_summary_keeps_its_longest_beginning_and_says_so_once(synced):
    synced.plex.url_limit = NGINX_LIMIT
    details = "日本語の長い説明文です。" * 250  # 3,000 characters, 27 KB once percent-encoded
    scene = long_scene(synced, details, 40)
    item = synced.wait_plex(PART_I_FILE, lambda i: len(i["genres"]) == 40, timeout=30)
    sent = item["summary"]
    assert sent.endswith("…") and details.startswith(sent[:-1]) and len(sent) > 500
    assert all(p.status in (200, 414) for p in synced.plex.records("PUT"))
    assert_clean_drain(synced)
    assert synced.drainer_log().count("only its beginning was sent") == 1
    # The next edit of another field does not send the cut summary again (nor warn again).
    synced.plex.clear_log()
    synced.edit(scene, title="Saga I, long details")
    synced.wait_plex(PART_I_FILE, lambda i: i["title"] == "Saga I, long details")
    assert_clean_drain(synced)
    sent_again = [p for p in synced.plex.records("PUT") if "summary.value" in p.query]
    assert sent_again == []
    assert synced.drainer_log().count("only its beginning was sent") == 1


def test_a_direct_connection_keeps_the_whole_cjk_summary_in_one_put(synced):
    details = "日本語の長い説明文です。" * 250
    long_scene(synced, details, 40)
    item = synced.wait_plex(PART_I_FILE, lambda i: len(i["genres"]) == 40, timeout=30)
    assert item["summary"] == details
    assert len(synced.plex.records("PUT")) == 1
    assert_clean_drain(synced)


# -- 3. renamed files ------------------------------------------------------------------------

def test_a_renamed_file_lands_on_the_same_plex_item(synced):
    synced.edit(synced.library.scenes["part1"], title="Saga I, builds the index")
    synced.wait_plex(PART_I_FILE, lambda i: i["title"] == "Saga I, builds the index")
    synced.wait_drained()
    renamed = "/data/movies/Saga/Saga - Part 2 (2021).mkv"
    key = synced.plex.find_by_file(PART_II_FILE)[0]
    updated_at = synced.plex.item(key)["updatedAt"]
    assert synced.plex.rename_file(PART_II_FILE, renamed) == key
    assert synced.plex.item(key)["updatedAt"] == updated_at  # as real PMS: unchanged
    synced.stash.rescan_scene(synced.library.scenes["part2"], files=[renamed],
                              title="Saga Part II, renamed")
    item = synced.wait_plex(renamed, lambda i: i["title"] == "Saga Part II, renamed")
    assert item["ratingKey"] == key
    assert synced.plex.scans == []  # found, not "not imported yet"
    assert_clean_drain(synced)


# -- 4. unicode ------------------------------------------------------------------------------

def test_a_decomposed_plex_path_matches_a_composed_stash_path(synced):
    movies = synced.plex_library.sections["movies"]
    nfd = "/data/movies/Cafe\u0301/Cre\u0300me bru\u0302le\u0301e.mp4"  # macOS / SMB
    nfc = "/data/movies/Caf\u00e9/Cr\u00e8me br\u00fbl\u00e9e.mp4"      # Linux, as typed
    synced.plex.add_item(movies, "as Plex found it", files=[nfd])
    scene = synced.stash.add_scene("Crème brûlée", files=[nfc])
    synced.edit(scene, title="Crème brûlée, synced")
    synced.wait_plex(nfd, lambda i: i["title"] == "Crème brûlée, synced")
    assert synced.plex.scans == []
    assert_clean_drain(synced)


# -- 5. actor photos -------------------------------------------------------------------------

def test_actor_photos_use_the_address_plex_reaches_stash_at_or_none(synced):
    ann = synced.library.performers["Ann Able"]
    synced.stash.set_performer_image(ann, make_png("Ann", 2, 3))
    scene = synced.library.scenes["part1"]
    synced.edit(scene, title="Saga I, no photo setting")
    synced.wait_plex(PART_I_FILE, lambda i: i["title"] == "Saga I, no photo setting")
    [put] = synced.plex.records("PUT")
    assert not [k for k in put.query if k.endswith(".tag.thumb")]  # never 127.0.0.1 for Plex
    synced.wait_drained()  # the next drainer reads the new setting
    synced.configure(stash_url_for_plex="http://stash.lan:9999")
    synced.edit(scene, title="Saga I, photos on")
    item = synced.wait_plex(PART_I_FILE, lambda i: i["title"] == "Saga I, photos on")
    ann_thumb = next(a["thumb"] for a in item["actors"] if a["tag"] == "Ann Able")
    assert ann_thumb.startswith(f"http://stash.lan:9999/performer/{ann}/image?t=")
    thumbs = [v for put in synced.plex.records("PUT") for k, v in put.query.items()
              if k.endswith(".tag.thumb")]
    assert thumbs == [ann_thumb]  # Bob has no image in Stash: its placeholder is no photo
    assert synced.stash.url not in str(item) and "apikey" not in ann_thumb
    assert_clean_drain(synced)


# -- 6. TV-show libraries --------------------------------------------------------------------

def test_a_tv_show_library_is_refused_in_the_log_and_in_health_check(synced):
    synced.plex.add_section("TV Shows", type="show", location="/data/tv")
    synced.configure(plex_libraries="Movies, TV Shows")  # before any drainer starts
    synced.edit(synced.library.scenes["part1"], title="Saga I, next to a show library")
    synced.wait_plex(PART_I_FILE, lambda i: i["title"] == "Saga I, next to a show library")
    assert_clean_drain(synced)
    assert synced.drainer_log().count("'TV Shows' is a TV-show library") == 1
    result = synced.runner.run_task("health_check", timeout=60)
    line = next(n for n in result.output.splitlines() if "TV Shows" in n)
    assert line.startswith("  ✗ Plex library 'TV Shows' is a TV-show library (its items are "
                           "episodes)")
    assert "fix: Remove it from Plex libraries (plex_libraries)" in line


# -- 7. nested <Video> -----------------------------------------------------------------------

def test_an_item_with_extras_syncs_and_its_trailer_is_no_library_item(synced):
    key = synced.plex.find_by_file(PART_I_FILE)[0]
    trailer = "/data/movies/Saga/Trailers/Saga Part I-trailer.mp4"
    synced.plex.set_item(key, extras=[{"title": "Trailer", "file": trailer}], lock=False)
    synced.edit(synced.library.scenes["part1"], title="Saga I, with extras")
    synced.wait_plex(PART_I_FILE, lambda i: i["title"] == "Saga I, with extras")
    # A Stash scene for the trailer file: Plex has no library item for it, so it is "not
    # imported yet" (a scan is asked for), never written onto the extra or its parent.
    trailer_scene = synced.stash.add_scene("Saga Trailer", files=[trailer])
    synced.edit(trailer_scene, title="Saga Trailer!")
    wait_until(lambda: synced.plex.scans, 30, what="a scan for the trailer's folder")
    assert synced.plex.item(key)["title"] == "Saga I, with extras"
    assert synced.dead_letters() == []
