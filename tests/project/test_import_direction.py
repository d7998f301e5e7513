"""Imports flow one way (docs/architecture.md, "Modules"): the Stash side (hooks/) and the queue's
files (sync_queue/) never import the drain side (worker/) or the Plex boundary (plex/). entry.py
routes a run to one side or the other, importing only the chosen one."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# package -> top-level packages of ours it must never import
NEVER = {"hooks": {"worker", "plex", "entry"}, "sync_queue": {"worker", "plex", "hooks", "entry"},
         "validation": {"worker", "plex", "hooks", "sync_queue", "entry"}}


def imported_packages(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module.split(".")[0])
    return found


def test_no_package_imports_against_the_flow():
    wrong = {}
    for package, forbidden in NEVER.items():
        for path in sorted((ROOT / package).rglob("*.py")):
            bad = imported_packages(path) & forbidden
            if bad:
                wrong[path.relative_to(ROOT).as_posix()] = sorted(bad)
    assert wrong == {}


def test_the_check_sees_an_import_inside_a_function(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from worker.tasks.registry import run_task\n")
    assert "worker" in imported_packages(module)


def test_entry_routes_hooks_to_hooks_and_tasks_to_worker_tasks():
    import entry
    assert entry.route({"hookContext": {}}).__module__ == "hooks.scene_hook"
    assert entry.route({"mode": "queue_status"}).__module__ == "worker.tasks.entry"
