"""plex.edit_split and the client's limit ladder: pure rules as value tables (no server)."""
from urllib.parse import quote

import pytest

from plex.client import REQUEST_LINE_LIMITS, next_limit
from plex.edit_split import ELLIPSIS, longest_beginning, pair_length, split_edits


def query_length(params: dict) -> int:
    return sum(pair_length(k, v) for k, v in params.items())


def scalar(name: str, value: str) -> dict:
    return {f"{name}.value": value, f"{name}.locked": 1}


def tags(name: str, names: list[str]) -> dict:
    params = {f"{name}[{i}].tag.tag": n for i, n in enumerate(names)}
    return {**params, f"{name}.locked": 1}


TYPICAL = {**scalar("title", "A scene"), **scalar("summary", "x" * 1200),
           **scalar("studio", "Studio"), **tags("genre", [f"tag {i}" for i in range(40)])}


@pytest.mark.parametrize("params, budget, expected_puts", [
    (TYPICAL, 100_000, 1),                                    # fits: one PUT, as before
    ({**scalar("summary", "x" * 5000), **tags("genre", ["g" * 50] * 60)}, 7000, 2),
    ({**scalar("summary", "x" * 3000), **scalar("title", "t" * 3000),
      **scalar("studio", "s" * 3000)}, 6200, 2),              # 3+3 | 3: packed, not 3 PUTs
    ({**scalar("a", "x" * 2500), **scalar("b", "x" * 2500), **scalar("c", "x" * 1500),
      **scalar("d", "x" * 1500)}, 4100, 2),                   # exact packing beats greedy order
])
def test_fewest_puts_each_within_the_budget(params, budget, expected_puts):
    split = split_edits(params, budget)
    assert len(split.puts) == expected_puts
    assert all(query_length(put) <= budget for put in split.puts)
    merged = {k: v for put in split.puts for k, v in put.items()}
    assert merged == params and split.cut == {}               # nothing lost, nothing cut


def test_a_value_travels_with_its_lock_and_a_tag_list_stays_whole():
    params = {**scalar("summary", "x" * 3000), **tags("genre", [f"g{i}" for i in range(100)]),
              **scalar("title", "t" * 3000)}
    split = split_edits(params, 3200)
    for put in split.puts:
        fields = {k.split(".")[0].split("[")[0] for k in put}
        for name in fields:
            assert any(k.endswith(".locked") and k.startswith(name) for k in put)
    [genre_put] = [p for p in split.puts if "genre.locked" in p]
    assert sum(k.startswith("genre[") for k in genre_put) == 100


@pytest.mark.parametrize("text, room, expected", [
    ("abcdef", 100, "abcdef"),                                # fits: untouched, no mark
    ("abcdefghijklmnop", 3 + 9, "abc" + ELLIPSIS),            # "…" is 9 quoted bytes
    ("日本語の文章", 9 * 2 + 9, "日本" + ELLIPSIS),             # CJK: 9 bytes per character
    ("日本語の文章", 9 * 2 + 8 + 9, "日本" + ELLIPSIS),          # never half a character
    ("cafe\u0301 noir", 5 + 9, "caf" + ELLIPSIS),             # e and its accent stay together
    ("ab cdefghijklmnop", 3 + 9, "ab" + ELLIPSIS),            # trailing space trimmed
    ("abcdefghijklmnop", 5, ""),                                         # not even the mark fits
])
def test_longest_beginning_cuts_at_a_character_boundary(text, room, expected):
    got = longest_beginning(text, room)
    assert got == expected
    assert len(quote(got, safe="")) <= room


def test_a_field_longer_than_any_url_is_cut_and_reported_once():
    cjk = "長い説明文" * 2000  # 10,000 characters, 90 KB quoted
    split = split_edits({**scalar("summary", cjk), **scalar("title", "T")}, 8000)
    sent = split.cut["summary"]
    assert sent.endswith(ELLIPSIS) and cjk.startswith(sent[:-1])
    assert all(query_length(put) <= 8000 for put in split.puts)
    # The summary keeps its longest beginning (a whole PUT of its own) rather than shrinking
    # further to save the title's PUT: text is worth more than one request.
    assert len(split.puts) == 2 and split.puts[1] == scalar("title", "T")
    # the longest beginning: one more character would not fit
    longer = cjk[: len(sent)] + ELLIPSIS
    assert query_length(scalar("summary", longer)) > 8000


def test_a_tag_list_longer_than_any_url_keeps_its_first_names():
    names = [f"タグ番号{i}" for i in range(300)]
    split = split_edits(tags("genre", names), 4000)
    kept = split.cut["genre"]
    assert kept == names[: len(kept)] and 0 < len(kept) < 300
    assert query_length(split.puts[0]) <= 4000 and "genre.locked" in split.puts[0]


def test_a_long_removal_list_becomes_several_removals_that_remove_everything():
    names = [quote(f"tag number {i}") for i in range(400)]
    params = {"genre[].tag.tag-": ",".join(names), "genre.locked": 1}
    split = split_edits(params, 2000)
    assert len(split.puts) > 1 and split.cut == {}
    removed = [n for put in split.puts for n in put["genre[].tag.tag-"].split(",")]
    assert removed == names
    assert all(query_length(put) <= 2000 and put["genre.locked"] == 1 for put in split.puts)


@pytest.mark.parametrize("refused, known, expected", [
    (30_000, None, 8192),      # first 414: assume nginx's default 8k
    (8192, 8192, 4096),        # 8k refused too: the next smaller buffer
    (5000, None, 4096),
    (8193, None, 8192),
    (1024, 1024, None),        # even 1 KB refused: give up with a clear message
])
def test_limit_ladder_after_a_refusal(refused, known, expected):
    assert next_limit(refused, known) == expected
    assert expected is None or expected in REQUEST_LINE_LIMITS
