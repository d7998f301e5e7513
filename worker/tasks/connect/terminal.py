"""`process_queue.py plex-login`: Connect to Plex from a terminal, for a Stash without a browser.

The code and the link go to stdout at once (a person may be reading them over ssh); the
countdown goes to stderr (one line redrawn on a terminal, a line a minute in a pipe). Ctrl-C
cancels at any point (Cancelled, saying what was already stored). Questions are asked on
stdin: replacing a Plex URL/token already set (unless --yes) and which server (unless
--server, or the account owns exactly one).
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, TextIO

from hooks.stash_api import StashClient
from plex.account.pin import LINK_URL
from plex.account.servers import Server
from worker.tasks.connect.flow import ConnectFlow
from worker.tasks.env import Reporter, TaskResult

POLL_SECONDS = 2.0     # how often plex.tv is asked whether the code was entered


class Declined(RuntimeError):
    """The person said no, or could not be asked; str() says what to do instead."""


class Cancelled(RuntimeError):
    """Ctrl-C; str() says what was stored before it (the steps store as they go)."""


# What Ctrl-C leaves behind, by the last step done.
CANCELLED = {
    "start": "Cancelled: nothing was changed (the code expires by itself).",
    "linked": "Cancelled: the new Plex token is stored, the Plex URL is not; run plex-login "
              "again to pick the server.",
    "chosen": "Cancelled during the Health Check: the Plex URL and token are stored; run the "
              "health command to check them.",
}


@dataclass
class Terminal:
    """Where the login talks: the streams, the question asker, and time (injectable)."""
    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)
    ask: Callable[[str], str] = input
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep


def plex_login(stash: StashClient, data_dir: Path, plugin_dir: Path,
               reporter: Callable[[], Reporter], *, server: str | None = None,
               yes: bool = False, terminal: Terminal | None = None,
               flow: ConnectFlow | None = None) -> TaskResult:
    term = terminal or Terminal()
    flow = flow or ConnectFlow(stash, data_dir, plugin_dir)
    done = ["start"]
    try:
        return _login(flow, reporter, server, yes, term, done)
    except KeyboardInterrupt:
        raise Cancelled(CANCELLED[done[-1]]) from None


def _login(flow: ConnectFlow, reporter, server, yes: bool, term: Terminal,
           done: list) -> TaskResult:
    out = term.out
    existing = flow.existing()
    if existing.any and not yes:
        shown = existing.plex_url or "not set"
        _confirm(term, f"PlexSync already has a Plex URL ({shown}) and/or token. Replace them "
                       f"once you have signed in and picked a server? [y/N] ")
    pin = flow.start()
    _say(out, f"Open {LINK_URL} and enter the code: {pin.code}")
    _wait_until_linked(flow, pin, term)
    done.append("linked")
    _say(out, "Signed in to plex.tv; the token is stored in PlexSync's settings.")
    account, servers = flow.servers()
    _say(out, f"Servers of the Plex account '{account}':")
    for n, found in enumerate(servers, start=1):
        _say(out, f"  {n}. {_describe(found)}")
    wanted = server or _ask_server(servers, term)
    chosen = flow.choose(wanted, servers)
    done.append("chosen")
    tried = "; ".join(f"{o.candidate.url} {'answered' if o.ok else o.error}" for o in chosen.outcomes)
    _say(out, f"Plex URL set to {chosen.candidate.url} (tried: {tried})")
    health = flow.health(reporter())
    data = {"server": chosen.server.name, "plex_url": chosen.candidate.url,
            "verify_tls": chosen.verify_tls, "health": health.data.get("checks", [])}
    return TaskResult(health.text, data, ok=health.ok)


def _wait_until_linked(flow: ConnectFlow, pin, term: Terminal) -> None:
    """Ask plex.tv every POLL_SECONDS; show the time left every second. PinExpired ends it."""
    clock = term.clock
    deadline = clock() + pin.seconds_left
    next_poll = clock() + POLL_SECONDS
    countdown = Countdown(term.err)
    try:
        while True:
            countdown.show(deadline - clock())
            if clock() >= next_poll:
                state = flow.check(pin.pin_id)
                if state.token:
                    return
                deadline, next_poll = clock() + state.seconds_left, clock() + POLL_SECONDS
            term.sleep(min(1.0, max(0.05, next_poll - clock())))
    finally:
        countdown.close()


class Countdown:
    """The time left: one line redrawn on a terminal; in a pipe the first, then one a minute."""

    def __init__(self, stream):
        self.stream = stream
        self.tty = getattr(stream, "isatty", lambda: False)()
        self.last_line = None

    def show(self, seconds: float) -> None:
        seconds = max(0, int(seconds))
        text = f"waiting for the code: {seconds // 60}:{seconds % 60:02d} left (Ctrl-C cancels)"
        if self.tty:
            self.stream.write("\r" + text)
        elif self.last_line is None or self.last_line - seconds >= 60:
            self.stream.write(text + "\n")
            self.last_line = seconds
        self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


def _describe(server: Server) -> str:
    text = f"{server.name} — Plex {server.version}, {server.places}"
    if not server.online:
        text += ", offline"
    if not server.owned:
        text += f", shared by {server.owner or 'its owner'} (cannot be chosen)"
    return text


def _ask_server(servers: list[Server], term: Terminal) -> str:
    owned = [s for s in servers if s.owned]
    if len(owned) == 1:
        _say(term.out, f"Using '{owned[0].name}', the one server this account owns.")
        return owned[0].id
    answer = _ask(term, f"Which server (1-{len(servers)})? ",
                  "pass --server NAME to choose one without a question")
    if answer.isdigit() and 1 <= int(answer) <= len(servers):
        return servers[int(answer) - 1].id
    return answer  # a name; an unknown one is refused naming the servers there are


def _confirm(term: Terminal, question: str) -> None:
    answer = _ask(term, question, "pass --yes to replace them without a question")
    if answer.lower() not in ("y", "yes"):
        raise Declined("Nothing changed: the Plex URL and token stay as they are.")


def _ask(term: Terminal, question: str, instead: str) -> str:
    """The answer to `question`, asked where the other lines go (input() would print it on
    stdout, which --json keeps for the answer)."""
    term.out.write(question)
    term.out.flush()
    try:
        return term.ask("").strip()
    except EOFError:
        raise Declined(f"No answer on stdin: {instead}.") from None


def _say(stream, text: str) -> None:
    stream.write(text + "\n")
    stream.flush()

