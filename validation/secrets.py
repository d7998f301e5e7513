"""Which values are secrets worth hiding, and hiding them whole. Pure, stdlib only.

Every log line and message passes through redact() with the tokens, API keys and cookies the
process knows. A value too short to be a real credential (a Plex token is 20 characters, a
Stash API key far longer) is not hidden: replacing a one-letter "token" everywhere turns
"Max retries exceeded" into "Ma<redacted> retries e<redacted>ceeded" and hides nothing.
"""
from __future__ import annotations

from typing import Iterable

MARKER = "<redacted>"
# Shorter values are typos or placeholders, not credentials; hiding them only shreds text.
MIN_SECRET_CHARS = 8


def worth_hiding(value: object) -> bool:
    """True for a text value long enough to be a credential."""
    return isinstance(value, str) and len(value.strip()) >= MIN_SECRET_CHARS


def redact(text: str, secrets: Iterable[str | None], marker: str = MARKER) -> str:
    """The text with every secret replaced whole by the marker.

    Longest first: when one secret contains another (a cookie holding the API key), the longer
    is hidden as one piece instead of leaving its other characters around a marker.
    """
    for secret in sorted({s.strip() for s in secrets if worth_hiding(s)}, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, marker)
    return text
