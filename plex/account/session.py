"""The requests session for plex.tv and for testing a server's addresses, and PlexSync's device
headers there.

Device headers: the X-Plex-Client-Identifier is the one PlexClient already keeps in the data
folder (plex/client.py `client_identifier`, file `client_id`), not plexapi's default (a hash of
the MAC address) and not a setting. It must be stable because plex.tv answers a pin only to the
identifier that created it, and the page checks the pin from a later process than the one that
created it; and plex.tv lists every identifier as a device under the account's Authorized
Devices, so a new one per attempt would pile up devices. The data folder and not the settings:
Stash's settings page shows every setting, and the identifier is PlexSync's, not the person's.

Routes (tests only): `PLEXSYNC_PLEXTV_ROUTES` holds a JSON object mapping a URL prefix
("https://plex.tv") to a loopback base URL. Connect runs inside a plugin process that Stash
starts, so a test cannot hand it a Python object; an environment variable on the Stash it
starts is the one way in. A real install never sets it. In-process tests may instead pass
their own `session_factory` to the functions of this package.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from plex.client import PRODUCT, client_identifier

ROUTES_ENV = "PLEXSYNC_PLEXTV_ROUTES"
PLEXTV_HOSTS = ("https://plex.tv", "https://clients.plex.tv")
SessionFactory = Callable[[], requests.Session]


def device_headers(data_dir: str | Path) -> dict:
    return {"X-Plex-Client-Identifier": client_identifier(data_dir), "X-Plex-Product": PRODUCT,
            "X-Plex-Device-Name": PRODUCT, "X-Plex-Device": PRODUCT}


def account_session() -> requests.Session:
    """A plain session; the CA bundle of REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE, as PlexClient."""
    session = requests.Session()
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    session.verify = bundle or True
    routes = os.environ.get(ROUTES_ENV)
    if routes:
        mount_routes(session, json.loads(routes))
    return session


def mount_routes(session: requests.Session, routes: dict[str, str]) -> requests.Session:
    for prefix, target in routes.items():
        session.mount(prefix, _Rerouted(prefix, target))
    return session


class _Rerouted(HTTPAdapter):
    """Sends what starts with `prefix` to `target` instead (same path and query), directly.
    An HTTPS target is still checked against the prefix's host name (SNI and certificate), as
    if the name had resolved to the target: a routed plex.direct address keeps its TLS check."""

    def __init__(self, prefix: str, target: str):
        super().__init__()
        self.prefix, self.target = prefix.rstrip("/"), target.rstrip("/")
        self.name = urlsplit(prefix).hostname

    def build_connection_pool_key_attributes(self, request, verify, cert=None):
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        if host_params["scheme"] == "https" and self.name:
            pool_kwargs.update(server_hostname=self.name, assert_hostname=self.name)
        return host_params, pool_kwargs

    def send(self, request, **kwargs):
        request.url = self.target + request.url[len(self.prefix):]
        kwargs["proxies"] = {}  # a route's target is a loopback address: no proxy
        return super().send(request, **kwargs)
