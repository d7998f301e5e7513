"""The short causes Connect names for an address or a plex.tv request that failed, from the
exceptions requests and plexapi really raise."""
from __future__ import annotations

import pytest
import requests
from plexapi import exceptions as plexapi_errors

from plex.account.errors import PlexTvRefused, PlexTvUnreachable, reason, translate


@pytest.mark.parametrize("exc, expected", [
    (requests.exceptions.SSLError("certificate verify failed"), "its certificate is not valid"),
    (requests.exceptions.ConnectTimeout("timed out"), "no answer in time"),
    (requests.exceptions.ReadTimeout("read timed out"), "no answer in time"),
    (requests.exceptions.ProxyError("Unable to connect to proxy"), "the proxy refused"),
    (requests.ConnectionError("[Errno 111] Connection refused"), "connection refused"),
    (requests.ConnectionError("[Errno -2] Name or service not known"), "name not found"),
    (requests.ConnectionError("Connection reset by peer"), "no connection"),
    (plexapi_errors.Unauthorized("(401) unauthorized; http://x/"), "refused the sign-in"),
    (plexapi_errors.BadRequest("(500) internal_server_error; http://x/?X-Plex-Token=abcdefgh123"),
     "(500) internal_server_error"),
])
def test_reason_of_a_failed_address(exc, expected):
    assert reason(exc) == expected


def test_translate_tells_unreachable_from_refused_and_hides_secrets():
    assert isinstance(translate(requests.ConnectionError("refused")), PlexTvUnreachable)
    refused = translate(plexapi_errors.BadRequest("(400) bad_request; token secret-token-99"),
                        ("secret-token-99",))
    assert isinstance(refused, PlexTvRefused) and "secret-token-99" not in str(refused)
    already = PlexTvRefused("x")
    assert translate(already) is already
