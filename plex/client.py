"""PlexClient: every HTTP request PlexSync makes to Plex goes through here.

- The PlexServer is created on first use, so building a client costs no network (the worker
  builds one before it knows whether there is anything to sync).
- requests' (connect, read) timeouts from the config; TLS verification per verify_tls.
- tenacity retries ONLY connection errors, twice, quickly, and only GET/PUT (idempotent): a
  blip costs nothing, while real backoff, the circuit breaker and the dead-letter queue belong
  to the worker. An upload (POST) is never re-sent blindly: when its answer is lost, Plex's
  poster list says whether it arrived.
- One X-Plex-Client-Identifier, created once in <data_dir>/client_id, and product "PlexSync",
  so Plex lists one device instead of a new one for every process.
- The token travels in a header, never in a URL; every error passes errors.translate().
"""
from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
import uuid
import warnings
from pathlib import Path
from urllib.parse import urlsplit
from xml.etree import ElementTree
from xml.etree.ElementTree import Element

import requests
import tenacity
import urllib3
from plexapi import exceptions as plexapi_errors
from plexapi import utils as plexapi_utils
from plexapi.server import PlexServer

from plex.edit_split import Split, split_edits
from plex.errors import ItemNotFound, PlexBadRequest, PlexUnavailable, translate
from plex.item_state import ItemState
from validation.config import Config

log = logging.getLogger(__name__)
PRODUCT = "PlexSync"
_IMAGE_KINDS = {"poster": "posters", "art": "arts"}
# Request-line sizes proxies commonly accept (nginx large_client_header_buffers 8k, then
# smaller buffers people configure). Tried in turn after a 414/413, largest first.
REQUEST_LINE_LIMITS = (8192, 4096, 2048, 1024)
_LINE_OVERHEAD = len("PUT ") + len(" HTTP/1.1\r\n")
_TOO_LONG = (413, 414)
# Longest request line each server ((plex_url, machineIdentifier)) took, once it refused a
# longer one. Kept for the process: a drainer learns it with one refused PUT, and later PUTs
# are split at once.
_learned_limits: dict[tuple[str, str], int] = {}
_learned_lock = threading.Lock()


def next_limit(refused_line: int, known: int | None) -> int | None:
    """After a request line of `refused_line` bytes was refused: the next limit to try, or
    None when even the smallest common limit was refused."""
    ceiling = min(refused_line - 1, known or refused_line)
    return next((limit for limit in REQUEST_LINE_LIMITS if limit <= ceiling), None)


def client_identifier(data_dir: str | Path) -> str:
    """The persistent X-Plex-Client-Identifier; created once, safe when two processes race."""
    path = Path(data_dir) / "client_id"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:  # we won the race: one short write, so a reader sees all of it or (briefly) nothing
        with os.fdopen(fd, "w") as handle:
            handle.write(str(uuid.uuid4()))
    for _ in range(50):
        text = path.read_text().strip()
        try:
            return str(uuid.UUID(text))
        except ValueError:
            time.sleep(0.01)  # the winner has not written yet
    raise OSError(f"{path} does not hold a client id; delete the file and PlexSync makes a new one")


class _PlexSyncServer(PlexServer):
    """plexapi's PlexServer sending PlexSync's device headers on every request it makes."""

    def __init__(self, baseurl, token, session, timeout, device_headers):
        self._device_headers = device_headers  # before super(): its __init__ already queries
        super().__init__(baseurl, token=token, session=session, timeout=timeout)

    def _headers(self, **kwargs):
        headers = super()._headers()
        headers.update(self._device_headers)
        headers.update(kwargs)
        return headers


_retry_connection_errors = tenacity.retry(
    retry=tenacity.retry_if_exception_type(requests.ConnectionError),
    stop=tenacity.stop_after_attempt(2), wait=tenacity.wait_fixed(0.2), reraise=True)


def _session_for(cfg: Config) -> requests.Session:
    """A session whose environment settings are read ONCE. With trust_env on, requests re-reads
    every *_proxy variable and the CA bundle variables from os.environ on each request
    (measured: ~13% of a drain's CPU); every request goes to plex_url, so the proxy that
    applies to it (or none, per no_proxy) is decided here. Plex auth is the token, not netrc."""
    session = requests.Session()
    session.trust_env = False
    session.proxies = requests.utils.get_environ_proxies(cfg.plex_url)
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    session.verify = (bundle or True) if cfg.verify_tls else False
    return session


class PlexClient:
    def __init__(self, cfg: Config, data_dir: str | Path):
        self._cfg = cfg
        self._session = _session_for(cfg)
        if not cfg.verify_tls:  # the user chose this; urllib3 would warn on stderr per request
            warnings.filterwarnings("ignore", category=urllib3.exceptions.InsecureRequestWarning)
        self._timeout = (cfg.connect_timeout, cfg.read_timeout)
        self._device_headers = {"X-Plex-Client-Identifier": client_identifier(data_dir),
                                "X-Plex-Product": PRODUCT, "X-Plex-Device-Name": PRODUCT}
        self._server: PlexServer | None = None

    @property
    def client_id(self) -> str:
        return self._device_headers["X-Plex-Client-Identifier"]

    def _connect(self) -> PlexServer:
        if self._server is None:
            self._server = _PlexSyncServer(self._cfg.plex_url, self._cfg.plex_token, self._session,
                                           self._timeout, self._device_headers)
        return self._server

    def _send(self, path: str, method: str, raw: bool = False, **kwargs):
        server = self._connect()
        if not raw:
            return server.query(path, method=getattr(self._session, method), **kwargs)
        response = self._session.get(server.url(path), headers=server._headers(),
                                     timeout=self._timeout, **kwargs)
        if response.status_code != 200:  # same message shape as plexapi's, for translate()
            raise plexapi_errors.BadRequest(f"({response.status_code}) {response.reason}; "
                                            f"{response.url}")
        return response.content

    _send_retrying = _retry_connection_errors(_send)

    def _request(self, path: str, method: str = "get", **kwargs):
        send = self._send_retrying if method in ("get", "put") else self._send
        try:
            return send(path, method, **kwargs)
        except Exception as exc:  # noqa: BLE001 - the boundary: everything leaves translated
            # `from None`: the library's chained traceback may quote URLs and headers.
            raise translate(exc, (self._cfg.plex_token,)) from None

    def query_xml(self, path: str, params: dict | None = None) -> Element:
        """GET a Plex path and return the parsed MediaContainer (raw XML, no plexapi objects)."""
        root = self._request(path, params=params)
        if root is None:
            raise PlexBadRequest(f"Plex answered {path} with an empty body")
        return root

    def query_bytes(self, path: str, params: dict | None = None) -> bytes:
        """GET a Plex path and return the undecoded XML body. For the index's big pages: its
        own expat handlers keep a few attributes per item instead of building a whole tree
        (plex/index_xml.py)."""
        return self._request(path, raw=True, params=params)

    def sections(self) -> list[dict]:
        """Every library: [{"id", "title", "type", "locations": [folder, ...]}]."""
        root = self.query_xml("/library/sections")
        return [{"id": d.attrib.get("key", ""), "title": d.attrib.get("title", ""),
                 "type": d.attrib.get("type", ""),
                 "locations": [loc.attrib.get("path", "") for loc in d.findall("Location")]}
                for d in root.findall("Directory")]

    def fetch_item(self, rating_key: str) -> ItemState:
        """The item's full metadata (complete tag lists, every Media/Part file): one GET."""
        try:
            return ItemState.from_xml(self.query_xml(f"/library/metadata/{rating_key}"))
        except ValueError:  # an answer without the item: as good as a 404
            raise ItemNotFound(f"Plex has no item with ratingKey {rating_key}") from None

    def put_edits(self, section_id: str, rating_key: str, params: dict) -> Split:
        """PUT /library/sections/{sid}/all?type=1&id=rk&... with every edit of the item: ONE
        PUT while the server takes the URL; after a 414/413 (a proxy's URL limit) as few PUTs
        as fit the limit learned for this server (plex/edit_split.py). Returns what was sent,
        with any field that had to be cut."""
        path = f"/library/sections/{section_id}/all"
        fixed = {"type": 1, "id": rating_key}
        # What the request line holds besides the edit pairs: method, any path prefix of
        # plex_url (a reverse proxy at /plex), the path, "?type=1&id=rk", protocol.
        prefix = urlsplit(self._cfg.plex_url).path.rstrip("/") + path
        overhead = _LINE_OVERHEAD + len(prefix) + len(plexapi_utils.joinArgs(fixed))
        with _learned_lock:
            limit = _learned_limits.get(self._server_key())
        todo = split_edits(params, limit - overhead) if limit else Split((dict(params),))
        sent, cut = [], dict(todo.cut)
        queue = list(todo.puts)
        while queue:
            chunk = queue.pop(0)
            # joinArgs quotes every value once more, which Plex expects for the removal lists.
            query = plexapi_utils.joinArgs({**fixed, **chunk})
            try:
                self._request(path + query, "put")
                sent.append(chunk)
                continue
            except PlexBadRequest as exc:
                if exc.status not in _TOO_LONG:
                    raise
                limit = self._learn(_LINE_OVERHEAD + len(prefix) + len(query), exc)
            rest = {k: v for part in [chunk, *queue] for k, v in part.items()}
            again = split_edits(rest, limit - overhead)
            cut.update(again.cut)
            queue = list(again.puts)
        return Split(tuple(sent), cut)

    def _server_key(self) -> tuple[str, str]:
        """Which server a learned limit belongs to: a new server on the same address (or a
        test emulator on a reused port) must not inherit it. Costs no request once connected."""
        if self._server is None:
            self._request("/identity")  # connects (and translates any failure)
        return self._cfg.plex_url, str(getattr(self._server, "machineIdentifier", "") or "")

    def _learn(self, refused_line: int, exc: PlexBadRequest) -> int:
        url, key = self._cfg.plex_url, self._server_key()
        with _learned_lock:
            limit = next_limit(refused_line, _learned_limits.get(key))
            if limit is None:
                raise PlexBadRequest(
                    f"Plex (or a proxy in front of it) refused a {refused_line}-byte request "
                    f"(HTTP {exc.status}) and PlexSync cannot make it shorter than "
                    f"{REQUEST_LINE_LIMITS[-1]} bytes; raise the proxy's URL limit (nginx: "
                    "large_client_header_buffers) or point the Plex URL setting (plex_url) at "
                    "Plex directly", exc.status) from None
            _learned_limits[key] = limit
        log.info("Plex at %s refused a %d-byte request line (HTTP %s): edits are now split "
                 "into URLs of at most %d bytes", url, refused_line, exc.status, limit)
        return limit

    def upload_image(self, rating_key: str, kind: str, data: bytes) -> None:
        """POST the image bytes as the item's poster or background art (Plex locks it).

        When the answer is lost (connection reset, timeout: no status), the upload may well
        have happened; ask Plex which image it shows before anyone sends it again."""
        try:
            self._request(f"/library/metadata/{rating_key}/{_IMAGE_KINDS[kind]}", "post",
                          data=data)
        except PlexUnavailable as exc:
            if exc.status is not None or not self._shows_image(rating_key, kind, data):
                raise
            return

    def _shows_image(self, rating_key: str, kind: str, data: bytes) -> bool:
        """True if the item's selected poster/art is these bytes. PMS lists uploads as
        <Photo ratingKey="upload://posters/<sha1>" selected="1" key="/library/metadata/N/
        file?url=…">; when the name does not carry the sha1, the selected upload's bytes do."""
        sha1 = hashlib.sha1(data).hexdigest()
        try:
            root = self.query_xml(f"/library/metadata/{rating_key}/{_IMAGE_KINDS[kind]}")
            for photo in root.findall("Photo"):
                if photo.attrib.get("selected") not in ("1", "true"):
                    continue
                name = photo.attrib.get("ratingKey", "")
                if name.split("?")[0].rsplit("/", 1)[-1] == sha1:
                    return True
                key = photo.attrib.get("key", "")
                return bool(name.startswith("upload://") and key) and \
                    hashlib.sha1(self.query_bytes(key)).hexdigest() == sha1
        except PlexUnavailable:
            return False  # cannot tell now: the job's retry decides later
        return False

    def scan_path(self, section_id: str, folder: str) -> None:
        """Ask Plex to scan one folder of one library (a partial scan, not the whole library)."""
        self._request(f"/library/sections/{section_id}/refresh", params={"path": folder})

    @_retry_connection_errors
    def _get_direct(self, path: str, params: dict | None) -> Element:
        url = self._cfg.plex_url + path
        headers = {"X-Plex-Token": self._cfg.plex_token, "Accept": "application/xml",
                   **self._device_headers}
        response = self._session.get(url, headers=headers, params=params, timeout=self._timeout)
        if response.status_code != 200:  # same message shape as plexapi's, for translate()
            raise plexapi_errors.BadRequest(f"({response.status_code}) {response.reason}; "
                                            f"{response.url}")
        return ElementTree.fromstring(response.content)

    def query_xml_direct(self, path: str, params: dict | None = None) -> Element:
        """Like query_xml, without building plexapi's PlexServer first (that costs a GET / of
        its own): the play import's 'nothing new in Plex = one request' depends on it."""
        try:
            return self._get_direct(path, params)
        except Exception as exc:  # noqa: BLE001 - the boundary: everything leaves translated
            raise translate(exc, (self._cfg.plex_token,)) from None

    def ping(self) -> None:
        """Health probe for the circuit breaker: raises a plex.errors error when unhealthy.

        It reads the library list, not /identity: during maintenance or an upgrade PMS answers
        /identity while every /library/... request gets 503, and a probe that passed then
        would close the breaker only for the jobs to fail again."""
        self._request("/library/sections")
