"""The Connect card's operations: `runPluginOperation(args: {mode: "ui_connect_…"})`.

Each answer is a small object the page renders, with a `state`:
  idle       ui_connect_status: plex_url, has_token (never the token)
  confirm    ui_connect_start without replace=true while a Plex URL or token is set
  waiting    code, link, pin_id, seconds_left (ui_connect_start, then ui_connect_check)
  linked     the token is stored; account and servers (ui_connect_check, ui_connect_servers)
  connected  ui_connect_choose: server, plex_url, every address tried, Health Check's lines
  failed     kind (expired, unreachable, no_servers, no_connection, not_owner, …) + message
The page polls ui_connect_check with the pin's id every few seconds: the pin is checked here,
in Python, and the token goes from plex.tv's answer into Stash's settings, never into an answer.
Polls log nothing; what changed the settings is logged once.
"""
from __future__ import annotations

import logging
from pathlib import Path

from hooks.stash_api import StashClient
from hooks.stash_log import progress
from plex.account.errors import ConnectError
from plex.account.pin import LINK_URL
from worker.tasks.connect.flow import ConnectFlow
from worker.tasks.env import StashProgress, TaskError

log = logging.getLogger(__name__)


def status(flow: ConnectFlow, args: dict) -> dict:
    existing = flow.existing()
    return {"state": "idle", "plex_url": existing.plex_url, "has_token": existing.has_token}


def start(flow: ConnectFlow, args: dict) -> dict:
    existing = flow.existing()
    if existing.any and not _yes(args.get("replace")):
        return {"state": "confirm", "plex_url": existing.plex_url, "has_token": existing.has_token,
                "message": "PlexSync already has a Plex URL or token. Connecting replaces "
                           "them once you have signed in and picked a server."}
    pin = flow.start()
    return {"state": "waiting", "pin_id": pin.pin_id, "code": pin.code, "link": LINK_URL,
            "seconds_left": pin.seconds_left}


def check(flow: ConnectFlow, args: dict) -> dict:
    pin = flow.check(_pin_id(args.get("pin_id")))
    if pin.state == "waiting":
        return {"state": "waiting", "pin_id": pin.pin_id, "seconds_left": pin.seconds_left}
    return servers(flow, args)


def servers(flow: ConnectFlow, args: dict) -> dict:
    account, found = flow.servers()
    return {"state": "linked", "account": account, "servers": [s.view() for s in found]}


def choose(flow: ConnectFlow, args: dict) -> dict:
    wanted = str(args.get("server") or "").strip()
    if not wanted:
        raise TaskError("ui_connect_choose needs the argument 'server' (its id or name)")
    chosen = flow.choose(wanted)
    result = flow.health(StashProgress(progress))
    return {"state": "connected", "server": chosen.server.name,
            "plex_url": chosen.candidate.url, "verify_tls": chosen.verify_tls,
            "tried": [{"url": o.candidate.url, "ok": o.ok, "error": o.error}
                      for o in chosen.outcomes],
            "health": {"ok": result.ok, "checks": result.data.get("checks", []),
                       "text": result.text}}


MODES = {"ui_connect_status": status, "ui_connect_start": start, "ui_connect_check": check,
         "ui_connect_servers": servers, "ui_connect_choose": choose}


def run(mode: str, args: dict, stash: StashClient, data_dir: Path, plugin_dir: Path) -> dict:
    flow = ConnectFlow(stash, data_dir, plugin_dir)
    try:
        answer = MODES[mode](flow, args)
    except ConnectError as exc:
        log.warning(str(exc))
        answer = {"state": "failed", "kind": exc.kind, "message": str(exc)}
    return answer  # registry.scrubbed_answer cuts every registered secret out of it


def _yes(value) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def _pin_id(value) -> int:
    try:
        return int(str(value).strip())
    except ValueError:
        raise TaskError(f"ui_connect_check needs the pin's number as 'pin_id', got {value!r}") from None
