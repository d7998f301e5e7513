"""Shared pytest fixtures: the Plex and Stash emulators and the Stash-exact plugin runner."""
import pathlib

import pytest

from tests.emulators.plex_fixtures import *  # noqa: F401,F403
from tests.emulators.stash_fixtures import *  # noqa: F401,F403
from tests.harness.fixtures import *  # noqa: F401,F403

PROJECT_ROOT = pathlib.Path(__file__).resolve().parent.parent


@pytest.fixture
def project_root() -> pathlib.Path:
    return PROJECT_ROOT
from tests.e2e_fixtures import *  # noqa: F401,F403,E402
