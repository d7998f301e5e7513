"""Secrets are hidden whole, and only values long enough to be secrets (issue 12, item 7)."""
import pytest
import requests

from hooks import stash_log
from plex.errors import translate
from validation.config import ConfigError, parse_config
from validation.secrets import MIN_SECRET_CHARS, redact, worth_hiding

MESSAGE = "Max retries exceeded with url: /library/sections?X=1"


@pytest.mark.parametrize("secret, text, expected", [
    ("x", MESSAGE, MESSAGE),                                  # one character: not a secret
    ("e", MESSAGE, MESSAGE),
    ("1234567", "port 1234567", "port 1234567"),              # just below the minimum
    ("pLxTok-7Q2zK9vR4wX1", "token pLxTok-7Q2zK9vR4wX1 refused", "token <redacted> refused"),
    (" padded-secret-1 ", "got padded-secret-1", "got <redacted>"),
    (None, MESSAGE, MESSAGE),
])
def test_redact_value_table(secret, text, expected):
    assert redact(text, [secret]) == expected


def test_a_secret_containing_another_is_hidden_whole():
    api_key, cookie = "apikey-12345678", "session=apikey-12345678-and-more"
    assert redact(f"cookie {cookie}", [api_key, cookie]) == "cookie <redacted>"


def test_worth_hiding_starts_at_the_minimum():
    assert not worth_hiding("a" * (MIN_SECRET_CHARS - 1)) and worth_hiding("a" * MIN_SECRET_CHARS)
    assert not worth_hiding(12345678901)


def test_stash_log_keeps_messages_whole_with_a_one_character_token():
    stash_log.register_secret("x", "e", "s3cr3t-token-42")
    try:
        assert stash_log.scrub(MESSAGE) == MESSAGE
        assert stash_log.scrub("bad s3cr3t-token-42") == "bad <redacted>"
    finally:
        stash_log._secrets.clear()


def test_plex_errors_keep_messages_whole_with_a_one_character_token():
    error = translate(requests.ConnectionError(MESSAGE), secrets=("x",))
    assert "Max retries exceeded" in str(error) and "<redacted>" not in str(error)


def test_config_errors_hide_a_real_token_but_not_single_letters():
    with pytest.raises(ConfigError) as caught:
        parse_config({"plex_url": "s3cr3t-plex-token", "plex_token": "s3cr3t-plex-token"})
    assert "s3cr3t-plex-token" not in str(caught.value) and "<hidden>" in str(caught.value)
    with pytest.raises(ConfigError) as caught:
        parse_config({"plex_url": "nonsense", "plex_token": "n"})
    assert "nonsense" in str(caught.value)
