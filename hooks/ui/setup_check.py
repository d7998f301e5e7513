"""Is PlexSync set up and turned on? Asked of Stash (one request) only when the local files
cannot tell: no data folder yet, or a flag the drain side left (settings invalid, PlexSync
turned off). The flags are brought up to date as the hook does, so the next read is local.
"""
from __future__ import annotations

import os

from hooks.stash_api import StashAuthError, StashClient, StashError
from sync_queue import inbox
from validation.config import ConfigError, parse_config

SETTINGS_PAGE = "/settings?tab=plugins"


def setup_state(conn: dict, data_dir: str) -> dict:
    """{"state": "ready" | "not_set_up" | "off" | "error", "line": ...}."""
    try:
        settings = StashClient.from_server_connection(conn).plugin_settings()
    except StashAuthError as exc:
        return {"state": "error", "line": f"{exc}. PlexSync reads its settings with the login "
                "Stash gives it: reload this page; if Stash's password / API key changed, run "
                "a PlexSync task once from Settings → Tasks."}
    except StashError as exc:
        return {"state": "error", "line": f"PlexSync could not read its settings from Stash: {exc}"}
    try:
        cfg = parse_config(settings)
    except ConfigError as exc:
        if os.path.isdir(data_dir):
            inbox.set_flag(data_dir, inbox.SETTINGS_FLAG, True)
        return {"state": "not_set_up", "line": str(exc), "settings_url": SETTINGS_PAGE,
                "missing": list(getattr(exc, "missing", ()) or ())}
    if os.path.isdir(data_dir):
        inbox.set_flag(data_dir, inbox.SETTINGS_FLAG, False)
        inbox.set_flag(data_dir, inbox.DISABLED_FLAG, not cfg.enabled)
    if not cfg.enabled:
        return {"state": "off", "line": "PlexSync is turned off (setting Enabled): scene edits "
                "are not sent to Plex.", "settings_url": SETTINGS_PAGE}
    return {"state": "ready"}
