"""Start the background drainer when none is running, without ever making Stash wait for it.

Stash reads a plugin's stdout to EOF: a child that inherits the hook's stdout (or stderr)
keeps every save in Stash waiting for as long as the child lives. So the drainer gets a fresh
pipe for stdin (its connection details: never on the command line, where `ps` shows them) and
/dev/null for the rest, in its own session / process group so Stash's signals do not reach it.

One drainer per burst: the drain lock is taken HERE, before spawning, and handed to the child
(sync_queue/lock.py): of eight hooks deciding at the same moment one gets it, and no hook
starts a drainer while one is starting. The child adopts it before its heavy imports.

How, on POSIX: a hook (one thread) forks and the child sets itself up and execs. The hook
never waits for the child to run: posix_spawn's vfork blocks the caller until the child has
exec'd, which on a busy 2-core box means until the child got a CPU (5 ms of a ~20 ms hook,
measured at load 5). The child lowers its priority before exec, so the drainer's start-up
yields to Stash finishing the save. A process with threads (a task, a hand-over) uses
posix_spawn instead (forking a threaded process is unsafe); no `subprocess` import on either
road (~4 ms). Elsewhere, or where posix_spawn cannot start a new session, subprocess.
"""
import os
import sys

from sync_queue.lock import INHERITED_FD_ENV, LOCK_PASSES_TO_CHILD, DrainLock

DRAINER_NICENESS = 10  # the drainer yields the CPU to Stash and to hooks (2-core boxes)


def start_drainer_if_idle(plugin_dir, data_dir, payload) -> bool:
    """Start `python -m worker --background` unless a drainer runs or is starting; True if
    started (it then holds the drain lock from this moment on).

    payload: a dict (JSON-encoded here) or ready bytes; it must stay far below a pipe's
    buffer (64 KiB), because the drainer reads it only after its imports.
    """
    claim = DrainLock(data_dir)
    if not claim.try_acquire():
        return False
    try:
        if not LOCK_PASSES_TO_CHILD:
            claim.release()  # Windows: the child takes the lock itself, first thing
        _start_worker("--background", plugin_dir, data_dir, payload, claim)
        return True
    finally:
        claim.release()  # only if no child took it over: then the lock is free again


def start_cover_watch(plugin_dir, data_dir, payload) -> None:
    """Start `python -m worker --watch-covers` (worker/cover_watch.py), detached like a
    drainer; it takes a lock of its own (covers.lock), never the drain lock."""
    _start_worker("--watch-covers", plugin_dir, data_dir, payload, None)


def _start_worker(flag: str, plugin_dir, data_dir, payload, claim: DrainLock | None) -> None:
    """`python -m worker <flag>`, detached; a held `claim` is handed over to it."""
    if isinstance(payload, dict):
        from hooks.lean_json import dumps
        payload = dumps(payload).encode()
    env = dict(os.environ, PLEXSYNC_DATA_DIR=os.fspath(data_dir))
    env.pop(INHERITED_FD_ENV, None)
    argv = [sys.executable, "-m", "worker", flag]
    cwd = os.fspath(plugin_dir)
    if os.name != "nt" and hasattr(os, "fork") and _single_threaded():
        _fork_exec(argv, cwd, env, payload, claim)
        return
    if os.name != "nt" and hasattr(os, "posix_spawn"):
        try:
            _spawn_posix(argv, cwd, env, payload, claim)
            return
        except (NotImplementedError, OSError):  # no POSIX_SPAWN_SETSID here: the slow road
            pass
    _spawn_subprocess(argv, cwd, env, payload, claim)


def _single_threaded() -> bool:
    """No other thread that a fork could catch holding a lock (the hook never starts one)."""
    threading = sys.modules.get("threading")
    return threading is None or threading.active_count() == 1


def _handing(claim: DrainLock | None) -> bool:
    return claim is not None and claim.held


def _passed_on(claim: DrainLock | None) -> None:
    """Right after the child exists: any later error must not unlock the child's lock."""
    if claim is not None:
        claim.pass_on()


def _fork_exec(argv: list, cwd: str, env: dict, payload: bytes, claim: DrainLock | None) -> None:
    if _handing(claim):
        env = dict(env, **{INHERITED_FD_ENV: str(claim.fd)})

    def start(read_end: int) -> None:
        if os.fork() != 0:
            return
        try:  # the child: os calls only, and never back into the hook's code
            os.nice(DRAINER_NICENESS)  # first: from here on the hook and Stash go first
            os.setsid()
            os.chdir(cwd)  # `-m worker` needs the plugin folder
            os.dup2(read_end, 0)
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, 1)
            os.dup2(null, 2)
            if _handing(claim):
                os.set_inheritable(claim.fd, True)  # in this child only
            os.execve(argv[0], argv, env)
        finally:
            os._exit(127)
    _start_fed(start, payload, claim)


def _spawn_posix(argv: list, cwd: str, env: dict, payload: bytes, claim: DrainLock | None) -> None:
    actions = [(os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
               (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0)]
    if _handing(claim):  # dup2 onto ANOTHER number: only that copy is not close-on-exec
        child_fd = 3 if claim.fd != 3 else 4
        actions.append((os.POSIX_SPAWN_DUP2, claim.fd, child_fd))
        env = dict(env, **{INHERITED_FD_ENV: str(child_fd)})

    def start(read_end: int) -> None:
        here = os.getcwd()
        os.chdir(cwd)  # posix_spawn has no cwd argument
        try:
            os.posix_spawn(argv[0], argv, env, setsid=True,
                           file_actions=[(os.POSIX_SPAWN_DUP2, read_end, 0), *actions])
        finally:
            os.chdir(here)
    _start_fed(start, payload, claim)


def _start_fed(start, payload: bytes, claim: DrainLock | None) -> None:
    """start(read_end) starts the child with a fresh pipe as its stdin (both ends are
    close-on-exec; the child's dup2 onto 0 is not); then the lock is the child's and the
    payload goes down the pipe."""
    read_end, write_end = os.pipe()
    try:
        start(read_end)
        _passed_on(claim)
        os.close(read_end)
        read_end = -1
        _write_payload(write_end, payload)
    finally:
        os.close(write_end)
        if read_end >= 0:
            os.close(read_end)


def _write_payload(write_end: int, payload: bytes) -> None:
    try:
        os.write(write_end, payload)
    except OSError:  # the drainer died at once
        pass


def _spawn_subprocess(argv: list, cwd: str, env: dict, payload: bytes,
                      claim: DrainLock | None) -> None:
    import subprocess
    options: dict = {}
    if os.name == "nt":
        options["creationflags"] = (subprocess.DETACHED_PROCESS | subprocess.CREATE_NEW_PROCESS_GROUP
                                    | subprocess.CREATE_NO_WINDOW)
    else:
        options["start_new_session"] = True
    if _handing(claim):  # the child keeps the descriptor's number
        options["pass_fds"] = (claim.fd,)
        env = dict(env, **{INHERITED_FD_ENV: str(claim.fd)})
    child = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.PIPE,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             close_fds=True, **options)
    _passed_on(claim)
    try:
        child.stdin.write(payload)
        child.stdin.close()
    except OSError:  # the drainer died at once; nothing to do
        pass
