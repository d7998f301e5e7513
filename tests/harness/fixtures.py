"""pytest fixtures of the plugin runner (tests/conftest.py star-imports this module).

- `make_runner(plugin_dir, stash_url, **kw)`: a PluginRunner whose Stash config dir, working
  dir and PLEXSYNC_DATA_DIR are fresh folders under the test's tmp_path, and whose plugin
  processes do not inherit this test process's PYTHONPATH (pass env={"PYTHONPATH": ...}).
- `runner`: PlexSync itself (this repository), run as Stash runs it, against the Stash emulator
  fixture `stash` (skipped while that fixture does not exist). It advertises Host "0.0.0.0",
  Stash's default `host` setting, which plugins must map to a reachable address, and a session
  cookie the emulator accepts (Stash's plugin cookie is always a valid session); the emulator
  calls `runner.hook_sink` from inside its mutations.
"""
from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.harness.runner import PluginRunner

__all__ = ["make_runner", "runner", "PLUGIN_ROOT"]

PLUGIN_ROOT = Path(__file__).resolve().parents[2]  # the repository root is the plugin folder


@pytest.fixture
def make_runner(tmp_path):
    created = []

    def factory(plugin_dir, stash_url, **kwargs):
        stash_home = tmp_path / f"stash-{len(created)}"
        env = dict(kwargs.pop("env", None) or {})
        env.setdefault("PLEXSYNC_DATA_DIR", str(stash_home / "plexsync-data"))
        env.setdefault("PYTHONPATH", None)  # Stash's environment has no test-runner PYTHONPATH
        if env["PLEXSYNC_DATA_DIR"]:
            Path(env["PLEXSYNC_DATA_DIR"]).mkdir(parents=True, exist_ok=True)
        kwargs.setdefault("server_dir", str(stash_home / "config"))  # the runner creates these
        kwargs.setdefault("cwd", str(stash_home / "cwd"))
        runner = PluginRunner(plugin_dir, stash_url, env=env, **kwargs)
        created.append(runner)
        return runner

    yield factory
    for runner in created:
        runner.close()


@pytest.fixture
def runner(request, make_runner):
    try:
        stash = request.getfixturevalue("stash")
    except pytest.FixtureLookupError:
        pytest.skip("the Stash emulator fixture `stash` is not available yet")
    port = urlsplit(stash.url).port
    plugin_runner = make_runner(PLUGIN_ROOT, ("0.0.0.0", port),
                                session_cookie=stash.create_session())
    previous = getattr(stash, "hook_sink", None)
    stash.hook_sink = plugin_runner.hook_sink
    yield plugin_runner
    stash.hook_sink = previous
