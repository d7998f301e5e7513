"""Make sure the worker's third-party packages can be imported before anything needs them.

Stash runs plugins with whatever Python it finds; a missing package must end in one line that
names every missing package and the exact command for *that* Python — or, when the community
plugin PythonDepManager is installed next to PlexSync, in it installing them for us.
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

# import name -> pip requirement (PythonDepManager's "import:package" form when they differ)
WORKER_REQUIREMENTS = {
    "persistqueue": "persistqueue:persist-queue>=1.0",
    "plexapi": "plexapi>=4.18",
    "tenacity": "tenacity>=8.2",
    "pydantic": "pydantic>=2.5",
    "requests": "requests>=2.31",
}
_REQUIREMENTS_TXT = Path(__file__).resolve().parent.parent / "requirements.txt"


class MissingDependency(RuntimeError):
    """One or more packages the worker needs are not installed in Stash's Python."""


def missing_packages() -> list[str]:
    return [name for name in WORKER_REQUIREMENTS if importlib.util.find_spec(name) is None]


def ensure_worker_dependencies() -> None:
    """Return when every worker package imports; else install via PythonDepManager or explain."""
    missing = missing_packages()
    if not missing:
        return
    try:
        from PythonDepManager import ensure_import  # optional community plugin, sibling folder
    except ImportError:
        raise MissingDependency(
            f"PlexSync needs the Python package(s) {', '.join(missing)}, which Stash's Python "
            f"({sys.executable}) does not have. Install them with: "
            f"{sys.executable} -m pip install -r \"{_REQUIREMENTS_TXT}\" "
            "(or install the PythonDepManager plugin)") from None
    ensure_import(*(WORKER_REQUIREMENTS[name] for name in missing))
