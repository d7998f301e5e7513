"""Rules that make a Stash string or date safe to hand to Plex. Pure, stdlib only.

Stash accepts nearly anything a user pastes; Plex and its clients choke on NULs and control
characters, and bidi overrides let a title render as something it is not. Each rule returns the
cleaned value; callers report what was changed so the user sees why Plex differs from Stash.
"""
from __future__ import annotations

import datetime as _dt
import re
import unicodedata
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

TITLE_MAX = 255
TAG_MAX = 255
SUMMARY_MAX = 10_000

# C0/C1 controls and DEL, but not tab/newline, which summaries legitimately contain.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# Bidi embeddings/overrides/isolates and the BOM: they reorder or hide text in Plex clients.
_BIDI_AND_BOM = re.compile("[\u202a-\u202e\u2066-\u2069\ufeff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
# Query parameters that carry credentials; a URL handed to Plex is stored there for good.
_CREDENTIAL_PARAMS = {"apikey", "api_key", "token", "x-plex-token", "session", "sessionid", "auth",
                      "password", "key"}


def clean_text(value: object, limit: int, *, multiline: bool = False) -> str:
    """Text without control characters, bidi overrides or lone surrogates, trimmed to `limit`."""
    if value is None:
        return ""
    text = unicodedata.normalize("NFC", _SURROGATE.sub("", str(value)))
    text = _BIDI_AND_BOM.sub("", _CONTROL.sub("", text))
    if multiline:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    else:
        text = " ".join(text.split())
    text = text.strip()
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


def clean_date(value: object) -> str | None:
    """A real calendar date as YYYY-MM-DD, or None; Stash's partial dates take the first day."""
    if not value:
        return None
    text = str(value).strip()
    for form in ("%Y-%m-%d", "%Y-%m", "%Y"):
        try:
            return _dt.datetime.strptime(text, form).date().isoformat()
        except ValueError:
            continue
    return None


def unique_names(names: list, limit: int) -> list[str]:
    """Cleaned names in their original order, empty and case-insensitive duplicates dropped."""
    seen: set[str] = set()
    result = []
    for name in names:
        cleaned = clean_text(name, TAG_MAX)
        if cleaned and cleaned.casefold() not in seen:
            seen.add(cleaned.casefold())
            result.append(cleaned)
    return result[:limit]


def strip_credentials(url: object) -> str | None:
    """The URL without user:password or credential query parameters: Plex stores what it gets."""
    if not url:
        return None
    parts = urlsplit(str(url))
    if parts.scheme not in ("http", "https"):
        return None
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    query = [(k, v) for k, v in pairs if k.lower() not in _CREDENTIAL_PARAMS]
    if "@" not in parts.netloc and len(query) == len(pairs):
        return str(url)  # nothing to strip: hand it on exactly as Stash built it
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, netloc, parts.path, urlencode(query), ""))
