"""PlexSync entry point: Stash starts this file for every hook and task (interface: raw).

Kept to these lines on purpose: Python compiles the started script on every run, a module
(entry.py, which routes the run) only once. The hook path's budget is in
tests/stash/test_hook_path_imports.py.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# Stash passes its environment on; PYTHONDONTWRITEBYTECODE there (common in containers) would
# make every hook compile PlexSync's modules again (bench/hook_cost_real_stash.py in this
# sandbox, which sets it: ratio to an empty hook 2.14 without this line, 1.27 with it). The
# bytecode goes to the plugin's own __pycache__ (silently skipped where it is read-only).
sys.dont_write_bytecode = False

from entry import finish, main  # noqa: E402

if __name__ == "__main__":
    finish(main())
