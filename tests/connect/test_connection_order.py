"""Which address of a server is tried first: local HTTPS (plex.direct) > local http > remote >
relay, HTTPS before http within each; and every address is tried once."""
from __future__ import annotations

import pytest

from plex.account.connections import Candidate, Outcome, best, candidates
from plex.account.errors import NoConnection
from plex.account.servers import Connection, Server

PD = "https://192-168-1-10.abc.plex.direct:32400"
REMOTE_PD = "https://203-0-113-7.abc.plex.direct:41234"
RELAY = "https://10-0-0-9.abc.plex.direct:8443"


def server(*connections) -> Server:
    return Server("m1", "Living room", "1.41", True, "", True, tuple(connections))


def conn(uri, address, port, protocol, local, relay=False) -> Connection:
    return Connection(uri, address, port, protocol, local, relay)


LAN_HTTPS = conn(PD, "192.168.1.10", 32400, "https", True)
LAN_HTTP = conn("http://192.168.1.10:32400", "192.168.1.10", 32400, "http", True)
WAN_HTTPS = conn(REMOTE_PD, "203.0.113.7", 41234, "https", False)
RELAYED = conn(RELAY, "10.0.0.9", 8443, "https", False, relay=True)


@pytest.mark.parametrize("connections, order", [
    # plex.tv lists them in any order; the rule decides
    ((RELAYED, WAN_HTTPS, LAN_HTTPS), [
        (PD, "local", True), ("http://192.168.1.10:32400", "local", False),
        (REMOTE_PD, "remote", True), ("http://203.0.113.7:41234", "remote", False),
        (RELAY, "relay", True)]),
    # an http-only server ("Secure connections: disabled"): local http first
    ((WAN_HTTPS, LAN_HTTP), [
        ("http://192.168.1.10:32400", "local", False), (REMOTE_PD, "remote", True),
        ("http://203.0.113.7:41234", "remote", False)]),
    # the same address listed twice (https and http) is tried once per scheme
    ((LAN_HTTPS, LAN_HTTP), [(PD, "local", True), ("http://192.168.1.10:32400", "local", False)]),
    # IPv6 addresses get brackets in the http form
    ((conn("https://x.abc.plex.direct:32400", "fd00::5", 32400, "https", True),), [
        ("https://x.abc.plex.direct:32400", "local", True), ("http://[fd00::5]:32400", "local", False)]),
    ((), []),
])
def test_candidates_best_first(connections, order):
    assert [(c.url, c.location, c.https) for c in candidates(server(*connections))] == order


def test_the_first_answering_candidate_in_order_wins_whatever_answered_faster():
    tried = candidates(server(LAN_HTTPS, WAN_HTTPS))
    outcomes = [Outcome(tried[0], "connection refused"), Outcome(tried[1]), Outcome(tried[2]),
                Outcome(tried[3])]
    assert best(server(), outcomes) == Candidate("http://192.168.1.10:32400", "local", False)


def test_nothing_answering_lists_every_address_with_its_reason():
    tried = candidates(server(LAN_HTTPS))
    with pytest.raises(NoConnection) as failure:
        best(server(), [Outcome(tried[0], "no answer in time"), Outcome(tried[1], "connection refused")])
    assert failure.value.tried == [(PD, "no answer in time"),
                                   ("http://192.168.1.10:32400", "connection refused")]
    assert failure.value.kind == "no_connection"
