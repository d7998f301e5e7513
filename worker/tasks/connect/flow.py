"""Connect to Plex, the steps both front ends take: the page's operations and `plex-login`.

1. start: a link code from plex.tv (refused while a Plex URL or token is set, unless the
   person confirmed replacing them: manual settings stay until then);
2. check: has the code been entered? When it has, the token goes straight into PlexSync's
   settings through Stash's configurePlugin (every other setting kept) and nowhere else;
3. servers: the account's servers, read with the stored token;
4. choose: every address of the chosen server tried at once, the best that answers stored as
   the Plex URL (Verify TLS turned on for an HTTPS address: it answered with a valid
   certificate), then Health Check.

The token lives in this process only between plex.tv's answer and configurePlugin; later
steps read it back from Stash. It is registered as a secret the moment it is known, so no log
line or message can carry it.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from hooks.stash_api import StashClient
from hooks.stash_log import register_secret
from plex.account import connections
from plex.account.errors import NotSignedIn
from plex.account.pin import PinState, check_pin, start_pin
from plex.account.servers import Server, list_servers, pick
from plex.account.session import SessionFactory, account_session, device_headers
from worker.tasks import health
from worker.tasks.env import Reporter, TaskEnv, TaskResult, load_settings

log = logging.getLogger(__name__)
CONNECTION_TIMEOUT = 5.0  # seconds per address; all are tried at once


@dataclass(frozen=True)
class Existing:
    plex_url: str
    has_token: bool

    @property
    def any(self) -> bool:
        return bool(self.plex_url) or self.has_token


@dataclass(frozen=True)
class Chosen:
    server: Server
    candidate: connections.Candidate
    outcomes: list = field(default_factory=list)

    @property
    def verify_tls(self) -> bool | None:
        """True for an HTTPS address (it answered with a certificate that verified); None: an
        http address, Verify TLS left as it was."""
        return True if self.candidate.https else None


class ConnectFlow:
    def __init__(self, stash: StashClient, data_dir: Path, plugin_dir: Path,
                 session_factory: SessionFactory = account_session):
        self.stash = stash
        self.data_dir = Path(data_dir)
        self.plugin_dir = Path(plugin_dir)
        self.session_factory = session_factory
        self.headers = device_headers(data_dir)

    def existing(self) -> Existing:
        settings = self.stash.plugin_settings()
        token = str(settings.get("plex_token") or "").strip()
        register_secret(token)
        return Existing(str(settings.get("plex_url") or "").strip(), bool(token))

    def start(self) -> PinState:
        return start_pin(self.session_factory(), self.headers)

    def check(self, pin_id: int) -> PinState:
        """The pin's state; once linked, the token is stored before anything else happens."""
        state = check_pin(self.session_factory(), self.headers, pin_id)
        if state.token:
            register_secret(state.token)
            self.stash.configure_plugin({"plex_token": state.token})
            log.info("Signed in to plex.tv: PlexSync's Plex token setting now holds the new token")
        return state

    def servers(self) -> tuple[str, list[Server]]:
        return list_servers(self.session_factory(), self.headers, self._token())

    def choose(self, wanted: str, servers: list[Server] | None = None) -> Chosen:
        """Test the server's addresses, store the best as the Plex URL (NoConnection if none)."""
        server = pick(servers if servers is not None else self.servers()[1], wanted)
        outcomes = connections.try_every(server, self._token(), self.session_factory(),
                                         self.headers, CONNECTION_TIMEOUT)
        chosen = Chosen(server, connections.best(server, outcomes), outcomes)
        changes: dict = {"plex_url": chosen.candidate.url}
        if chosen.verify_tls is not None:
            changes["verify_tls"] = chosen.verify_tls
        self.stash.configure_plugin(changes)
        log.info(f"Connected to Plex server '{server.name}' at {chosen.candidate.url}")
        return chosen

    def health(self, reporter: Reporter) -> TaskResult:
        """Health Check on the settings just stored (read back from Stash)."""
        settings, cfg = load_settings(self.stash)
        env = TaskEnv(cfg=cfg, settings=settings, stash=self.stash, plugin_dir=self.plugin_dir,
                      data_dir=self.data_dir, args={"mode": "health_check"}, reporter=reporter)
        return health.health_check(env)

    def _token(self) -> str:
        token = str(self.stash.plugin_settings().get("plex_token") or "").strip()
        if not token:
            raise NotSignedIn()
        register_secret(token)
        return token
