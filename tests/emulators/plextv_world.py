"""A plex.tv account with servers whose addresses lead to loopback Plex emulators, some dead.

    with PlexTvWorld() as world:        # plex.tv emulator + one live PMS emulator
        env = {ROUTES_ENV: world.routes_json()}   # for a process PlexSync runs in
        world.authorize_latest()        # the person entered the newest code at plex.tv/link

"Living room" (owned) advertises what a PMS behind a home router does: its local HTTPS
plex.direct address and the same address over http (both dead here: the port refuses, as a
LAN address does from inside a Docker container), a remote address (the live emulator) and
the relay (dead). "Friend's server" is shared with the account, not owned. plex.direct and
relay names are routed to loopback too, so no test resolves a name on the internet.
"""
from __future__ import annotations

import json
import socket

from plex.account.session import PLEXTV_HOSTS
from tests.emulators.plex_server import PlexEmulator
from tests.emulators.plextv_server import Connection, PlexTvEmulator, ServerResource

ACCOUNT_TOKEN = "plextv-account-token-7f3a9c"   # what plex.tv hands out for the pin
PLEX_DIRECT_HASH = "0123456789abcdef0123456789abcdef"


def free_port() -> int:
    """A loopback port nobody listens on (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def plex_direct(address: str, port: int) -> str:
    return f"https://{address.replace('.', '-')}.{PLEX_DIRECT_HASH}.plex.direct:{port}"


class PlexTvWorld:
    def __init__(self, *, pin_lifetime: float = 1800.0, clock=None):
        kwargs = {"pin_lifetime": pin_lifetime, **({"clock": clock} if clock else {})}
        self.plextv = PlexTvEmulator(**kwargs)
        self.plex = PlexEmulator(token=ACCOUNT_TOKEN, friendly_name="Living room")
        self.dead_port = free_port()
        self.routes: dict[str, str] = {}
        self.account = None
        self.living_room = self.shared = None

    def start(self) -> "PlexTvWorld":
        self.plextv.start()
        self.plex.start()
        self.plex.add_section("Stash Scenes", "movie", location="/plexdata")
        dead, live = self.dead_port, self.plex.port
        local_https = plex_direct("127.0.0.1", dead)
        relay = plex_direct("10.0.0.9", 8443)
        self.living_room = ServerResource("Living room", client_identifier=self.plex.machine_identifier,
                                          connections=[
            Connection(local_https, "127.0.0.1", dead, "https", local=True),
            Connection(f"http://127.0.0.1:{live}", "127.0.0.1", live, "http", local=False),
            Connection(relay, "10.0.0.9", 8443, "https", local=False, relay=True)])
        self.shared = ServerResource("Friend's server", owned=False, source_title="bob",
                                     access_token="shared-server-token-55aa",
                                     connections=[Connection(plex_direct("127.0.0.1", dead),
                                                             "127.0.0.1", dead, "https", local=False)])
        self.account = self.plextv.add_account(ACCOUNT_TOKEN, username="alice",
                                               servers=[self.shared, self.living_room])
        self.routes = {host: self.plextv.url for host in PLEXTV_HOSTS}
        self.routes[local_https] = f"http://127.0.0.1:{dead}"
        self.routes[relay] = f"http://127.0.0.1:{dead}"
        return self

    def stop(self) -> None:
        self.plex.stop()
        self.plextv.stop()

    def __enter__(self) -> "PlexTvWorld":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def routes_json(self) -> str:
        return json.dumps(self.routes)

    def latest_code(self) -> str | None:
        pins = list(self.plextv.pins.values())
        return pins[-1].code if pins else None

    def authorize_latest(self) -> str:
        code = self.latest_code()
        assert code, "PlexSync asked plex.tv for no code"
        self.plextv.authorize(code, self.account)
        return code
