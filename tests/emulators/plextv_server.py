"""plex.tv emulator: the account side of Plex that PlexSync's Connect talks to, on loopback.

    with PlexTvEmulator() as plextv:
        account = plextv.add_account("plextv-account-token-1", username="alice")
        account.servers.append(ServerResource("Living room", connections=[...]))
        ... plexapi's MyPlexPinLogin creates a pin; the person "enters the code":
        plextv.authorize(code, account)

Shapes follow what plexapi 4.18 reads (plexapi/myplex.py): `POST /api/v2/pins` and
`GET /api/v2/pins/{id}` answer a `<pin>` element (id, code, clientIdentifier, expiresIn,
expiresAt, authToken); `GET /api/v2/user` a `<user>` with `<subscription>` and `<profile>`
children (MyPlexAccount reads both); `GET /api/v2/resources` one `<resource>` per device with
`<connections><connection protocol address port uri local relay IPv6/>`. JSON instead of XML
when the request says `Accept: application/json`, as plex.tv does.

plex.tv's rules that matter to a client: a pin is checked only by the client identifier that
created it (anyone else gets 404); an expired pin is a 404 "Code not found or expired"
(error 1020); a request without X-Plex-Client-Identifier is refused (400); an unknown token
on /user or /resources is a 401. Nothing here reaches the internet: tests hand plexapi a
requests session whose adapter sends https://plex.tv/... here (plex/account/session.py).
"""
from __future__ import annotations

import json
import secrets
import string
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import quoteattr

PIN_LIFETIME = 1800.0          # seconds plex.tv keeps a 4-character pin (expiresIn at creation)
CODE_ALPHABET = string.ascii_uppercase + string.digits
EXPIRED = (404, 1020, "Code not found or expired")
UNAUTHENTICATED = (401, 1001, "User could not be authenticated")
NO_CLIENT_ID = (400, 1000, "X-Plex-Client-Identifier is missing")


@dataclass
class Connection:
    """One address plex.tv advertises for a server (what PMS reported, or the relay)."""
    uri: str
    address: str
    port: int
    protocol: str = "http"
    local: bool = True
    relay: bool = False


@dataclass
class ServerResource:
    name: str
    connections: list = field(default_factory=list)
    owned: bool = True
    version: str = "1.41.3.9314-a0bfb8370"
    provides: str = "server"
    client_identifier: str = field(default_factory=lambda: secrets.token_hex(20))
    access_token: str = ""          # plex.tv gives the server's token; the account's if owned
    source_title: str = ""          # the owner's name, for a shared server
    presence: bool = True
    https_required: bool = False


@dataclass
class Account:
    token: str
    username: str = "plexsync-user"
    servers: list = field(default_factory=list)
    uuid: str = field(default_factory=lambda: secrets.token_hex(8))
    id: int = 1001


@dataclass
class Pin:
    id: int
    code: str
    client_id: str
    product: str
    created: float
    lifetime: float
    token: str | None = None


class PlexTvEmulator:
    def __init__(self, *, clock=time.time, pin_lifetime: float = PIN_LIFETIME):
        self.clock = clock
        self.pin_lifetime = pin_lifetime
        self.accounts: dict[str, Account] = {}
        self.pins: dict[int, Pin] = {}
        self.requests: list[dict] = []   # method, path, query, client id, whether a token came
        self._next_pin = 700_000_000
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._port = 0

    # ---- what a test (or the person at plex.tv/link) does --------------------------------
    def add_account(self, token: str, **kwargs) -> Account:
        account = Account(token=token, **kwargs)
        self.accounts[token] = account
        return account

    def authorize(self, code: str, account: Account) -> None:
        """The person signed in at plex.tv/link and entered `code`."""
        with self._lock:
            pin = next((p for p in self.pins.values() if p.code == code.upper()), None)
            if pin is None or self._left(pin) <= 0:
                raise KeyError(f"plex.tv has no live pin {code!r}")
            pin.token = account.token

    def pin_by_code(self, code: str) -> Pin:
        return next(p for p in self.pins.values() if p.code == code)

    # ---- lifecycle -----------------------------------------------------------------------
    def start(self) -> "PlexTvEmulator":
        if self._server is None:
            self._server = ThreadingHTTPServer(("127.0.0.1", self._port), _Handler)
            self._server.daemon_threads = True
            self._server.emulator = self
            self._port = self._server.server_address[1]
            threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                             daemon=True, name=f"plextv-emulator:{self._port}").start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "PlexTvEmulator":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    # ---- routes --------------------------------------------------------------------------
    def answer(self, method: str, path: str, query: dict, headers) -> tuple[int, object]:
        client_id = headers.get("X-Plex-Client-Identifier")
        token = headers.get("X-Plex-Token") or query.get("X-Plex-Token", [None])[0]
        with self._lock:
            self.requests.append({"method": method, "path": path, "query": query,
                                  "client_id": client_id, "token_sent": bool(token)})
            if path == "/api/v2/pins" and method == "POST":
                return self._create_pin(client_id, headers, query)
            if path.startswith("/api/v2/pins/") and method == "GET":
                return self._check_pin(path.rsplit("/", 1)[1], client_id)
            if path in ("/api/v2/user", "/api/v2/resources") and method == "GET":
                account = self.accounts.get(token or "")
                if account is None:
                    return _error(UNAUTHENTICATED)
                return 200, (_user(account) if path.endswith("user") else _resources(account, query))
        return _error((404, 1002, f"no route {method} {path}"))

    def _create_pin(self, client_id, headers, query) -> tuple[int, object]:
        if not client_id:
            return _error(NO_CLIENT_ID)
        strong = query.get("strong", ["false"])[0].lower() in ("1", "true")
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(25 if strong else 4))
        self._next_pin += 1
        pin = Pin(self._next_pin, code, client_id, headers.get("X-Plex-Product", ""),
                  self.clock(), self.pin_lifetime)
        self.pins[pin.id] = pin
        return 201, self._pin_view(pin)

    def _check_pin(self, pin_id: str, client_id) -> tuple[int, object]:
        pin = self.pins.get(int(pin_id)) if pin_id.isdigit() else None
        if pin is None or pin.client_id != client_id or self._left(pin) <= 0:
            return _error(EXPIRED)
        return 200, self._pin_view(pin)

    def _left(self, pin: Pin) -> float:
        return pin.created + pin.lifetime - self.clock()

    def _pin_view(self, pin: Pin) -> dict:
        return {"tag": "pin", "attrs": {
            "id": pin.id, "code": pin.code, "product": pin.product, "trusted": 0,
            "clientIdentifier": pin.client_id, "expiresIn": max(0, int(self._left(pin))),
            "createdAt": _iso(pin.created), "expiresAt": _iso(pin.created + pin.lifetime),
            "authToken": pin.token or "", "newRegistration": ""}, "children": []}


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _error(kind: tuple[int, int, str]) -> tuple[int, object]:
    status, code, message = kind
    return status, {"tag": "errors", "attrs": {}, "children": [
        {"tag": "error", "attrs": {"code": code, "message": message, "status": status},
         "children": []}]}


def _user(account: Account) -> dict:
    node = lambda tag, attrs=None, children=(): {"tag": tag, "attrs": attrs or {},  # noqa: E731
                                                   "children": list(children)}
    return node("user", {
        "id": account.id, "uuid": account.uuid, "username": account.username,
        "title": account.username, "email": f"{account.username}@example.invalid",
        "friendlyName": "", "locale": "", "confirmed": 1, "joinedAt": 1577836800,
        "emailOnlyAuth": 0, "hasPassword": 1, "protected": 0, "thumb": "",
        "authToken": account.token, "mailingListStatus": "unsubscribed", "mailingListActive": 0,
        "scrobbleTypes": "", "country": "US", "restricted": 0, "anonymous": "", "home": 0,
        "guest": 0, "homeSize": 1, "homeAdmin": 0, "maxHomeSize": 15, "twoFactorEnabled": 0,
        "backupCodesCreated": 0, "experimentalFeatures": 0}, [
        node("subscription", {"active": 0, "subscribedAt": "", "status": "Inactive",
                              "paymentService": "", "plan": ""}, [node("features")]),
        node("profile", {"autoSelectAudio": 1, "defaultAudioLanguage": "en",
                         "defaultSubtitleLanguage": "en", "autoSelectSubtitle": 0,
                         "defaultSubtitleAccessibility": 0, "defaultSubtitleForces": 0}),
        node("entitlements"), node("roles"), node("services")])


def _resources(account: Account, query: dict) -> dict:
    with_relay = query.get("includeRelay", ["0"])[0] == "1"
    items = []
    for server in account.servers:
        connections = [{"tag": "connection", "attrs": {
            "protocol": c.protocol, "address": c.address, "port": c.port, "uri": c.uri,
            "local": int(c.local), "relay": int(c.relay), "IPv6": 0}, "children": []}
            for c in server.connections if with_relay or not c.relay]
        items.append({"tag": "resource", "attrs": {
            "name": server.name, "product": "Plex Media Server",
            "productVersion": server.version, "platform": "Linux", "platformVersion": "6.1",
            "device": "PC", "clientIdentifier": server.client_identifier,
            "createdAt": "2024-01-01T00:00:00Z", "lastSeenAt": "2026-01-01T00:00:00Z",
            "provides": server.provides, "ownerId": "" if server.owned else 2002,
            "sourceTitle": server.source_title, "publicAddress": "203.0.113.7",
            "accessToken": server.access_token or account.token, "owned": int(server.owned),
            "home": 0, "synced": 0, "relay": 1, "presence": int(server.presence),
            "httpsRequired": int(server.https_required), "publicAddressMatches": 1,
            "dnsRebindingProtection": 0, "natLoopbackSupported": 0},
            "children": [{"tag": "connections", "attrs": {}, "children": connections}]})
    return {"tag": "resources", "attrs": {"size": len(items)}, "children": items}


def to_xml(node: dict) -> str:
    attrs = "".join(f" {k}={quoteattr(str(v))}" for k, v in node["attrs"].items())
    inner = "".join(to_xml(child) for child in node["children"])
    return f"<{node['tag']}{attrs}>{inner}</{node['tag']}>" if inner else f"<{node['tag']}{attrs}/>"


def to_json(node: dict):
    """plex.tv's JSON form: attributes as keys, lists for the repeated children."""
    if node["tag"] in ("resources", "connections", "errors", "features", "roles"):
        return [to_json(child) for child in node["children"]]
    value = dict(node["attrs"])
    for child in node["children"]:
        value[child["tag"]] = to_json(child)
    return value


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):
        pass

    def do_GET(self):
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        status, node = self.server.emulator.answer(self.command, parts.path,
                                                   parse_qs(parts.query), self.headers)
        if "application/json" in (self.headers.get("Accept") or ""):
            value = to_json(node)
            body = json.dumps({"errors": value} if node["tag"] == "errors" else value).encode()
            kind = "application/json"
        else:
            body = ('<?xml version="1.0" encoding="UTF-8"?>\n' + to_xml(node)).encode()
            kind = "application/xml"
        self.send_response(status)
        self.send_header("Content-Type", f"{kind}; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_PUT = do_DELETE = do_GET
