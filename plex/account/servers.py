"""The account's servers (plexapi's MyPlexAccount.resources()) as the picker shows them.

Only devices that provide "server" are listed: players and phones hold no libraries. Owned
servers come first; a shared one is listed but cannot be chosen (NotOwner says why).
"""
from __future__ import annotations

from dataclasses import dataclass

import requests
from plexapi.myplex import MyPlexAccount

from plex.account.errors import NoServers, NotOwner, UnknownServer, translate

TIMEOUT = 15.0


class _Account(MyPlexAccount):
    """MyPlexAccount sending PlexSync's device headers (plexapi's own would name another device)."""

    def __init__(self, token, session, device_headers):
        self._device_headers = device_headers  # before super(): its __init__ already queries
        super().__init__(token=token, session=session, timeout=TIMEOUT)

    def _headers(self, **kwargs):
        return {**super()._headers(), **self._device_headers, **kwargs}


@dataclass(frozen=True)
class Connection:
    uri: str
    address: str
    port: int
    protocol: str
    local: bool
    relay: bool


@dataclass(frozen=True)
class Server:
    id: str                     # the server's clientIdentifier (machineIdentifier)
    name: str
    version: str
    owned: bool
    owner: str
    online: bool
    connections: tuple

    @property
    def places(self) -> str:
        kinds = [k for k, on in (("local", any(c.local for c in self.connections)),
                                 ("remote", any(not c.local and not c.relay for c in self.connections)),
                                 ("relay", any(c.relay for c in self.connections))) if on]
        return "/".join(kinds) or "no address"

    def view(self) -> dict:
        """What the page and the terminal show: no token, nothing secret."""
        return {"id": self.id, "name": self.name, "version": self.version, "owned": self.owned,
                "owner": self.owner, "online": self.online, "places": self.places,
                "addresses": [c.uri for c in self.connections]}


def list_servers(session: requests.Session, headers: dict, token: str) -> tuple[str, list[Server]]:
    """(account name, its servers, owned first then by name); NoServers when there are none."""
    try:
        account = _Account(token, session, headers)
        resources = account.resources()
    except Exception as exc:  # noqa: BLE001 - the boundary: everything leaves translated
        raise translate(exc, (token,)) from None
    servers = [_server(r) for r in resources if "server" in (r.provides or "").split(",")]
    if not servers:
        raise NoServers(account.username or account.email or "?")
    servers.sort(key=lambda s: (not s.owned, s.name.casefold()))
    return account.username or "", servers


def _server(resource) -> Server:
    connections = tuple(Connection(c.uri, c.address, c.port or 32400, (c.protocol or "http").lower(),
                                   bool(c.local), bool(c.relay))
                        for c in resource.connections)
    return Server(resource.clientIdentifier, resource.name or "?", resource.productVersion or "?",
                  bool(resource.owned), resource.sourceTitle or "", bool(resource.presence),
                  connections)


def pick(servers: list[Server], wanted: str) -> Server:
    """The server named (case-insensitively) or identified by `wanted`; only one the account owns."""
    for server in servers:
        if wanted == server.id or server.name.casefold() == wanted.strip().casefold():
            if not server.owned:
                raise NotOwner(server.name, server.owner)
            return server
    raise UnknownServer(wanted, [s.name for s in servers])
