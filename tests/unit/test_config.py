"""Config parsing: value tables, one clear error naming the setting."""
import pytest

from validation.config import (SETTINGS, Config, ConfigError, MissingSettings, data_dir_for,
                               parse_config, setting_label)

BASE = {"plex_url": "http://plex:32400", "plex_token": "tok-123456"}


def test_defaults_when_keys_absent():
    cfg = parse_config(BASE)
    assert cfg == Config(plex_url="http://plex:32400", plex_token="tok-123456")
    assert (cfg.strict_matching, cfg.preserve_plex_edits, cfg.max_retries, cfg.max_tags) == (True, False, 5, 100)


def test_every_setting_is_a_config_field_with_the_same_default():
    fields = Config.__dataclass_fields__
    assert [s.name for s in SETTINGS] == list(fields)
    for setting in SETTINGS:
        if setting.default is not None:
            assert fields[setting.name].default == setting.default, setting.name


@pytest.mark.parametrize("raw, expected", [
    ({"strict_matching": False}, False), ({"strict_matching": "false"}, False),
    ({"strict_matching": "TRUE"}, True), ({"strict_matching": 1}, True),
])
def test_booleans(raw, expected):
    assert parse_config({**BASE, **raw}).strict_matching is expected


@pytest.mark.parametrize("raw, expected", [
    ("/data => /media", (("/data", "/media"),)),
    ("/a => /b; D:\\Videos => /mnt/v", (("/a", "/b"), ("D:\\Videos", "/mnt/v"))),
    (" ; /a=>/b ;", (("/a", "/b"),)),
    ("", ()),
])
def test_path_map(raw, expected):
    assert parse_config({**BASE, "path_map": raw}).path_map == expected


@pytest.mark.parametrize("raw, setting, fragment", [
    ({}, "plex_url", "are required"),
    ({"plex_url": "http://x"}, "plex_token", "is required"),
    ({**BASE, "plex_url": "plex:32400"}, "plex_url", "http://host:32400"),
    ({**BASE, "max_retries": "many"}, "max_retries", "whole number"),
    ({**BASE, "max_retries": -1}, "max_retries", "at least 0"),
    ({**BASE, "read_timeout": 0}, "read_timeout", "at least"),
    ({**BASE, "path_map": "/a -> /b"}, "path_map", "'=>'"),
    ({**BASE, "verify_tls": "maybe"}, "verify_tls", "true or false"),
])
def test_bad_settings_name_the_setting(raw, setting, fragment):
    with pytest.raises(ConfigError) as err:
        parse_config(raw)
    assert err.value.setting == setting
    # named as Stash's settings page shows it, the key in brackets
    assert f"{setting_label(setting)} ({setting})" in str(err.value) and fragment in str(err.value)


def test_missing_settings_are_named_together_once():
    with pytest.raises(MissingSettings) as err:
        parse_config({"plex_url": "  ", "max_retries": "many"})
    assert err.value.missing == ("plex_url", "plex_token")
    text = str(err.value)
    assert text.startswith("Plex URL (plex_url) and Plex token (plex_token) are required; set "
                           "them in Stash: Settings > Plugins > PlexSync")
    assert "View XML" in text and text.count("required") == 1


@pytest.mark.parametrize("key, label", [
    ("plex_token", "Plex token"), ("strict_matching", "Strict matching"),
    ("dlq_retention_days", "Keep failed syncs"), ("no_such_key", "no_such_key"),
])
def test_setting_label_is_the_settings_page_name_without_the_default_note(key, label):
    assert setting_label(key) == label


def test_token_never_in_errors_or_redacted_view():
    with pytest.raises(ConfigError) as err:
        parse_config({"plex_url": "http://x", "plex_token": 12345678})
    assert "12345678" not in str(err.value)
    cfg = parse_config(BASE)
    assert "tok-123456" not in repr(cfg.redacted())
    assert cfg.token_fingerprint == parse_config(BASE).token_fingerprint


def test_numbers_from_stash_floats_and_strings():
    cfg = parse_config({**BASE, "max_retries": 3.0, "connect_timeout": "2.5", "plex_libraries": "Movies, Scenes ,"})
    assert (cfg.max_retries, cfg.connect_timeout, cfg.plex_libraries) == (3, 2.5, ("Movies", "Scenes"))


def test_data_dir(monkeypatch, tmp_path):
    monkeypatch.delenv("PLEXSYNC_DATA_DIR", raising=False)
    assert data_dir_for(tmp_path) == tmp_path / "data"
    monkeypatch.setenv("PLEXSYNC_DATA_DIR", str(tmp_path / "x"))
    assert data_dir_for("/elsewhere") == tmp_path / "x"
