"""PlexSync's Plex errors, and `translate`: the ONE place plexapi/requests errors are mapped.

The worker decides retry / breaker / dead-letter from the class alone, so every failure that
leaves plex/ is one of these. Messages are for a person and never carry the Plex token.
"""
from __future__ import annotations

import re
from xml.etree.ElementTree import ParseError
from xml.parsers.expat import ExpatError

import requests
from plexapi import exceptions as plexapi_errors

from validation.config import setting_label
from validation.secrets import redact

_MAX_DETAIL = 300
# Credentials that can ride in a URL: Plex's token, Stash's API key, session ids.
_SECRET_IN_URL = re.compile(r"((?:X-Plex-Token|api_?key|token|session)=)[^&\s'\"]+", re.IGNORECASE)
_STATUS = re.compile(r"^\((\d{3})\)")
# PMS answers some errors (maintenance, proxies in front of it) with a whole HTML page: keep
# its title ("Maintenance", "502 Bad Gateway"), not the markup.
_HTML_PAGE = re.compile(r"<html.*?(?:<title>(.*?)</title>.*)?$", re.IGNORECASE | re.DOTALL)


class PlexSyncError(Exception):
    """Base of every error plex/ raises; `status` is the HTTP status when there was one."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class PlexUnavailable(PlexSyncError):
    """Transient: connection refused/reset, timeout, 5xx. Retry later (the breaker counts it)."""


class PlexAuthError(PlexSyncError):
    """Permanent until the user fixes the token: 401/403."""


class PlexBadRequest(PlexSyncError):
    """Permanent: Plex refused the request itself (400); retrying the same request cannot help."""


class PlexSettingsError(PlexSyncError):
    """Permanent until the user fixes `setting` (e.g. plex_libraries names no Plex library):
    every job would fail the same way, so the drain stops instead of dead-lettering them."""

    def __init__(self, message: str, setting: str):
        super().__init__(message)
        self.setting = setting


class ItemNotFound(PlexSyncError):
    """No Plex item has the scene's files. `scan_requested`: Plex was just asked to scan."""

    def __init__(self, message: str, scan_requested: bool = False):
        super().__init__(message)
        self.scan_requested = scan_requested


class AmbiguousMatch(PlexSyncError):
    """Only a low-confidence match exists; under strict matching this is never written."""

    def __init__(self, candidates: list[dict], why: str = "no single Plex item has this file"):
        self.candidates = [dict(c) for c in candidates]
        listed = "; ".join(f"'{c.get('title')}' (ratingKey {c.get('rating_key')}, file "
                           f"{c.get('file')})" for c in self.candidates) or "none"
        super().__init__(f"ambiguous Plex match ({why}); candidates: {listed}. Fix the file paths "
                         f"or the {setting_label('path_map')} setting, or turn off "
                         f"{setting_label('strict_matching')} to write the best candidate")


def scrub(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Remove credentials from text that may quote a URL; shorten Plex's (HTML) error body."""
    text = _SECRET_IN_URL.sub(r"\1<redacted>", text)
    text = _HTML_PAGE.sub(lambda m: f"(page: {m.group(1).strip()})" if m.group(1) else "(HTML page)",
                          text)
    text = redact(text, secrets)
    return text if len(text) <= _MAX_DETAIL else text[:_MAX_DETAIL] + "…"


def translate(exc: BaseException, secrets: tuple[str, ...] = ()) -> PlexSyncError:
    """Map a plexapi / requests / XML exception to PlexSync's classes (ours pass through)."""
    if isinstance(exc, PlexSyncError):
        return exc
    detail = scrub(str(exc), secrets)
    if isinstance(exc, requests.Timeout):
        return PlexUnavailable(f"Plex did not answer in time ({type(exc).__name__}): {detail}")
    if isinstance(exc, (requests.ConnectionError, requests.exceptions.ChunkedEncodingError,
                        requests.exceptions.ContentDecodingError, ParseError, ExpatError)):
        # ParseError / ExpatError (the index's own parser): a response cut off mid-body is a
        # dropped connection, not bad data.
        return PlexUnavailable(f"cannot reach Plex ({type(exc).__name__}): {detail}")
    if isinstance(exc, plexapi_errors.PlexApiException):
        return _from_status(exc, detail)
    return PlexSyncError(f"unexpected {type(exc).__name__} talking to Plex: {detail}")


def _from_status(exc: BaseException, detail: str) -> PlexSyncError:
    # plexapi puts the status only in the message: "(403) forbidden; http://host/path body".
    found = _STATUS.match(str(exc))
    status = int(found.group(1)) if found else None
    if isinstance(exc, plexapi_errors.Unauthorized) or status in (401, 403):
        return PlexAuthError(f"Plex refused the token ({status or 401}): check the Plex token "
                             "setting (Stash > Settings > Plugins > PlexSync)", status or 401)
    if isinstance(exc, plexapi_errors.NotFound) or status == 404:
        return ItemNotFound(f"Plex has no such item or library: {detail}")
    if status is not None and status >= 500:
        return PlexUnavailable(f"Plex failed with a server error: {detail}", status)
    return PlexBadRequest(f"Plex rejected the request: {detail}", status)
