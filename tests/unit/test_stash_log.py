"""Stash's plugin log protocol and the secret scrubber."""
import io
import logging

import pytest

from hooks import stash_log


@pytest.fixture
def stream():
    out = io.StringIO()
    stash_log.install_stash_logging(debug=True, stream=out)
    yield out
    logging.getLogger().handlers.clear()


@pytest.mark.parametrize("level, code", [
    (logging.DEBUG, "d"), (logging.INFO, "i"), (logging.WARNING, "w"), (logging.ERROR, "e"),
    (logging.CRITICAL, "e"),
])
def test_levels_map_to_stash_codes(stream, level, code):
    logging.getLogger("plexsync.test").log(level, "hello")
    assert stream.getvalue() == f"\x01{code}\x02hello\n"


def test_below_debug_is_trace():
    assert stash_log._level_code(5) == "t"


def test_multiline_messages_become_one_protocol_line_each(stream):
    logging.getLogger("x").warning("one\ntwo")
    assert stream.getvalue() == "\x01w\x02one\n\x01w\x02two\n"


def test_long_lines_are_capped_below_stash_reader_limit(stream):
    logging.getLogger("x").info("d" * 100_000)
    line = stream.getvalue()
    assert len(line.encode()) < 64 * 1024 and "more characters" in line


def test_registered_secrets_never_reach_the_log(stream):
    stash_log.register_secret("s3cr3t-token", None, "ab")
    logging.getLogger("x").error("GET http://plex/?X-Plex-Token=s3cr3t-token failed")
    assert "s3cr3t-token" not in stream.getvalue() and "<redacted>" in stream.getvalue()
    assert stash_log.scrub("ab stays") == "ab stays"  # too short to be a secret


@pytest.mark.parametrize("fraction, shown", [(0.5, "0.500"), (-1, "0.000"), (7, "1.000")])
def test_progress(fraction, shown):
    out = io.StringIO()
    stash_log.progress(fraction, stream=out)
    assert out.getvalue() == f"\x01p\x02{shown}\n"


def test_file_logging_rotates_in_the_data_dir(tmp_path):
    path = stash_log.install_file_logging(tmp_path)
    logging.getLogger("x").info("to the file")
    logging.getLogger().handlers[0].flush()
    assert path == tmp_path / "drainer.log" and "to the file" in path.read_text()
    logging.getLogger().handlers.clear()
