"""pytest fixtures for the Plex emulator (star-imported by tests/conftest.py).

  plex_empty    started PlexEmulator (token "plex-token") with no sections; stopped after
  plex_library  loads the small library into it -> LoadedLibrary(sections, keys)
  plex          the emulator with the small library loaded (same object as plex_empty)
  plex_api      plexapi PlexServer connected to `plex` (5 s timeout, its own session)

Teardown fails the test if the emulator hit an internal error (it answered 500 for it), so an
emulator bug never hides behind a client's retry logic.
"""
from __future__ import annotations

import pytest
import requests
from plexapi.server import PlexServer

from tests.emulators.plex_library import LoadedLibrary, load_small_library
from tests.emulators.plex_server import PlexEmulator

__all__ = ["plex_empty", "plex_library", "plex", "plex_api"]


@pytest.fixture
def plex_empty():
    emulator = PlexEmulator(token="plex-token").start()
    try:
        yield emulator
    finally:
        emulator.stop()
    assert not emulator.errors, "Plex emulator internal error:\n" + "\n".join(emulator.errors)


@pytest.fixture
def plex_library(plex_empty) -> LoadedLibrary:
    return load_small_library(plex_empty)


@pytest.fixture
def plex(plex_empty, plex_library) -> PlexEmulator:
    return plex_empty


@pytest.fixture
def plex_api(plex):
    session = requests.Session()
    server = PlexServer(plex.url, plex.token, session=session, timeout=5)
    yield server
    session.close()
