"""The drain lock: exactly one process drains the queue at a time.

An OS lock on <data_dir>/drain.lock (flock on POSIX, msvcrt.locking on Windows) rather than a
pid file: the kernel drops it the moment its holder dies, even under SIGKILL, so a crashed
drainer never blocks the next one and no stale-pid guessing is needed. persist-queue's
SQLiteAckQueue is safe for puts from many processes but not for several getters; this lock is
what makes "one getter" true. The holder's pid is written into the file for people and status.
"""

import os
import time

# No pathlib here: the hook probes this lock on every edit and pathlib costs it milliseconds.

LOCK_FILE = "drain.lock"

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
        # Byte 0 is the lock byte on Windows; the pid goes after it on every OS.
        os.ftruncate(fd, 1)
        os.lseek(fd, 1, os.SEEK_SET)
        os.write(fd, f"{os.getpid()}\n".encode())
        return True

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
