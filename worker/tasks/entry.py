"""entry.py's task route: a task Stash starts (Settings > Tasks > PlexSync).

PlexSync.yml starts Python with -S for the hooks' sake, so a task first loads site-packages
(where plexapi & co. live), then logs into Stash's log, checks that the packages import (a
missing one is named with the command that installs it) and runs the mode
(worker/tasks/registry.py). Standard library only until then: this module is imported before
site-packages are loaded.
"""
import sys


def run_task_request(conn: dict, args: dict, plugin_dir, data_dir, after_answer: list) -> str:
    _load_site_packages()
    from pathlib import Path
    from hooks.dependencies import ensure_worker_dependencies
    from hooks.stash_log import install_stash_logging
    install_stash_logging()
    ensure_worker_dependencies()
    from worker.tasks.registry import run_task
    return run_task(args, conn, Path(plugin_dir), Path(data_dir))


def _load_site_packages() -> None:
    """Started with -S (PlexSync.yml): tasks need site-packages, so add them now, once."""
    if sys.flags.no_site and "site" not in sys.modules:
        import site
        site.main()
