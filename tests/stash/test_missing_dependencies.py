"""A Stash whose Python lacks PlexSync's packages: hooks still queue, and the user is told the
exact command. Runs PlexSync with the base interpreter (outside the test virtualenv)."""
import subprocess
import sys

import pytest

from tests.e2e_fixtures import wait_until
from tests.harness.fixtures import PLUGIN_ROOT

BASE_PYTHON = getattr(sys, "_base_executable", None) or sys.executable


def _lacks_plexapi(python: str) -> bool:
    probe = subprocess.run([python, "-c", "import plexapi"], capture_output=True)
    return probe.returncode != 0


pytestmark = pytest.mark.skipif(not _lacks_plexapi(BASE_PYTHON),
                                reason=f"{BASE_PYTHON} has plexapi installed; nothing is missing")


@pytest.fixture
def bare(stash, make_runner, tmp_path):
    runner = make_runner(PLUGIN_ROOT, ("0.0.0.0", stash.port), session_cookie=stash.create_session(),
                         python=BASE_PYTHON, env={"PLEXSYNC_DATA_DIR": str(tmp_path / "data")})
    stash.set_plugin_settings("PlexSync", {"plex_url": "http://127.0.0.1:9", "plex_token": "t0ken"})
    stash.hook_sink = runner.hook_sink
    yield runner
    stash.hook_sink = None


def test_task_names_the_missing_packages_and_the_command(bare):
    result = bare.run_task("Queue Status", timeout=60)
    assert "plexapi" in result.error and f"{BASE_PYTHON} -m pip install -r" in result.error
    assert "Traceback" not in result.stderr_raw.decode()


def test_hook_still_queues_and_the_next_hook_reports_what_is_missing(bare, stash, tmp_path):
    from sync_queue.state import QueueState
    from sync_queue.store import QueueStore
    query = 'mutation { sceneUpdate(input: {id: "1", title: "Queued anyway"}) { id } }'
    stash.graphql(query)
    assert "queued" in bare.runs[-1].output
    assert QueueStore(tmp_path / "data").counts()["ready"] == 1
    wait_until(lambda: (QueueState(tmp_path / "data").last_drain_summary() or {}).get("line"), 30,
               what="the drainer's summary")
    stash.graphql(query.replace("Queued anyway", "Second edit"))
    logged = " ".join(bare.runs[-1].messages("info"))
    assert "needs the Python package(s)" in logged and "plexapi" in logged
