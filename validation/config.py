"""PlexSync settings: parsed once from Stash's plugin settings into a frozen Config.

Stdlib only on purpose: this runs on the hook path, whose whole budget (150 ms) is smaller than
the import cost of pydantic plus a model build (measured +110 ms over a 60 ms interpreter floor).
Each setting is declared once in SETTINGS; the parser, the docs test and the manifest test all
read that table, so a setting cannot be documented or parsed in one place and not the other.
"""
from __future__ import annotations

import dataclasses
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from validation.secrets import redact, worth_hiding
from validation.data_dir import data_dir_path

PLUGIN_ID = "PlexSync"


class ConfigError(ValueError):
    """A setting is missing or malformed; str() names the setting (as Stash's settings page
    labels it, the key in brackets) and the fix. `missing`: every required setting not set."""

    def __init__(self, setting: str, message: str, missing: tuple[str, ...] = ()):
        super().__init__(f"setting {setting_label(setting)} ({setting}): {message}")
        self.setting = setting
        self.missing = missing


class MissingSettings(ConfigError):
    """Required settings are not set: all of them named in one message, not one per run."""

    def __init__(self, missing: tuple[str, ...]):
        self.setting, self.missing = missing[0], tuple(missing)
        ValueError.__init__(self, self.explain())

    def explain(self, alternative: str = "") -> str:
        """The message; `alternative` names another way to set them (process_queue.py flags)."""
        one = len(self.missing) == 1
        message = (f"{_listed(self.missing)} {'is' if one else 'are'} required; set "
                   f"{'it' if one else 'them'} in Stash: Settings > Plugins > PlexSync")
        message += f", {alternative}" if alternative else ""
        if "plex_token" in self.missing:
            message += f". {TOKEN_WHERE}"
        return message


def _listed(keys) -> str:
    names = [f"{setting_label(k)} ({k})" for k in keys]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


@dataclass(frozen=True)
class Setting:
    name: str
    kind: str  # "str", "bool", "int", "float", "list", "path_map"
    default: object
    help: str
    minimum: float | None = None
    label: str = ""  # the displayName in PlexSync.yml: what Stash's settings page shows


TOKEN_WHERE = ("Connect to Plex on the PlexSync page (or process_queue.py plex-login) sets "
               "both; by hand, the Plex token is in Plex Web: open any movie, ⋯ menu > Get Info > "
               "View XML; the address ends in X-Plex-Token=<your token>")

SETTINGS: tuple[Setting, ...] = (
    Setting("plex_url", "str", None, "Plex server URL, e.g. http://192.168.1.10:32400 (required)", label="Plex URL"),
    Setting("plex_token", "str", None, "Plex authentication token, X-Plex-Token (required)", label="Plex token"),
    Setting("plex_libraries", "list", (), "Comma list of Plex library titles; empty = every movie library", label="Plex libraries"),
    Setting("path_map", "path_map", (), "Stash path prefix => Plex path prefix, ';' between pairs: '/data => /media; D:\\ => /mnt/d'", label="Path map"),
    Setting("strict_matching", "bool", True, "Never write a low-confidence match; list it under Failed Syncs with the candidates", label="Strict matching (default on)"),
    Setting("preserve_plex_edits", "bool", False, "Keep fields a person changed in Plex since PlexSync last wrote them", label="Preserve Plex edits"),
    Setting("verify_tls", "bool", True, "Verify Plex's HTTPS certificate", label="Verify TLS (default on)"),
    Setting("trigger_plex_scan", "bool", True, "Ask Plex to scan the folder of a file it does not know yet", label="Trigger Plex scan (default on)"),
    Setting("skip_not_found", "bool", False, "Record and skip scenes whose file Plex does not have, instead of retrying", label="Skip scenes not in Plex"),
    Setting("max_retries", "int", 5, "Retries for a temporary Plex error before the scene is listed under Failed Syncs", minimum=0, label="Max retries (default 5)"),
    Setting("connect_timeout", "float", 5.0, "Seconds to wait for a connection to Plex", minimum=0.1, label="Connect timeout (default 5 s)"),
    Setting("read_timeout", "float", 30.0, "Seconds to wait for Plex to answer", minimum=0.1, label="Read timeout (default 30 s)"),
    Setting("max_tags", "int", 100, "Most Stash tags sent as Plex genres", minimum=0, label="Max tags (default 100)"),
    Setting("enabled", "bool", True, "Master switch: off = scene edits are not sent to Plex", label="Enabled (default on)"),
    Setting("debug_logging", "bool", False, "Log debug lines to Stash's log", label="Debug logging"),
    Setting("dlq_retention_days", "int", 30, "Days a failed scene stays in the Failed Syncs list", minimum=1, label="Keep failed syncs (default 30 days)"),
    Setting("sync_title", "bool", True, "Sync the title", label="Sync title (default on)"),
    Setting("sync_summary", "bool", True, "Sync details as the summary", label="Sync summary (default on)"),
    Setting("sync_studio", "bool", True, "Sync the studio", label="Sync studio (default on)"),
    Setting("sync_date", "bool", True, "Sync the date as originally available", label="Sync date (default on)"),
    Setting("sync_performers", "bool", True, "Sync performers as actors", label="Sync performers as actors (default on)"),
    Setting("stash_url_for_plex", "str", "", "Stash's address as Plex reaches it, for actor photos, e.g. http://192.168.1.10:9999; empty = no actor photos", label="Stash URL for Plex (actor photos)"),
    Setting("sync_tags", "bool", True, "Sync tags as genres", label="Sync tags as genres (default on)"),
    Setting("sync_collections", "bool", True, "Sync studio (+ parent) and groups as collections", label="Sync studio and groups as collections (default on)"),
    Setting("sync_poster", "bool", True, "Upload the scene cover as the poster", label="Sync cover as poster (default on)"),
    Setting("sync_background", "bool", True, "Upload the scene cover as the background art", label="Sync cover as background (default on)"),
    Setting("import_plays", "bool", True, "Bring plays made in Plex into Stash's play history", label="Bring Plex plays into Stash (default on)"),
    Setting("import_resume_points", "bool", True, "Bring Plex's resume point to Stash when Plex's is newer", label="Bring Plex resume points into Stash (default on)"),
    Setting("import_ratings", "bool", False, "Bring ratings changed in Plex to Stash (a Stash change after the last import wins)", label="Bring Plex ratings into Stash (default off)"),
)

_LABELS = {s.name: s.label for s in SETTINGS}
_DEFAULT_NOTE = re.compile(r"\s*\(default [^)]*\)$")


def setting_label(key: str) -> str:
    """A setting as Stash's settings page names it, for messages: 'Path map', 'Strict
    matching' (the displayName without its "(default …)" note); unknown keys as they are.
    A table here rather than PlexSync.yml: the hook path must not load YAML."""
    return _DEFAULT_NOTE.sub("", _LABELS.get(key) or key)


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
    stash_url_for_plex: str = ""
    sync_tags: bool = True
    sync_collections: bool = True
    sync_poster: bool = True
    sync_background: bool = True
    import_plays: bool = True
    import_resume_points: bool = True
    import_ratings: bool = False

    @property
    def imports_anything(self) -> bool:
        """Whether the Plex -> Stash import has anything to do."""
        return self.import_plays or self.import_resume_points or self.import_ratings

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
    if worth_hiding(token):
        exc.args = (redact(str(exc), [token], marker="<hidden>"),)
    return exc


def _parse_settings(settings: dict) -> Config:
    values = {}
    missing = tuple(s.name for s in SETTINGS if s.default is None and _unset(settings.get(s.name)))
    if missing:
        raise MissingSettings(missing)
    for setting in SETTINGS:
        raw = settings.get(setting.name)
        if raw is None:
            continue
        values[setting.name] = _parse_value(setting, raw)
    values["plex_url"] = _check_url(values["plex_url"])
    if values.get("stash_url_for_plex"):
        values["stash_url_for_plex"] = _check_photo_base(values["stash_url_for_plex"])
    return Config(**values)


def _unset(raw: object) -> bool:
    return raw is None or (isinstance(raw, str) and not raw.strip())


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


def check_plex_url(url: str) -> str:
    """A Plex URL as PlexSync uses it (no trailing slash); ConfigError naming the setting."""
    return _check_url(_as_str(url))


def _check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError("plex_url", f"must look like http://host:32400 (got {_shown_url(url)!r})")
    return url.rstrip("/")


def _check_photo_base(url: str) -> str:
    """Plex stores actor photo URLs and shows them to every client: never a credential."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError("stash_url_for_plex", "Stash URL for Plex must look like "
                          f"http://192.168.1.10:9999 (got {_shown_url(url)!r})")
    if "@" in parts.netloc or parts.query or parts.fragment:
        raise ConfigError("stash_url_for_plex", "Stash URL for Plex must not carry a login, "
                          "API key or query (Plex would store it and show it to every client); "
                          f"use just the address, e.g. {parts.scheme}://{parts.hostname}"
                          f"{':%d' % parts.port if parts.port else ''}")
    return url.rstrip("/")


def _shown_url(url: str) -> str:
    """A rejected URL as an error may quote it: without user:password@ and without the query
    (a Plex URL copied from a browser carries ?X-Plex-Token=...)."""
    base = re.split(r"[?#]", url, maxsplit=1)[0]
    return re.sub(r"(^|//)[^/@]*@", r"\1", base) + ("?…" if base != url else "")


def data_dir_for(plugin_dir: str | Path, stash_config_dir: str | Path | None = None) -> Path:
    """Where PlexSync keeps its state (validation/data_dir.py, which the hook uses directly)."""
    return Path(data_dir_path(plugin_dir, stash_config_dir))
