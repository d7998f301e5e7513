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
_PLUGIN_DIR = Path(__file__).resolve().parent.parent
_REQUIREMENTS_TXT = _PLUGIN_DIR / "requirements.txt"
DEP_MANAGER = "PythonDepManager"


class MissingDependency(RuntimeError):
    """One or more packages the worker needs are not installed in Stash's Python."""


def missing_packages() -> list[str]:
    return [name for name in WORKER_REQUIREMENTS if importlib.util.find_spec(name) is None]


def ensure_worker_dependencies() -> None:
    """Return when every worker package imports; else install via PythonDepManager or explain."""
    missing = missing_packages()
    if not missing:
        return
    ensure_import = _python_dep_manager()
    if ensure_import is None:
        raise MissingDependency(
            f"PlexSync needs the Python package(s) {', '.join(missing)}, which Stash's Python "
            f"({sys.executable}) does not have. Install them with: "
            f"{sys.executable} -m pip install -r \"{_REQUIREMENTS_TXT}\" "
            "(or install the PythonDepManager plugin)") from None
    ensure_import(*(WORKER_REQUIREMENTS[name] for name in missing))


def _python_dep_manager():
    """PythonDepManager's ensure_import, wherever Stash installed it; None when it is not there.

    Stash puts only the plugin folder's parent on PYTHONPATH, so a plain import finds
    PythonDepManager only when it sits next to PlexSync. But the CommunityScripts source
    installs it into <plugins>/community/, and PlexSync may be at <plugins>/PlexSync (copied)
    or at <plugins>/<source's local path>/PlexSync (from a plugin source).
    """
    try:
        from PythonDepManager import ensure_import
        return ensure_import
    except ImportError:
        pass
    folder = dep_manager_parent(_PLUGIN_DIR)
    if folder is None:
        return None
    sys.path.insert(0, str(folder))
    from PythonDepManager import ensure_import
    return ensure_import


def dep_manager_parent(plugin_dir: Path) -> Path | None:
    """The folder holding PythonDepManager/: beside PlexSync or one level below the plugins
    folder, which is PlexSync's parent (copied install) or grandparent (plugin source)."""
    for root in (plugin_dir.parent, plugin_dir.parent.parent):
        candidates = [root] + sorted(p for p in _subfolders(root) if p != plugin_dir)
        for folder in candidates:
            if (folder / DEP_MANAGER / "__init__.py").is_file():
                return folder
    return None


def _subfolders(root: Path) -> list[Path]:
    try:
        return [p for p in root.iterdir() if p.is_dir()]
    except OSError:
        return []
