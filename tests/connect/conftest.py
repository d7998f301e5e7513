"""Fixtures for Connect to Plex: the plex.tv world on loopback, routed to by the env seam."""
from __future__ import annotations

import pytest

from plex.account.session import ROUTES_ENV
from tests.emulators.plextv_world import PlexTvWorld


@pytest.fixture
def world(monkeypatch):
    with PlexTvWorld() as started:
        monkeypatch.setenv(ROUTES_ENV, started.routes_json())
        yield started
    assert not started.plex.errors, "Plex emulator internal error:\n" + "\n".join(started.plex.errors)
