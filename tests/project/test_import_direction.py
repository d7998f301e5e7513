"""Imports flow one way (docs/architecture.md, "Modules"): the Stash side (hooks/) and the queue's
files (sync_queue/) never import the drain side (worker/) or the Plex boundary (plex/). PlexSync.py's
ROUTES send a run to one side or the other, importing only the chosen one."""
from pathlib import Path

from tests.project.test_requirements import top_level_imports

ROOT = Path(__file__).resolve().parents[2]
# package -> top-level packages of ours it must never import
NEVER = {"hooks": {"worker", "plex", "PlexSync"}, "sync_queue": {"worker", "plex", "hooks", "PlexSync"},
         "validation": {"worker", "plex", "hooks", "sync_queue", "PlexSync"}}


def test_no_package_imports_against_the_flow():
    wrong = {}
    for package, forbidden in NEVER.items():
        for path in sorted((ROOT / package).rglob("*.py")):
            bad = top_level_imports(path) & forbidden
            if bad:
                wrong[path.relative_to(ROOT).as_posix()] = sorted(bad)
    assert wrong == {}


def test_the_check_sees_an_import_inside_a_function(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from worker.tasks.registry import run_task\n")
    assert "worker" in top_level_imports(module)


def test_routes_send_hooks_and_ui_reads_to_hooks_and_tasks_to_worker_tasks():
    from hooks.entry import route
    from PlexSync import ROUTES
    assert route({"hookContext": {}}, ROUTES).__module__ == "hooks.scene_hook"
    assert route({"mode": "ui_scene", "scene_id": "1"}, ROUTES).__module__ == "hooks.ui.reads"
    assert route({"mode": "ui_sync_now"}, ROUTES).__module__ == "worker.tasks.entry"
    assert route({"mode": "queue_status"}, ROUTES).__module__ == "worker.tasks.entry"
