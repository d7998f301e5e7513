"""PlexSync settings: parsed once from Stash's plugin settings into a frozen Config.

Stdlib only on purpose: this runs on the hook path, whose whole budget (150 ms) is smaller than
the import cost of pydantic plus a model build (measured +110 ms over a 60 ms interpreter floor).
Each setting is declared once in SETTINGS; the parser, the docs test and the manifest test all
read that table, so a setting cannot be documented or parsed in one place and not the other.
"""
from __future__ import annotations

import dataclasses
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

PLUGIN_ID = "PlexSync"


class ConfigError(ValueError):
    """A setting is missing or malformed; str() names the setting and the fix."""

    def __init__(self, setting: str, message: str):
        super().__init__(f"setting '{setting}': {message}")
        self.setting = setting


@dataclass(frozen=True)
class Setting:
    name: str
    kind: str  # "str", "bool", "int", "float", "list", "path_map"
    default: object
    help: str
    minimum: float | None = None


SETTINGS: tuple[Setting, ...] = (
    Setting("plex_url", "str", None, "Plex server URL, e.g. http://192.168.1.10:32400 (required)"),
    Setting("plex_token", "str", None, "Plex authentication token, X-Plex-Token (required)"),
    Setting("plex_libraries", "list", (), "Comma list of Plex library titles; empty = every movie library"),
    Setting("path_map", "path_map", (), "Stash path prefix => Plex path prefix, ';' between pairs: '/data => /media; D:\\ => /mnt/d'"),
    Setting("strict_matching", "bool", True, "Never write a low-confidence match; dead-letter it with the candidates"),
    Setting("preserve_plex_edits", "bool", False, "Keep fields a person changed in Plex since PlexSync last wrote them"),
    Setting("verify_tls", "bool", True, "Verify Plex's HTTPS certificate"),
    Setting("trigger_plex_scan", "bool", True, "Ask Plex to scan the folder of a file it does not know yet"),
    Setting("skip_not_found", "bool", False, "Record and skip scenes whose file Plex does not have, instead of retrying"),
    Setting("max_retries", "int", 5, "Retries for a transient Plex error before dead-lettering", minimum=0),
    Setting("connect_timeout", "float", 5.0, "Seconds to wait for a connection to Plex", minimum=0.1),
    Setting("read_timeout", "float", 30.0, "Seconds to wait for Plex to answer", minimum=0.1),
    Setting("max_tags", "int", 100, "Most Stash tags sent as Plex genres", minimum=0),
    Setting("enabled", "bool", True, "Master switch: false = hooks queue nothing"),
    Setting("debug_logging", "bool", False, "Log debug lines to Stash's log"),
    Setting("dlq_retention_days", "int", 30, "Days a dead letter is kept", minimum=1),
    Setting("sync_title", "bool", True, "Sync the title"),
    Setting("sync_summary", "bool", True, "Sync details as the summary"),
    Setting("sync_studio", "bool", True, "Sync the studio"),
    Setting("sync_date", "bool", True, "Sync the date as originally available"),
    Setting("sync_performers", "bool", True, "Sync performers as actors"),
    Setting("sync_tags", "bool", True, "Sync tags as genres"),
    Setting("sync_collections", "bool", True, "Sync studio (+ parent) and groups as collections"),
    Setting("sync_poster", "bool", True, "Upload the scene cover as the poster"),
    Setting("sync_background", "bool", True, "Upload the scene cover as the background art"),
)

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off", ""}


@dataclass(frozen=True)
class Config:
    plex_url: str
    plex_token: str
    plex_libraries: tuple[str, ...] = ()
    path_map: tuple[tuple[str, str], ...] = ()
    strict_matching: bool = True
    preserve_plex_edits: bool = False
    verify_tls: bool = True
    trigger_plex_scan: bool = True
    skip_not_found: bool = False
    max_retries: int = 5
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    max_tags: int = 100
    enabled: bool = True
    debug_logging: bool = False
    dlq_retention_days: int = 30
    sync_title: bool = True
    sync_summary: bool = True
    sync_studio: bool = True
    sync_date: bool = True
    sync_performers: bool = True
    sync_tags: bool = True
    sync_collections: bool = True
    sync_poster: bool = True
    sync_background: bool = True

    def redacted(self) -> dict:
        """The settings as a dict that is safe to log: the token is replaced by its fingerprint."""
        values = dataclasses.asdict(self)
        values["plex_token"] = f"<redacted {self.token_fingerprint}>"
        return values

    @property
    def libraries_fingerprint(self) -> str:
        """A short id of the library choice, to tell 'same wrong plex_libraries' from 'fixed'."""
        basis = "\n".join([self.plex_url, *sorted(t.casefold() for t in self.plex_libraries)])
        return hashlib.sha256(basis.encode()).hexdigest()[:10]

    @property
    def token_fingerprint(self) -> str:
        """A short, non-reversible id of the token, to tell 'same wrong token' from 'fixed'."""
        return hashlib.sha256(self.plex_token.encode()).hexdigest()[:10]


def parse_config(settings: dict | None) -> Config:
    """Build the frozen Config from Stash's settings map; unset keys take their defaults."""
    settings = settings or {}
    try:
        return _parse_settings(settings)
    except ConfigError as exc:
        raise _without_token(exc, settings.get("plex_token")) from None


def _without_token(exc: ConfigError, token: object) -> ConfigError:
    """Errors quote the value they reject, which may be the token pasted into the wrong
    setting; the message goes to Stash's log, so the token is cut out of it."""
    token = token.strip() if isinstance(token, str) else ""
    if len(token) >= 4 and token in str(exc):
        exc.args = (str(exc).replace(token, "<hidden>"),)
    return exc


def _parse_settings(settings: dict) -> Config:
    values = {}
    for setting in SETTINGS:
        raw = settings.get(setting.name)
        if raw is None or (raw == "" and setting.default is None):
            if setting.default is None:
                raise ConfigError(setting.name, f"is required: {setting.help}. "
                                  "Set it in Stash: Settings > Plugins > PlexSync.")
            continue
        values[setting.name] = _parse_value(setting, raw)
    values["plex_url"] = _check_url(values["plex_url"])
    return Config(**values)


def _parse_value(setting: Setting, raw: object):
    try:
        value = _PARSERS[setting.kind](raw)
    except (TypeError, ValueError) as exc:
        raise ConfigError(setting.name, f"{exc} (got {_shown(setting, raw)}); {setting.help}") from None
    if setting.minimum is not None and value < setting.minimum:
        raise ConfigError(setting.name, f"must be at least {setting.minimum:g} (got {value})")
    return value


def _shown(setting: Setting, raw: object) -> str:
    return "<hidden>" if setting.name == "plex_token" else repr(raw)


def _as_str(raw: object) -> str:
    if not isinstance(raw, str):
        raise TypeError("expected text")
    return raw.strip()


def _as_bool(raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError("expected true or false")


def _as_int(raw: object) -> int:
    if isinstance(raw, bool):
        raise TypeError("expected a whole number")
    if isinstance(raw, float):
        if not raw.is_integer():
            raise ValueError("expected a whole number")
        return int(raw)
    try:
        return int(str(raw).strip())
    except ValueError:
        raise ValueError("expected a whole number") from None


def _as_float(raw: object) -> float:
    if isinstance(raw, bool):
        raise TypeError("expected a number")
    try:
        return float(raw) if isinstance(raw, (int, float)) else float(str(raw).strip())
    except ValueError:
        raise ValueError("expected a number") from None


def _as_list(raw: object) -> tuple[str, ...]:
    return tuple(part.strip() for part in _as_str(raw).split(",") if part.strip())


def _as_path_map(raw: object) -> tuple[tuple[str, str], ...]:
    pairs = []
    for chunk in _as_str(raw).replace("\n", ";").split(";"):
        if not chunk.strip():
            continue
        if "=>" not in chunk:
            raise ValueError(f"'{chunk.strip()}' has no '=>' between the Stash and the Plex prefix")
        stash_prefix, plex_prefix = (side.strip() for side in chunk.split("=>", 1))
        if not stash_prefix or not plex_prefix:
            raise ValueError(f"'{chunk.strip()}' needs a prefix on both sides of '=>'")
        pairs.append((stash_prefix, plex_prefix))
    return tuple(pairs)


_PARSERS = {"str": _as_str, "bool": _as_bool, "int": _as_int, "float": _as_float,
            "list": _as_list, "path_map": _as_path_map}


def _check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError("plex_url", f"must look like http://host:32400 (got {_shown_url(url)!r})")
    return url.rstrip("/")


def _shown_url(url: str) -> str:
    """A rejected URL as an error may quote it: without user:password@ and without the query
    (a Plex URL copied from a browser carries ?X-Plex-Token=...)."""
    base = re.split(r"[?#]", url, maxsplit=1)[0]
    return re.sub(r"(^|//)[^/@]*@", r"\1", base) + ("?…" if base != url else "")


def data_dir_for(plugin_dir: str | Path) -> Path:
    """Where PlexSync keeps its state: $PLEXSYNC_DATA_DIR if set, else <plugin dir>/data."""
    override = os.environ.get("PLEXSYNC_DATA_DIR")
    return Path(override) if override else Path(plugin_dir) / "data"
