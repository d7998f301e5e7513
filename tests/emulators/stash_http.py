"""The HTTP face of the Stash emulator: routes, Stash's auth answers, gqlgen's status codes.

Routes: POST /graphql, GET /scene/{id}/screenshot, GET /performer/{id}/image, /login (GET page,
POST form), /logout, / (the UI page). Unauthenticated requests get what Stash's
authenticateHandler gives: 401 on /graphql and on paths with a file extension, a 302 to
/login?returnURL=... elsewhere, and 401 everywhere for a wrong API key. GraphQL documents that
do not parse, validate or bind their variables get 422 with `extensions.code` (gqlgen);
resolver errors get 200 with `errors` beside `data`.
"""
from __future__ import annotations

import re

import json
import re
import posixpath
import socket
import threading
import time
import urllib.parse
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import NamedTuple

from graphql import GraphQLSyntaxError, OperationDefinitionNode, execute_sync, parse, validate

from tests.emulators.stash_graphql import SCHEMA
from tests.emulators.stash_state import image_content_type

LOGIN_PAGE = (b"<!DOCTYPE html><html><head><title>Login | Stash</title></head><body>"
              b"<form method=\"post\" action=\"/login\"><input name=\"username\">"
              b"<input name=\"password\" type=\"password\"><button>Login</button></form>"
              b"</body></html>")
UI_PAGE = b"<!DOCTYPE html><html><head><title>Stash</title></head><body></body></html>"
HTML = "text/html; charset=utf-8"


@dataclass(frozen=True)
class GraphQLRequest:
    query: str
    variables: dict | None
    operation_name: str | None
    auth: str            # open | session | api_key_header | api_key_param | anonymous | bad_api_key
    status: int
    errors: tuple        # error messages, () when none
    at: float


class HttpRequest(NamedTuple):
    method: str
    path: str
    query: str
    status: int
    auth: str


def run_graphql(emulator, body: bytes, auth: str, base_url: str) -> tuple[int, dict]:
    """Execute one POST /graphql body and log it with the status of its answer."""
    try:
        query, variables, operation_name = _decode(body)
    except ValueError as exc:
        return 400, {"errors": [{"message": f"json request body could not be decoded: {exc}"}],
                     "data": None}
    status, payload = _run_document(emulator, query, variables, operation_name, base_url)
    emulator.record(GraphQLRequest(query, variables, _operation_name(query, operation_name), auth, status,
                                   tuple(e["message"] for e in payload.get("errors") or ()), time.time()))
    return status, payload


def _decode(body: bytes) -> tuple[str, dict | None, str | None]:
    request = json.loads(body or b"null")
    if not isinstance(request, dict):
        raise ValueError("the body is not a JSON object")
    return request.get("query") or "", request.get("variables"), request.get("operationName")


def record_refused(emulator, body: bytes, auth: str, status: int) -> None:
    """A document refused before execution (auth) still shows in the log, as sent."""
    try:
        query, variables, operation_name = _decode(body)
    except ValueError:
        query, variables, operation_name = body.decode("utf-8", "replace"), None, None
    emulator.record(GraphQLRequest(query, variables, _operation_name(query, operation_name), auth, status,
                                   (), time.time()))


def _operation_name(query: str, requested: str | None) -> str | None:
    """The operation that runs: the one asked for, else the document's only (named) one."""
    if requested:
        return requested
    try:
        operations = [d for d in parse(query).definitions if isinstance(d, OperationDefinitionNode)]
    except GraphQLSyntaxError:
        return None
    return operations[0].name.value if len(operations) == 1 and operations[0].name else None


def _run_document(emulator, query, variables, operation_name, base_url) -> tuple[int, dict]:
    try:
        document = parse(query)
    except GraphQLSyntaxError as exc:
        return 422, _failed([exc.formatted], "GRAPHQL_PARSE_FAILED")
    # An emulator playing an older Stash release validates against that release's real
    # schema (StashEmulator.validation_schema), exactly where gqlgen would answer 422.
    errors = validate(getattr(emulator, "validation_schema", None) or SCHEMA, document)
    if errors:
        # The real v0.30.1-19 server answers these with 400 (measured); the default stays
        # 422 as gqlgen documents it; StashEmulator(validation_status=400) plays the former.
        return (getattr(emulator, "validation_status", 422),
                _failed([e.formatted for e in errors], "GRAPHQL_VALIDATION_FAILED"))
    result = execute_sync(SCHEMA, document, variable_values=variables, operation_name=operation_name,
                          context_value={"emulator": emulator, "base_url": base_url})
    if result.data is None and result.errors and all(e.path is None for e in result.errors):
        return 422, _failed([_variable_error(e) for e in result.errors],  # variables did not bind
                            "GRAPHQL_VALIDATION_FAILED")
    # gqlgen reports a resolver's error with its path only, without locations (real Stash).
    formatted = [{"message": e.message, "path": e.path} for e in result.errors or ()]
    return 200, ({"data": result.data, "errors": formatted} if formatted else {"data": result.data})


_VARIABLE = re.compile(r"^Variable '\$(\w+)'")


def _variable_error(error) -> dict:
    """gqlgen's form of a variable that does not bind: path ["variable", name], no locations,
    "must be defined" for a missing non-null one (graphql-core words it differently)."""
    match = _VARIABLE.match(error.message)
    if not match:
        return error.formatted
    message = error.message.split(": ", 1)[-1]
    if "to be provided" in message:
        message = "must be defined"
    elif "not to be null" in message:
        message = "must not be null"
    return {"message": message, "path": ["variable", match.group(1)]}


def _failed(errors: list, code: str) -> dict:
    return {"errors": [{**e, "message": _gqlparser_quotes(e["message"]), "extensions": {"code": code}}
                       for e in errors], "data": None}


def _gqlparser_quotes(message: str) -> str:
    """graphql-core quotes names 'like this', Stash's gqlparser "like this" (e.g. Cannot query
    field "groups" on type "Scene".): users read Stash's wording, so the emulator answers it."""
    return re.sub(r"'([^'\s]*)'", r'"\1"', message)


class StashHTTPServer(ThreadingHTTPServer):
    """One thread per connection, so a hook can call back while its mutation is still open."""
    daemon_threads = True
    # Stash (Go's net/http) listens with the kernel's full backlog; socketserver's default of 5
    # resets connections when 30 hook processes ask at once.
    request_queue_size = 128
    allow_reuse_address = True  # up() listens on the same port again at once

    def __init__(self, emulator, port: int = 0):
        super().__init__(("127.0.0.1", port), _Handler)
        self.emulator = emulator
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def track(self, conn, alive: bool) -> None:
        with self._connections_lock:
            (self._connections.add if alive else self._connections.discard)(conn)

    def close_connections(self) -> None:
        # Keep-alive connections would otherwise still be served after stop().
        with self._connections_lock:
            for conn in list(self._connections):
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self._connections.clear()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: StashHTTPServer

    def setup(self):
        super().setup()
        self.server.track(self.connection, True)

    def finish(self):
        self.server.track(self.connection, False)
        super().finish()

    def log_message(self, *args):
        pass

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        emulator = self.server.emulator
        url = urllib.parse.urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        auth, allowed = emulator.authenticate(self.headers, urllib.parse.parse_qs(url.query))
        self._logged = (method, url.path, url.query, auth)
        self._route(emulator, method, url, body, auth, allowed)

    def _route(self, emulator, method, url, body, auth, allowed) -> int:
        if getattr(emulator, "gone", False):  # going down: the connection closes unanswered
            self.close_connection = True
            return 0
        path, prefix = url.path, (self.headers.get("X-Forwarded-Prefix") or "").rstrip("/")
        public = path.startswith("/login") or path == "/logout"
        if auth == "bad_api_key" or (not allowed and not public):
            extension = posixpath.splitext(path)[1]
            if path == "/graphql":
                record_refused(emulator, body, auth, 401)
            if auth == "bad_api_key" or path == "/graphql" or extension not in ("", ".html"):
                return self._send(401, b"", "text/plain", {"WWW-Authenticate": "FormBased"})
            back = prefix + path + (f"?{url.query}" if url.query else "")
            location = f"{prefix}/login?{urllib.parse.urlencode({'returnURL': back})}"
            return self._send(302, f'<a href="{location}">Found</a>.\n\n'.encode(), HTML,
                              {"Location": location})
        if path == "/graphql":
            if method != "POST":
                return self._send(400, b'{"errors":[{"message":"transport not supported"}],"data":null}',
                                  "application/json")
            scheme = "https" if self.headers.get("X-Forwarded-Proto") == "https" else "http"
            base = f"{scheme}://{self.headers.get('Host') or f'127.0.0.1:{emulator.port}'}{prefix}"
            emulator.wait_for_answer_release()
            status, payload = run_graphql(emulator, body, auth, base)
            sent = self._send(status, json.dumps(payload).encode(), "application/json")
            emulator.answered(_operation_name(*_decode(body)[::2]) if status == 200 else None)
            return sent
        if path == "/login":
            session = emulator.login(body) if method == "POST" else None
            if session:
                back = urllib.parse.parse_qs(url.query).get("returnURL", ["/"])[0]
                return self._send(302, b"", HTML, {"Location": back,
                                                   "Set-Cookie": f"session={session}; Path=/; HttpOnly"})
            return self._send(401 if method == "POST" else 200, LOGIN_PAGE, HTML)
        if path == "/logout":
            return self._send(302, b"", HTML, {"Location": f"{prefix}/login"})
        if path == "/":
            return self._send(200, UI_PAGE, HTML)
        image = emulator.state.image_at(path) if method == "GET" else None
        if image is not None:
            return self._send(200, image, image_content_type(image))
        return self._send(404, b"404 page not found\n", "text/plain; charset=utf-8")

    def _send(self, status: int, body: bytes, content_type: str, headers: dict | None = None) -> int:
        # Logged before the answer leaves, so a client that has its answer also sees the entry.
        method, path, query, auth = self._logged
        self.server.emulator.record(HttpRequest(method, path, query, status, auth))
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)
        return status
