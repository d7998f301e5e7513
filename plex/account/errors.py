"""Connect's failures, each one line naming the cause and the next step, and `translate`: the
one place requests/plexapi errors from plex.tv and from a server's connections are mapped.

`kind` is what the page and the terminal branch on (never the wording); the message is what a
person reads. No message carries a token: plex.tv is asked with headers, and every detail
quoted from a library error passes plex.errors.scrub first.
"""
from __future__ import annotations

import requests
from plexapi import exceptions as plexapi_errors

from plex.errors import scrub
from validation.config import setting_label

MANUAL = (f"or set {setting_label('plex_url')} and {setting_label('plex_token')} by hand "
          "(Stash > Settings > Plugins > PlexSync)")


class ConnectError(Exception):
    kind = "failed"

    def __init__(self, message: str):
        super().__init__(message)


class PinExpired(ConnectError):
    kind = "expired"

    def __init__(self):
        super().__init__("The code expired before it was entered at plex.tv/link: start again "
                         "(Connect to Plex, or process_queue.py plex-login) for a new code.")


class PlexTvUnreachable(ConnectError):
    kind = "unreachable"

    def __init__(self, detail: str):
        super().__init__(f"plex.tv cannot be reached from Stash's machine ({detail}): check that "
                         f"it is online (and any proxy), then try again, {MANUAL}.")


class PlexTvRefused(ConnectError):
    kind = "refused"

    def __init__(self, detail: str):
        super().__init__(f"plex.tv refused PlexSync's sign-in ({detail}): press Connect to Plex "
                         "again to sign in anew.")


class NotSignedIn(ConnectError):
    kind = "not_linked"

    def __init__(self):
        super().__init__("PlexSync is not signed in to plex.tv yet: press Connect to Plex and "
                         "enter the code at plex.tv/link first.")


class NoServers(ConnectError):
    kind = "no_servers"

    def __init__(self, username: str):
        super().__init__(f"The Plex account '{username}' has no Plex Media Server: sign in to "
                         "Plex Media Server with this account (its Settings > General), or "
                         "connect with the account that owns your server.")


class UnknownServer(ConnectError):
    kind = "unknown_server"

    def __init__(self, wanted: str, names: list[str]):
        super().__init__(f"The Plex account has no server '{wanted}': pick one of "
                         f"{', '.join(repr(n) for n in names) or 'none'}.")


class NotOwner(ConnectError):
    kind = "not_owner"

    def __init__(self, name: str, owner: str):
        by = f" by {owner}" if owner else " by its owner"
        super().__init__(f"'{name}' is shared with this account{by}, so PlexSync cannot edit its "
                         "metadata with this sign-in: connect with the owner's Plex account.")


class NoConnection(ConnectError):
    kind = "no_connection"

    def __init__(self, name: str, tried: list[tuple[str, str]]):
        listed = "; ".join(f"{url} ({why})" for url, why in tried) or "no address advertised"
        super().__init__(f"No address of '{name}' answers from Stash's machine (tried: {listed}): "
                         "if Stash runs in Docker, give it a network that reaches Plex and try "
                         f"again, {MANUAL} with an address Stash reaches.")
        self.tried = tried


def translate(exc: BaseException, secrets: tuple[str, ...] = ()) -> ConnectError:
    """A plex.tv request's failure as one of the classes above (ours pass through)."""
    if isinstance(exc, ConnectError):
        return exc
    if isinstance(exc, (requests.ConnectionError, requests.Timeout)):
        return PlexTvUnreachable(reason(exc, secrets))
    if isinstance(exc, plexapi_errors.Unauthorized):
        return PlexTvRefused("the sign-in is no longer valid")
    return PlexTvRefused(scrub(str(exc), secrets) or type(exc).__name__)


def reason(exc: BaseException, secrets: tuple[str, ...] = ()) -> str:
    """A short cause for one failed request: refused, timed out, certificate, HTTP status."""
    text = str(exc)
    if isinstance(exc, requests.exceptions.SSLError):
        return "its certificate is not valid"
    if isinstance(exc, requests.Timeout):
        return "no answer in time"
    if isinstance(exc, requests.exceptions.ProxyError):
        return "the proxy refused"
    if isinstance(exc, requests.ConnectionError):
        if "refused" in text.lower():
            return "connection refused"
        if "Name or service not known" in text or "getaddrinfo" in text or "resolve" in text:
            return "name not found"
        return "no connection"
    if isinstance(exc, plexapi_errors.Unauthorized) or text.startswith(("(401)", "(403)")):
        return "refused the sign-in"
    return scrub(text.split(";")[0], secrets) or type(exc).__name__
