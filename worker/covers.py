"""Fetching covers from Stash during a drain, saying once why they cannot be fetched.

A drainer runs on the login session the hook handed it; Stash expires sessions (one hour by
default), and Stash may restart while a drain runs. Then every cover of the drain fails the
same way: one line says why and what happens (the metadata is synced, the covers are owed
and retried by the next sync), not one warning per scene.
"""
from __future__ import annotations

import logging

from hooks.stash_api import StashAuthError, StashError

log = logging.getLogger(__name__)


class CoverFetcher:
    """fetch_image for one drain; errors it already explained carry `said = True`."""

    def __init__(self, fetch_image):
        self._fetch = fetch_image
        self._said: set[str] = set()

    def __call__(self, url: str) -> bytes:
        try:
            return self._fetch(url)
        except StashAuthError as exc:
            self._say_once("login", exc, "Stash refused the cover requests of the background "
                           "sync ({}): the login session Stash handed to it has probably "
                           "expired. Metadata is synced; the covers are owed and follow with "
                           "the next sync started from Stash (an edit, Process Queue or Sync All)")
            raise
        except StashError as exc:
            self._say_once("away", exc, "Stash did not serve covers ({}). Metadata is synced; "
                           "the covers are owed and follow with the next sync (an edit, "
                           "Process Queue or Sync All)")
            raise

    def _say_once(self, kind: str, exc: Exception, message: str) -> None:
        if kind not in self._said:
            self._said.add(kind)
            log.warning(message.format(exc))
        exc.said = True
