"""Start the background drainer when none is running, without ever making Stash wait for it.

Stash reads a plugin's stdout to EOF: a child that inherits the hook's stdout (or stderr)
keeps every save in Stash waiting for as long as the child lives. So the drainer gets a fresh
pipe for stdin (its connection details: never on the command line, where `ps` shows them) and
/dev/null for the rest, in its own session / process group so Stash's signals do not reach it.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sync_queue.lock import drain_lock_held


def start_drainer_if_idle(plugin_dir: Path, data_dir: Path, payload: dict) -> bool:
    """Start `python -m worker --background` unless a drainer holds the lock; True if started."""
    if drain_lock_held(data_dir):
        return False
    env = dict(os.environ, PLEXSYNC_DATA_DIR=str(data_dir))
    options: dict = {}
    if os.name == "nt":
        options["creationflags"] = (subprocess.DETACHED_PROCESS | subprocess.CREATE_NEW_PROCESS_GROUP
                                    | subprocess.CREATE_NO_WINDOW)
    else:
        options["start_new_session"] = True
    child = subprocess.Popen(
        [sys.executable, "-m", "worker", "--background"], cwd=str(plugin_dir), env=env,
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        close_fds=True, **options)
    try:
        child.stdin.write(json.dumps(payload).encode())
        child.stdin.close()
    except OSError:  # the drainer died at once (e.g. another one won the lock); nothing to do
        pass
    return True
