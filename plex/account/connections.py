"""Which of a server's addresses PlexSync stores: every one tested at once, the best that answers.

The order (`candidates`): local HTTPS (the `https://…plex.direct` address, whose certificate
is valid), then local http (the same address without TLS), then remote (HTTPS before http),
then Plex's relay. That is plexapi's own order (MyPlexResource.preferred_connections) for a
server the account owns: local first because it is the fastest and works without the
internet, HTTPS first because the token then never crosses the network in clear text, the
relay last because Plex limits its bandwidth. All addresses are tried in parallel (as
`resource.connect()` does), so a dead address costs its timeout once, not once per address.

An address "answers" only when the server behind it is the chosen one (same machine
identifier): on a Docker network or a VPN a local address may well reach another Plex.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import requests

from plex.account.errors import NoConnection, reason
from plex.account.servers import Server
from plex.client import _PlexSyncServer

LOCATIONS = ("local", "remote", "relay")


@dataclass(frozen=True)
class Candidate:
    url: str
    location: str   # local / remote / relay
    https: bool


@dataclass(frozen=True)
class Outcome:
    candidate: Candidate
    error: str = ""      # why it did not answer; "" = it answered and is the right server

    @property
    def ok(self) -> bool:
        return not self.error


def candidates(server: Server) -> list[Candidate]:
    """Every address to try, best first, each once."""
    found: dict[str, Candidate] = {}
    for connection in server.connections:
        location = "relay" if connection.relay else ("local" if connection.local else "remote")
        if connection.protocol == "https" or connection.uri.startswith("https://"):
            found.setdefault(connection.uri, Candidate(connection.uri, location, True))
        http = f"http://{_host(connection.address)}:{connection.port}"
        if not connection.relay:  # the relay speaks TLS only
            found.setdefault(http, Candidate(http, location, False))
    return sorted(found.values(), key=rank)


def rank(candidate: Candidate) -> tuple[int, int]:
    return LOCATIONS.index(candidate.location), 0 if candidate.https else 1


def _host(address: str) -> str:
    return f"[{address}]" if ":" in address and not address.startswith("[") else address


def try_every(server: Server, token: str, session: requests.Session, headers: dict,
             timeout: float = 5.0) -> list[Outcome]:
    """Every candidate tried at once (GET / as plexapi's PlexServer does), in candidate order."""
    tried = candidates(server)
    if not tried:
        return []
    with ThreadPoolExecutor(max_workers=min(len(tried), 16)) as pool:
        return list(pool.map(lambda c: _try(c, server.id, token, session, headers, timeout), tried))


def _try(candidate: Candidate, machine_id: str, token: str, session, headers, timeout) -> Outcome:
    try:
        plex = _PlexSyncServer(candidate.url, token, session, (timeout, timeout * 2), headers)
    except Exception as exc:  # noqa: BLE001 - every failure is a reason on the list
        return Outcome(candidate, reason(exc, (token,)))
    if machine_id and plex.machineIdentifier != machine_id:
        return Outcome(candidate, f"another Plex server answers there ('{plex.friendlyName}')")
    return Outcome(candidate)


def best(server: Server, outcomes: list[Outcome]) -> Candidate:
    """The first candidate that answered; NoConnection naming every address tried."""
    for outcome in outcomes:
        if outcome.ok:
            return outcome.candidate
    raise NoConnection(server.name, [(o.candidate.url, o.error) for o in outcomes])
