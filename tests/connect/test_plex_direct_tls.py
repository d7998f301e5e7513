"""The local HTTPS plex.direct address wins when its certificate is valid, and Verify TLS is
stored on; with a certificate that does not verify, Connect falls back to the next address.

The plex.direct name is routed to a loopback TLS Plex emulator whose certificate is made here
for that name; the name is still the one checked (SNI and certificate), as after a real DNS
answer. The certificate is trusted through REQUESTS_CA_BUNDLE, as PlexClient trusts one.
"""
from __future__ import annotations

import shutil
import ssl
import subprocess
from pathlib import Path

import pytest

from hooks.stash_api import StashClient
from plex.account.session import ROUTES_ENV
from tests.emulators.plex_server import PlexEmulator
from tests.emulators.plextv_server import Connection
from tests.emulators.plextv_world import ACCOUNT_TOKEN, plex_direct
from worker.tasks.connect.flow import ConnectFlow

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def certificate_for(name: str, folder):
    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed: cannot make a certificate for plex.direct")
    key, cert = folder / "plex.key", folder / "plex.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
                    "-out", str(cert), "-days", "1", "-subj", f"/CN={name}",
                    "-addext", f"subjectAltName=DNS:{name}"], check=True, capture_output=True)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context, cert


@pytest.fixture
def tls_world(world, tmp_path, monkeypatch):
    """The world's server gains a live local HTTPS plex.direct address, first in plex.tv's list."""
    uri = plex_direct("127.0.0.1", 32400)
    context, cert = certificate_for(uri.split("//")[1].split(":")[0], tmp_path)
    plex = PlexEmulator(token=ACCOUNT_TOKEN, tls=context, friendly_name="Living room",
                        machine_identifier=world.plex.machine_identifier).start()
    world.living_room.connections.insert(0, Connection(uri, "127.0.0.1", 32400, "https", local=True))
    world.routes[uri] = f"https://127.0.0.1:{plex.port}"
    monkeypatch.setenv(ROUTES_ENV, world.routes_json())
    world.tls_uri, world.cert = uri, cert
    yield world
    plex.stop()


def connect(stash, tmp_path, world):
    flow = ConnectFlow(StashClient(stash.url), tmp_path / "data", PROJECT_ROOT)
    pin = flow.start()
    world.authorize_latest()
    flow.check(pin.pin_id)
    return flow.choose("Living room")


def test_a_valid_plex_direct_certificate_wins_and_keeps_verify_tls_on(tls_world, stash_factory,
                                                                      tmp_path, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tls_world.cert))
    stash = stash_factory()
    stash.set_plugin_settings("PlexSync", {"verify_tls": False})

    chosen = connect(stash, tmp_path, tls_world)

    assert chosen.candidate.url == tls_world.tls_uri and chosen.outcomes[0].ok
    assert stash.plugin_settings("PlexSync") == {"verify_tls": True, "plex_url": tls_world.tls_uri,
                                                 "plex_token": ACCOUNT_TOKEN}


def test_a_certificate_that_does_not_verify_falls_back_to_the_next_address(tls_world, stash_factory,
                                                                          tmp_path, monkeypatch):
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    stash = stash_factory()

    chosen = connect(stash, tmp_path, tls_world)

    assert chosen.outcomes[0].error == "its certificate is not valid"
    assert chosen.candidate.url == f"http://127.0.0.1:{tls_world.plex.port}"
    assert "verify_tls" not in stash.plugin_settings("PlexSync")  # http: left as it was
