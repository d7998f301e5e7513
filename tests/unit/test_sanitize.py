"""Sanitiser rules as value tables."""
import pytest

from validation.sanitize import clean_date, clean_text, strip_credentials, unique_names


@pytest.mark.parametrize("raw, expected", [
    ("Plain", "Plain"),
    ("  two   spaces\tand\ttabs ", "two spaces and tabs"),
    ("nul\x00byte", "nulbyte"),
    ("bell\x07 and esc\x1b", "bell and esc"),
    ("rtl \u202eevil\u202c ok", "rtl evil ok"),
    ("\ufeffbom", "bom"),
    ("emoji 👩‍👩‍👧 ✓", "emoji 👩‍👩‍👧 ✓"),
    ("עברית RTL", "עברית RTL"),
    ('"Part I": quotes \'kept\'', '"Part I": quotes \'kept\''),
    ("lone \ud800 surrogate", "lone surrogate"),
    (None, ""),
    (12, "12"),
])
def test_clean_text_single_line(raw, expected):
    assert clean_text(raw, 255) == expected


def test_clean_text_multiline_keeps_newlines_and_caps_length():
    assert clean_text("a\r\nb\rc\n", 100, multiline=True) == "a\nb\nc"
    long = clean_text("x" * 100_000, 10_000, multiline=True)
    assert len(long) == 10_000 and long.endswith("…")


@pytest.mark.parametrize("raw, expected", [
    ("2024-02-29", "2024-02-29"), ("2023-02-29", None), ("2023-13-45", None),
    ("2023-05", "2023-05-01"), ("2023", "2023-01-01"), ("", None), (None, None),
    ("yesterday", None), (" 2020-01-02 ", "2020-01-02"),
])
def test_clean_date(raw, expected):
    assert clean_date(raw) == expected


def test_unique_names_keep_order_and_drop_duplicates():
    assert unique_names(["B", "a", "b", "", None, " A ", "c"], 10) == ["B", "a", "c"]
    assert unique_names([str(i) for i in range(10)], 3) == ["0", "1", "2"]


@pytest.mark.parametrize("raw, expected", [
    ("http://stash:9999/performer/1/image?t=5&apikey=SECRET", "http://stash:9999/performer/1/image?t=5"),
    ("http://user:pw@stash:9999/p/1/image", "http://stash:9999/p/1/image"),
    ("https://x/y?ApiKey=1&session=2", "https://x/y"),
    ("javascript:alert(1)", None), ("", None), (None, None),
])
def test_strip_credentials(raw, expected):
    assert strip_credentials(raw) == expected
