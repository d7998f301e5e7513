"""The drain lock: exactly one process drains the queue at a time.

An OS lock on <data_dir>/drain.lock (flock on POSIX, msvcrt.locking on Windows) rather than a
pid file: the kernel drops it the moment its holder dies, even under SIGKILL, so a crashed
drainer never blocks the next one and no stale-pid guessing is needed. persist-queue's
SQLiteAckQueue is safe for puts from many processes but not for several getters; this lock is
what makes "one getter" true. The holder's pid is written into the file for people and status.

Starting a drainer: the process that decides to start one (a hook, a task) takes the lock and
hands it to the child it spawns (hooks/drainer_launch.py). On POSIX a flock belongs to the
open file, which the child inherits, so the lock is held without a gap from that decision to
the drainer's exit: hooks that look meanwhile start nothing, and a drainer that dies while
starting lets go of it with its last descriptor (no stale claim to clean up). The child
adopts it first thing (drainer_lock_at_start, before any heavy import). Windows locks do not
pass to a child: there the child takes the lock first thing and, if another has it, exits.
"""

import os
import time

# No pathlib here: the hook probes this lock on every edit and pathlib costs it milliseconds.

LOCK_FILE = "drain.lock"
# The descriptor number of the lock a starting process hands to the drainer it spawns.
INHERITED_FD_ENV = "PLEXSYNC_DRAIN_LOCK_FD"
LOCK_PASSES_TO_CHILD = os.name != "nt"
PROBE_RIDE_OUT_S = 0.2  # a probe (drain_lock_held) holds the lock for an instant: wait it out

if os.name == "nt":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _try_lock(fd: int) -> bool:
        os.lseek(fd, 0, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except OSError:  # BlockingIOError: another process (or open file) holds it
            return False

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


def _open(data_dir, name: str = LOCK_FILE) -> int:
    path = os.path.join(os.fspath(data_dir), name)
    # O_CREAT without O_TRUNC: truncating would wipe the holder's pid under its feet.
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except FileNotFoundError:
        os.makedirs(os.fspath(data_dir), exist_ok=True)
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o644)


class DrainLock:
    """Exclusive, non-blocking, process-lifetime lock on <data_dir>/drain.lock."""

    def __init__(self, data_dir, name: str = LOCK_FILE):
        self.data_dir = data_dir
        self.name = name  # another file = another lock (the Plex play import has its own)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def try_acquire(self, wait: float = 0.0) -> bool:
        """Take the lock if free (polling up to `wait` seconds); never blocks beyond that."""
        if self._fd is not None:
            return True
        deadline = time.monotonic() + wait
        fd = _open(self.data_dir, self.name)
        while not _try_lock(fd):
            if time.monotonic() >= deadline:
                os.close(fd)
                return False
            time.sleep(0.02)
        self._fd = fd
        self._write_pid()
        return True

    def _write_pid(self) -> None:
        # Byte 0 is the lock byte on Windows; the pid goes after it on every OS.
        os.ftruncate(self._fd, 1)
        os.lseek(self._fd, 1, os.SEEK_SET)
        os.write(self._fd, f"{os.getpid()}\n".encode())

    @property
    def fd(self) -> int | None:
        return self._fd

    def pass_on(self) -> None:
        """Close our descriptor WITHOUT unlocking: a child that inherited the locked file holds
        the lock now (POSIX). Unlocking would take it from the child too: same open file."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        os.close(fd)

    @classmethod
    def inherited(cls, data_dir, fd_text: str) -> "DrainLock | None":
        """The lock handed over at descriptor `fd_text`, if it is this drain.lock and held by
        its open file (flock on the holding open file succeeds; on another one it would not)."""
        try:
            fd = int(fd_text)
            if not os.path.samestat(os.fstat(fd), os.stat(os.path.join(os.fspath(data_dir),
                                                                      LOCK_FILE))):
                return None
            os.set_inheritable(fd, False)  # ours now: not for the processes we start
        except (ValueError, OSError):
            return None
        if not _try_lock(fd):
            return None  # not the holding file after all (another process has the lock)
        lock = cls(data_dir)
        lock._fd = fd
        lock._write_pid()
        return lock

    def release(self) -> None:
        """Give the lock back (closing the file would too; dying does as well)."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            _unlock(fd)
        finally:
            os.close(fd)

    def __enter__(self) -> "DrainLock":
        if not self.try_acquire():
            raise RuntimeError("another PlexSync drainer holds the drain lock")
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def drain_lock_held(data_dir, name: str = LOCK_FILE) -> bool:
    """True if some process (this one included) holds the drain lock (or the lock `name`) now.

    A probe has to take the lock for an instant; a drainer that starts in that instant retries
    for a moment (try_acquire(wait=...)) instead of concluding a real drainer is running.
    """
    fd = _open(data_dir, name)
    try:
        if _try_lock(fd):
            _unlock(fd)
            return False
        return True
    finally:
        os.close(fd)


def lock_holder_pid(data_dir, name: str = LOCK_FILE) -> int | None:
    """The pid the current (or last) holder wrote into drain.lock (or `name`), for status lines."""
    try:  # read from offset 1: on Windows the holder's lock covers byte 0 against reads too
        fd = os.open(os.path.join(os.fspath(data_dir), name), os.O_RDONLY)
        try:
            os.lseek(fd, 1, os.SEEK_SET)
            text = os.read(fd, 32).decode(errors="ignore").strip("\x00 \n")
        finally:
            os.close(fd)
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def drainer_lock_at_start(data_dir, environ=os.environ) -> "DrainLock | None":
    """A starting drainer's first step (worker/__main__.py, before any heavy import): the lock
    handed over by the process that started it, else the lock taken now; None if another
    drainer runs or is starting, and this one should exit at once."""
    handed = environ.pop(INHERITED_FD_ENV, None)  # never passed on to processes we start
    if handed is not None:
        lock = DrainLock.inherited(data_dir, handed)
        if lock is not None:
            return lock
    lock = DrainLock(data_dir)
    return lock if lock.try_acquire(wait=PROBE_RIDE_OUT_S) else None
