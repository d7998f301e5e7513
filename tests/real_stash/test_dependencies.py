"""Issue 10, item 5: every way docs/install.md gets PlexSync's packages into Stash's Python,
each ending with an edit in Plex.

Stash's Python here is Debian's PEP 668 system Python (/usr/bin/python3 when it is one, which
has none of PlexSync's packages) or a venv made from it. pip never reaches the package index
from inside Stash (start-stash points Stash's proxy at a dead port): it installs from a local
wheelhouse, built once per session by that same Python with `pip download`.
"""
from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.real_stash.conftest import LIBRARY_CLIPS, WHEELHOUSE, clip_path
from tests.real_stash.server import PROJECT_ROOT, PYTHON_DEP_MANAGER, copy_plugin

SCENE_UPDATE = "mutation U($input: SceneUpdateInput!) { sceneUpdate(input: $input) { id } }"
SYSTEM_PYTHON = Path("/usr/bin/python3")


def bare_python() -> Path:
    """A Python without PlexSync's packages: the system one, else this interpreter's base."""
    if SYSTEM_PYTHON.exists() and subprocess.run([SYSTEM_PYTHON, "-c", "import plexapi"],
                                                 capture_output=True).returncode != 0:
        return SYSTEM_PYTHON
    return Path(getattr(sys, "_base_executable", sys.executable))


def offline_pip_env(wheelhouse: Path) -> dict:
    return dict(os.environ, PIP_NO_INDEX="1", PIP_FIND_LINKS=str(wheelhouse),
                PIP_DISABLE_PIP_VERSION_CHECK="1")


@pytest.fixture(scope="session")
def wheelhouse(real_stash):
    folder = real_stash.home.parent / WHEELHOUSE
    out = subprocess.run([bare_python(), "-m", "pip", "download", "--quiet", "-d", str(folder),
                          "-r", str(PROJECT_ROOT / "requirements.txt")], capture_output=True, text=True)
    if out.returncode != 0:
        pytest.skip("the dependency routes need PlexSync's requirements as wheels and "
                    f"`pip download` could not fetch them (no package index?): {out.stderr[-300:]}")
    return folder


@pytest.fixture
def stash_python(stage):
    """Set Stash's Python path for one test; back to the project's virtualenv afterwards."""
    yield stage.stash.set_python
    stage.wait_drained()
    stage.stash.set_python(sys.executable)


def edit_reaches_plex(stage, n: int, title: str) -> None:
    path = clip_path(stage.stash.media, n)
    stage.stash.graphql(SCENE_UPDATE, {"input": {"id": stage.scene_ids[str(path)], "title": title}})
    stage.wait_plex(path, lambda i: i["title"] == title, timeout=60, what=f"{title!r} in Plex")


def errors_in(lines):
    return [line for line in lines if "level=error" in line or "returned error" in line]


def test_plain_pip_with_the_command_plexsync_prints(stage, stash_python, wheelhouse, tmp_path):
    """Route: pip into Stash's Python (a venv made from the system Python, so pip may write
    into it). The missing-package error names the command; that command makes it work."""
    venv = tmp_path / "stash-python"
    subprocess.run([bare_python(), "-m", "venv", str(venv)], check=True)
    stash_python(str(venv / "bin" / "python"))
    job, lines = stage.run_task("Health Check")
    missing = " ".join(errors_in(lines)).replace('\\"', '"')  # stash.log quotes msg="..."
    assert "plexapi" in missing and "Install them with:" in missing, lines
    command = re.search(r"Install them with: (.+?) \(or install", missing).group(1)
    subprocess.run(shlex.split(command), check=True, env=offline_pip_env(wheelhouse),
                   capture_output=True)
    job, lines = stage.run_task("Health Check")
    assert not any("needs the Python package" in line for line in lines), lines
    edit_reaches_plex(stage, LIBRARY_CLIPS - 6, "Plain pip route")


def test_pep668_system_python_refuses_pip_so_a_venv_is_stashs_python():
    """Route: PEP 668. The system Python refuses `pip install`; docs/install.md then has the
    user make a venv and set it as Stash's Python path, which is the venv of the test above
    (made from this system Python) and the project's virtualenv every other test runs on."""
    if not SYSTEM_PYTHON.exists() or not list(Path("/usr/lib").glob("python3*/EXTERNALLY-MANAGED")):
        pytest.skip(f"{SYSTEM_PYTHON} is not a PEP 668 (EXTERNALLY-MANAGED) Python here")
    out = subprocess.run([SYSTEM_PYTHON, "-m", "pip", "install", "-r",
                          str(PROJECT_ROOT / "requirements.txt")], capture_output=True, text=True,
                         env=dict(os.environ, PIP_NO_INDEX="1"))
    assert out.returncode != 0 and "externally-managed-environment" in out.stderr, out.stderr


@pytest.fixture
def dep_manager(stage, stash_python, wheelhouse):
    """PythonDepManager where the CommunityScripts source puts it, Stash on a bare Python."""
    if not shutil.which("git"):
        pytest.skip("PythonDepManager refuses to run without git on PATH (apt-get install -y git)")
    target = stage.stash.plugins_dir / "community" / "PythonDepManager"
    shutil.copytree(PYTHON_DEP_MANAGER, target)
    stash_python(str(bare_python()))
    stage.stash.reload_plugins()
    yield target
    stage.wait_drained()
    shutil.rmtree(target.parent)
    stage.stash.reload_plugins()


def test_python_dep_manager_with_plexsync_copied_and_from_a_plugin_source(stage, dep_manager):
    stash = stage.stash
    job, lines = stage.run_task("Health Check", timeout=300)  # PythonDepManager installs here
    assert not errors_in(lines), lines
    assert list((dep_manager.parent / "py_dependencies").glob("plexapi*")), "PythonDepManager was not used"
    edit_reaches_plex(stage, LIBRARY_CLIPS - 7, "PythonDepManager, plugins/PlexSync")

    source_dir = stash.plugins_dir / "plexsync-source" / "PlexSync"  # plugins/<local path>/PlexSync
    shutil.rmtree(stage.plugin_dir)
    copy_plugin(source_dir)
    stash.reload_plugins()
    try:
        job, lines = stage.run_task("Health Check", timeout=300)
        assert not errors_in(lines), lines
        edit_reaches_plex(stage, LIBRARY_CLIPS - 7, "PythonDepManager, plugins/<local path>/PlexSync")
    finally:
        stage.wait_drained()
        shutil.rmtree(source_dir.parent)
        copy_plugin(stage.plugin_dir)
        stash.reload_plugins()
