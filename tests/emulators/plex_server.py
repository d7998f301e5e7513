"""Plex Media Server emulator: a loopback HTTP server that plexapi 4.18 talks to as to PMS.

    with PlexEmulator(token="plex-token") as plex:
        section = plex.add_section("Movies", location="/data/movies")
        rk = plex.add_item(section, "Title", files=["/data/movies/a.mkv"], genres=["Drama"])
        PlexServer(plex.url, plex.token).fetchItem(rk)

The state (plex_state), routes (plex_app), XML (plex_xml) and edit rules (plex_edits) live in
their own modules; this one owns sockets, lifecycle, faults and the request log. Faults act on
the wire, before auth and routing: `down()` closes the listener and every open connection
(connection refused), `hang_next` reads a request and never answers, `drop_next` resets the
connection mid-response.
"""
from __future__ import annotations

import select
import socket
import struct
import threading
import time
import traceback
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from tests.emulators.plex_app import PlexApp, Request, Response, error
from tests.emulators.plex_plays import add_play
from tests.emulators.plex_faults import LOGGED_HEADERS, FaultPlan, RequestLog, RequestRecord
from tests.emulators.plex_state import PlexState
from tests.emulators.plex_xml import VERSION


MAINTENANCE_PAGE = ("<html><head><title>Maintenance</title></head><body><h1>Maintenance</h1>"
                    "<p>Plex Media Server is performing maintenance. Please try again later."
                    "</p></body></html>")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"          # keep-alive, like PMS; down() must cut these too
    server_version = f"PlexMediaServer/{VERSION}"
    sys_version = ""
    timeout = 30                           # reap idle keep-alive connections
    disable_nagle_algorithm = True         # headers and body go out in two writes: no 40 ms
                                           # Nagle / delayed-ACK stall per response

    def setup(self):
        super().setup()
        self.server.emulator._track(self.connection, add=True)

    def finish(self):
        try:
            super().finish()
        finally:
            self.server.emulator._track(self.connection, add=False)

    def log_message(self, format, *args):  # the request log replaces stderr noise
        pass

    def do_GET(self):
        self.server.emulator._serve(self)

    do_PUT = do_POST = do_DELETE = do_GET


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False                 # stop() must not wait for a hanging request
    allow_reuse_address = True             # up() binds the same port again at once
    request_queue_size = 128               # socketserver's 5 resets bursts a real server takes

    def __init__(self, address, emulator):
        self.emulator = emulator
        super().__init__(address, _Handler)

    def handle_error(self, request, client_address):
        pass                               # clients vanishing mid-request is routine here


class PlexEmulator:
    def __init__(self, token: str = "plex-token", *, clock=time.time,
                 machine_identifier: str | None = None,
                 friendly_name: str = "PlexSync Emulator", host: str = "127.0.0.1",
                 tls=None):
        self.host = host
        self.tls = tls  # an ssl.SSLContext (server side): serve HTTPS, as Plex does on 32400
        self.clock = clock
        self.state = PlexState(clock)
        self.faults = FaultPlan(clock)
        self.log = RequestLog()
        self.machine_identifier = machine_identifier or uuid.uuid4().hex
        self.app = PlexApp(self.state, token, self.machine_identifier, friendly_name)
        self.errors: list[str] = []        # tracebacks of emulator bugs (answered with 500)
        # nginx in front of Plex: a request line longer than this many bytes (method, target,
        # protocol, CRLF; nginx's large_client_header_buffers default is 8k) is answered 414.
        self.url_limit: int | None = None
        self._port = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._halt = threading.Event()
        self._lifecycle = threading.Lock()
        self._conns: set = set()
        self._conns_lock = threading.Lock()
        self._gauge = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0  # most requests answered at the same time since start

    # ---- lifecycle ---------------------------------------------------------------------
    def start(self) -> "PlexEmulator":
        with self._lifecycle:
            if self._server is None:
                self._listen()
        return self

    def stop(self) -> None:
        with self._lifecycle:
            self._close()

    def __enter__(self) -> "PlexEmulator":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def down(self) -> None:
        """Stop listening and cut every connection: clients get 'connection refused'."""
        self.stop()

    def up(self) -> None:
        """Listen again on the same port, with the same state."""
        self.start()

    @property
    def is_up(self) -> bool:
        return self._server is not None

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self._port}"

    @property
    def token(self) -> str:
        return self.app.token

    @token.setter
    def token(self, value: str) -> None:
        self.app.token = value

    def add_user_token(self, token: str) -> None:
        """A Plex Home / shared user's token: reads work, history and edits answer 401."""
        self.app.user_tokens.add(token)

    @property
    def has_history(self) -> bool:
        return self.app.has_history

    @has_history.setter
    def has_history(self, value: bool) -> None:
        """False: an older PMS without /status/sessions/history (every request there: 404)."""
        self.app.has_history = bool(value)

    def _listen(self) -> None:
        self._halt = threading.Event()
        self._server = _Server((self.host, self._port), self)
        self._port = self._server.server_address[1]
        if self.tls is not None:  # the handshake runs in the handler thread, on first read
            self._server.socket = self.tls.wrap_socket(self._server.socket, server_side=True,
                                                       do_handshake_on_connect=False)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True,
                                        name=f"plex-emulator:{self._port}")
        self._thread.start()

    def _close(self) -> None:
        if self._server is None:
            return
        self._halt.set()                   # releases hanging / delayed requests
        self._server.shutdown()
        self._server.server_close()
        with self._conns_lock:
            conns = list(self._conns)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(timeout=5)
        self._server = self._thread = None

    def _track(self, conn, add: bool) -> None:
        with self._conns_lock:
            (self._conns.add if add else self._conns.discard)(conn)

    # ---- faults ------------------------------------------------------------------------
    def fail_next(self, k: int, status: int = 500, *, method=None, path_prefix=None) -> None:
        self.faults.fail_next(k, status, method=method, path_prefix=path_prefix)

    def fail_for(self, seconds: float, status: int = 503, *, path_prefix=None, page="") -> None:
        self.faults.fail_for(seconds, status, path_prefix=path_prefix, page=page)

    def maintenance(self, seconds: float, path_prefix: str = "/library") -> None:
        """A partial outage as PMS has it during database maintenance or an upgrade: /identity
        and / still answer, everything under `path_prefix` gets 503 with an HTML page."""
        self.fail_for(seconds, 503, path_prefix=path_prefix, page=MAINTENANCE_PAGE)

    def latency(self, seconds: float) -> None:
        self.faults.latency(seconds)

    def hang_next(self, k: int, *, method=None, path_prefix=None) -> None:
        self.faults.hang_next(k, method=method, path_prefix=path_prefix)

    def drop_next(self, k: int, during: str = "headers", *, method=None, path_prefix=None):
        self.faults.drop_next(k, during, method=method, path_prefix=path_prefix)

    def lose_response_next(self, k: int, *, method=None, path_prefix=None) -> None:
        self.faults.lose_response_next(k, method=method, path_prefix=path_prefix)

    def clear_faults(self) -> None:
        self.faults.clear()

    # ---- request log -------------------------------------------------------------------
    @property
    def requests(self) -> list[RequestRecord]:
        return self.log.records()

    def records(self, method: str | None = None, path_prefix: str | None = None) -> list:
        return self.log.records(method, path_prefix)

    def count(self, method: str | None = None, path_prefix: str | None = None) -> int:
        return self.log.count(method, path_prefix)

    def clear_log(self) -> None:
        self.log.clear()

    # ---- library state -----------------------------------------------------------------
    def add_section(self, title: str, type: str = "movie", location=None) -> int:
        return self.state.add_section(title, type, location)

    def add_item(self, section_id, title: str, files=(), **fields) -> int:
        return self.state.add_item(section_id, title, files, **fields)

    def add_items(self, section_id, rows) -> list[int]:
        return self.state.add_items(section_id, rows)

    def item(self, rating_key) -> dict:
        return self.state.snapshot(rating_key)

    def set_item(self, rating_key, *, lock: bool = True, **fields) -> None:
        self.state.set_item(rating_key, lock=lock, **fields)

    def remove_item(self, rating_key) -> None:
        self.state.remove_item(rating_key)

    def rename_file(self, old: str, new: str) -> int:
        """Plex's view of a renamed file: same ratingKey, same updatedAt, new path."""
        return self.state.rename_file(old, new)

    def find_by_file(self, path: str) -> list[int]:
        return self.state.find_by_file(path)

    def find_by_title(self, title: str) -> list[int]:
        return self.state.find_by_title(title)

    def add_pending_file(self, section_id, path: str, title: str, *, scan_delay: float = 0.0,
                         **fields) -> None:
        self.state.add_pending_file(section_id, path, title, scan_delay=scan_delay, **fields)

    def add_play(self, rating_key, viewed_at: int, account_id: int = 1) -> int:
        """A finished play made in a Plex app (account 1 = the owner, whose token this is)."""
        with self.state.lock:
            return add_play(self.state, self.state.get(rating_key), viewed_at, account_id)

    @property
    def history(self) -> list[dict]:
        with self.state.lock:
            return [dict(r) for r in self.state.history]

    @property
    def scans(self) -> list[dict]:
        with self.state.lock:
            return [dict(s) for s in self.state.scans]

    # ---- one request -------------------------------------------------------------------
    def _serve(self, h: BaseHTTPRequestHandler) -> None:
        with self._gauge:  # requests being answered at once: a real PMS times out on bursts
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            self._serve_one(h)
        finally:
            with self._gauge:
                self.in_flight -= 1

    def _serve_one(self, h: BaseHTTPRequestHandler) -> None:
        halt, started = self._halt, time.monotonic()
        try:
            body = _read_body(h)
            split = urlsplit(h.path)
            path = split.path.rstrip("/") or "/"
            pairs = parse_qsl(split.query, keep_blank_values=True)
            query = dict(pairs)
            record = self.log.add(RequestRecord(
                h.command, path, {k: v for k, v in query.items() if k != "X-Plex-Token"},
                {k: h.headers[k] for k in LOGGED_HEADERS if h.headers.get(k) is not None},
                self.clock()))
            delay = self.faults.current_latency()
            if delay and halt.wait(delay):
                return _reset(h)            # went down while the request was delayed
            if self.url_limit and len(h.raw_requestline) > self.url_limit:
                record.status = 414
                return _send(h, nginx_414())
            fault = self.faults.take(h.command, path)
            record.fault = fault and fault.kind
            if fault and fault.kind == "hang":
                return _hang(h, halt)
            if fault and fault.kind == "drop":
                return _drop(h, fault.during)
            if fault and fault.kind == "lose":  # done, but the client never hears so
                headers = {k.lower(): v for k, v in h.headers.items()}
                record.status = self._answer(Request(h.command, path, query, pairs, headers,
                                                     body)).status
                return _reset(h)
            if fault and fault.page:
                response = Response(fault.status, fault.page.encode("utf-8"), "text/html")
            elif fault:
                response = error(fault.status)
            else:
                headers = {k.lower(): v for k, v in h.headers.items()}
                response = self._answer(Request(h.command, path, query, pairs, headers, body))
            record.status = response.status
            _send(h, response)
            record.duration = time.monotonic() - started
        except OSError:
            h.close_connection = True       # the client went away; nothing to answer

    def _answer(self, request: Request) -> Response:
        try:
            return self.app.handle(request)
        except Exception:                   # an emulator bug: make it loud, not a hang
            self.errors.append(traceback.format_exc())
            return error(500, "emulator error")


def nginx_414() -> Response:
    """What nginx answers for a request line over its buffer: an HTML page, and it closes."""
    page = ("<html>\r\n<head><title>414 Request-URI Too Large</title></head>\r\n<body>\r\n"
            "<center><h1>414 Request-URI Too Large</h1></center>\r\n<hr><center>nginx</center>"
            "\r\n</body>\r\n</html>\r\n")
    return Response(414, page.encode(), "text/html", {"Server": "nginx", "Connection": "close"})


def _read_body(h) -> bytes:
    if h.headers.get("Transfer-Encoding", "").lower() == "chunked":
        chunks = []
        while True:
            size = int(h.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                h.rfile.readline()
                return b"".join(chunks)
            chunks.append(h.rfile.read(size))
            h.rfile.readline()
    length = int(h.headers.get("Content-Length") or 0)
    return h.rfile.read(length) if length else b""


def _send(h, response: Response) -> None:
    h.send_response(response.status)
    h.send_header("Content-Type", response.content_type)
    h.send_header("Content-Length", str(len(response.body)))
    h.send_header("X-Plex-Protocol", "1.0")
    for name, value in response.headers.items():
        h.send_header(name, value)
    h.end_headers()
    h.wfile.write(response.body)


def _hang(h, halt: threading.Event) -> None:
    """Never answer; return when the client gives up (closes) or the server goes down."""
    sock = h.connection
    while not halt.is_set():
        readable, _, _ = select.select([sock], [], [], 0.05)
        if readable:
            break                           # EOF (client timed out) or unexpected bytes
    h.close_connection = True


def _drop(h, during: str) -> None:
    """Start answering, then reset the connection. 'headers' -> requests.ConnectionError;
    'body' -> requests.exceptions.ChunkedEncodingError (body shorter than Content-Length)."""
    if during == "body":
        body = b'<?xml version="1.0" encoding="UTF-8"?>\n<MediaContainer size="0">' + b" " * 2048
        h.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/xml;charset=utf-8\r\n"
                      b"Content-Length: %d\r\n\r\n" % (len(body) + 4096) + body)
    else:
        h.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/xml")
    _reset(h)


def _reset(h) -> None:
    """Close with RST (SO_LINGER 0) so the client sees a reset, not a clean end of stream."""
    h.close_connection = True
    try:
        h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        h.rfile.close()                     # drop the makefile reference so close() is real
        h.connection.close()
    except OSError:
        pass
