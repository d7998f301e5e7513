"""Start the background drainer when none is running, without ever making Stash wait for it.

Stash reads a plugin's stdout to EOF: a child that inherits the hook's stdout (or stderr)
keeps every save in Stash waiting for as long as the child lives. So the drainer gets a fresh
pipe for stdin (its connection details: never on the command line, where `ps` shows them) and
/dev/null for the rest, in its own session / process group so Stash's signals do not reach it.

On POSIX it is started with os.posix_spawn (vfork-fast, no `subprocess` import: that module
costs the hook ~4 ms); elsewhere, or where posix_spawn cannot start a new session, through
subprocess.
"""
import os
import sys

from sync_queue.lock import drain_lock_held


def start_drainer_if_idle(plugin_dir, data_dir, payload) -> bool:
    """Start `python -m worker --background` unless a drainer holds the lock; True if started.

    payload: a dict (JSON-encoded here) or ready bytes; it must stay far below a pipe's
    buffer (64 KiB), because the drainer reads it only after its imports.
    """
    if drain_lock_held(data_dir):
        return False
    _start_worker("--background", plugin_dir, data_dir, payload)
    return True


def start_cover_watch(plugin_dir, data_dir, payload) -> None:
    """Start `python -m worker --watch-covers` (worker/cover_watch.py), detached like a drainer."""
    _start_worker("--watch-covers", plugin_dir, data_dir, payload)


def _start_worker(flag: str, plugin_dir, data_dir, payload) -> None:
    if isinstance(payload, dict):
        from hooks.lean_json import dumps
        payload = dumps(payload).encode()
    env = dict(os.environ, PLEXSYNC_DATA_DIR=os.fspath(data_dir))
    argv = [sys.executable, "-m", "worker", flag]
    if os.name != "nt" and hasattr(os, "posix_spawn"):
        try:
            _spawn_posix(argv, os.fspath(plugin_dir), env, payload)
            return
        except (NotImplementedError, OSError):  # no POSIX_SPAWN_SETSID here: the slow road
            pass
    _spawn_subprocess(argv, os.fspath(plugin_dir), env, payload)


def _spawn_posix(argv: list, cwd: str, env: dict, payload: bytes) -> None:
    read_end, write_end = os.pipe()  # both close-on-exec; dup2 makes the child's 0 inheritable
    try:
        here = os.getcwd()
        os.chdir(cwd)  # posix_spawn has no cwd argument; `-m worker` needs the plugin folder
        try:
            os.posix_spawn(argv[0], argv, env, setsid=True, file_actions=[
                (os.POSIX_SPAWN_DUP2, read_end, 0),
                (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
                (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0)])
        finally:
            os.chdir(here)
        os.close(read_end)
        read_end = -1
        try:
            os.write(write_end, payload)
        except OSError:  # the drainer died at once (e.g. another one won the lock)
            pass
    finally:
        os.close(write_end)
        if read_end >= 0:
            os.close(read_end)


def _spawn_subprocess(argv: list, cwd: str, env: dict, payload: bytes) -> None:
    import subprocess
    options: dict = {}
    if os.name == "nt":
        options["creationflags"] = (subprocess.DETACHED_PROCESS | subprocess.CREATE_NEW_PROCESS_GROUP
                                    | subprocess.CREATE_NO_WINDOW)
    else:
        options["start_new_session"] = True
    child = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.PIPE,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             close_fds=True, **options)
    try:
        child.stdin.write(payload)
        child.stdin.close()
    except OSError:  # the drainer died at once (e.g. another one won the lock); nothing to do
        pass
