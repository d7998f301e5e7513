"""Issue 11 item 13: verify_tls=false must win over REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE.

requests lets those variables replace Session.verify for every request that does not pass
`verify` itself (plexapi never does). The Plex emulator serves HTTPS with a self-signed
certificate; Stash's environment (and so the hook's and the drainer's) points
REQUESTS_CA_BUNDLE at certifi's bundle, which does not trust it. With verify_tls=false the
scene must still land; with verify_tls=true and the certificate in the bundle it lands too
(the variable still counts when verification is on).
"""
from __future__ import annotations

import shutil
import ssl
import subprocess

import certifi
import pytest

from tests.emulators.plex_library import PART_I_FILE, load_small_library
from tests.emulators.plex_server import PlexEmulator


def _self_signed(tmp_path):
    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed: cannot make a self-signed certificate")
    key, cert = tmp_path / "plex.key", tmp_path / "plex.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                    str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context, cert


@pytest.fixture
def tls_synced(synced, tmp_path):
    context, cert = _self_signed(tmp_path)
    plex = PlexEmulator(token="plex-token", tls=context).start()
    synced.plex, synced.plex_library = plex, load_small_library(plex)
    synced.cert = cert
    try:
        yield synced
    finally:
        synced.kill_drainer()
        synced.kill_strays()
        plex.stop()
    assert not plex.errors, plex.errors


@pytest.mark.parametrize("variable", ["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"])
def test_verify_tls_false_wins_over_a_ca_bundle_in_the_environment(tls_synced, variable):
    env = tls_synced
    env.runner.env[variable] = certifi.where()  # Stash started with it set: so is every child
    env.configure(plex_url=env.plex.url, verify_tls="false")
    assert env.plex.url.startswith("https://")
    env.edit(env.library.scenes["part1"], title="over self-signed TLS")
    env.wait_plex(PART_I_FILE, lambda item: item["title"] == "over self-signed TLS", timeout=30)
    env.wait_drained()
    assert env.dead_letters() == []
    assert "CERTIFICATE_VERIFY_FAILED" not in env.drainer_log()


def test_verify_tls_true_still_uses_the_ca_bundle_of_the_environment(tls_synced):
    env = tls_synced
    env.runner.env["REQUESTS_CA_BUNDLE"] = str(env.cert)
    env.configure(plex_url=env.plex.url, verify_tls="true")
    env.edit(env.library.scenes["part1"], title="verified by the bundle")
    env.wait_plex(PART_I_FILE, lambda item: item["title"] == "verified by the bundle", timeout=30)
    env.wait_drained()
    assert env.dead_letters() == []
