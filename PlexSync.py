"""PlexSync entry point: Stash starts this file for every hook and task (interface: raw).

Kept to these lines on purpose: Python compiles the started script on every run, a module
(hooks/entry.py, which reads Stash's input and answers) only once. The hook path's budget is
in tests/stash/test_hook_path_imports.py.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# Stash passes its environment on; PYTHONDONTWRITEBYTECODE there (common in containers) would
# make every hook compile PlexSync's modules again (bench/hook_cost_real_stash.py in this
# sandbox, which sets it: ratio to an empty hook 2.14 without this line, 1.27 with it). The
# bytecode goes to the plugin's own __pycache__ (silently skipped where it is read-only).
sys.dont_write_bytecode = False


def _is_ui_read(args: dict) -> bool:
    if not str(args.get("mode")).startswith("ui_"):
        return False
    from hooks.ui import READ_MODES
    return args["mode"] in READ_MODES


# Who runs a request, first match wins; only the chosen module is imported. Here, above both
# sides, so that the Stash side (hooks/) never names the drain side (worker/). Lean routes (no
# site-packages) come before the task route, which loads site-packages and plexapi.
ROUTES = (
    ("hook", lambda args: "hookContext" in args, "hooks.scene_hook:run_hook"),
    ("web UI read", _is_ui_read, "hooks.ui.reads:run_read"),
    ("task", lambda args: True, "worker.tasks.entry:run_task_request"),
)

from hooks.entry import finish, main  # noqa: E402

if __name__ == "__main__":
    finish(main(ROUTES))
