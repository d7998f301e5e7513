"""inbox/: the hook's side of the queue — one small file per edit, written with `os` alone.

Why files and not queue.db: a hook process runs for every saved scene while Stash waits, and
`import sqlite3` plus an fsynced commit cost ~6 ms of a ~25 ms budget, a file written, fsynced
and renamed into place ~0.6 ms (measured here). The file only says WHICH scenes changed; the
drainer (hooks/inbox_ingest.py) reads every inbox file, asks Stash for those scenes' current
state and commits the jobs into queue.db. Fetching at drain time can only see the same or a
newer state than the edit (Stash runs Post hooks after its commit), so the newest edit wins.

Rules that keep edits from being lost or duplicated:
- a file appears under its final name only when complete (written as .tmp-*, then renamed or
  linked), and is removed only after its jobs are committed: a crash in between ingests it
  twice, which costs a superseded job, never an edit;
- a bulk edit's N hook processes all carry the whole bulk input: the first one links
  `bulk-<key>.json` into place (EEXIST tells the others it is already there), and the drainer
  moves an ingested bulk file to inbox/done/, where later processes of the same edit find it
  for 10 minutes.
Imports nothing but `os` (on the hook path; tests/stash/test_hook_path_imports.py guards).
"""
import os

INBOX = "inbox"
DONE = "done"
BULK_PREFIX = "bulk-"
KEEP_DONE_S = 600.0
# Flags the drain side sets for the hook, which cannot afford to open queue.db on every edit
# (the drain summary waiting to be shown is a file of its own: sync_queue/notes.py).
AUTH_FLAG = "plex_token.rejected"     # Plex rejected a token: the hook checks before starting a drainer
DISABLED_FLAG = "plexsync.disabled"   # the Enabled setting was off at the last drain
SETTINGS_FLAG = "settings.invalid"    # the last drain could not parse the settings


def inbox_dir(data_dir) -> str:
    return os.path.join(os.fspath(data_dir), INBOX)


def write_edit(data_dir, name: str, body: bytes, *, once: bool = False) -> bool:
    """Durably place inbox/<name> holding `body`. once=True: False if that name is already in
    the inbox or was ingested within KEEP_DONE_S (another process of the same bulk edit)."""
    folder = inbox_dir(data_dir)
    if once and already_noted(data_dir, name):
        return False  # the usual answer for a bulk edit's later processes: two stats, no write
    tmp = os.path.join(folder, f".tmp-{os.getpid()}-{name}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    except FileNotFoundError:
        os.makedirs(os.path.join(folder, DONE), exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, body)
        os.fsync(fd)  # an edit nobody will redo: it must survive a power cut once Stash saw "ok"
    finally:
        os.close(fd)
    final = os.path.join(folder, name)
    try:
        if once:
            try:
                os.link(tmp, final)  # atomic create-if-absent
            except FileExistsError:
                return False
            if os.path.exists(os.path.join(folder, DONE, name)):
                _unlink(final)  # ingested moments ago: our copy would only repeat it
                return False
        else:
            os.replace(tmp, final)
    finally:
        _unlink(tmp)
    _sync_dir(folder)
    return True


def already_noted(data_dir, name: str) -> bool:
    """inbox/<name> is waiting, or was ingested within KEEP_DONE_S (two stats)."""
    folder = inbox_dir(data_dir)
    return os.path.exists(os.path.join(folder, name)) or os.path.exists(os.path.join(folder, DONE, name))


def pending(data_dir) -> list[str]:
    """Names of complete inbox files, oldest first (names start with the time they were made)."""
    try:
        with os.scandir(inbox_dir(data_dir)) as entries:
            return sorted(e.name for e in entries if e.name.endswith(".json")
                          and not e.name.startswith(".") and e.is_file())
    except FileNotFoundError:
        return []


def read(data_dir, name: str) -> bytes | None:
    try:
        with open(os.path.join(inbox_dir(data_dir), name), "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def settle(data_dir, name: str) -> None:
    """Ingested: a bulk file moves to done/ (dedupe for its later processes), others go."""
    folder = inbox_dir(data_dir)
    if name.startswith(BULK_PREFIX):
        os.makedirs(os.path.join(folder, DONE), exist_ok=True)
        os.replace(os.path.join(folder, name), os.path.join(folder, DONE, name))
    else:
        _unlink(os.path.join(folder, name))


def forget_old_done(data_dir, now: float) -> int:
    """Delete done/ bulk markers older than KEEP_DONE_S and stray .tmp files of dead hooks."""
    removed = 0
    folder = inbox_dir(data_dir)
    for sub, prefix in ((os.path.join(folder, DONE), ""), (folder, ".tmp-")):
        try:
            with os.scandir(sub) as entries:
                for entry in entries:
                    if entry.name.startswith(prefix) and entry.is_file() and \
                            now - entry.stat().st_mtime > KEEP_DONE_S:
                        _unlink(entry.path)
                        removed += 1
        except FileNotFoundError:
            continue
    return removed


def set_flag(data_dir, flag: str, on: bool) -> None:
    path = os.path.join(os.fspath(data_dir), flag)
    if on:
        os.makedirs(os.fspath(data_dir), exist_ok=True)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o644))
    else:
        _unlink(path)


def flag_set(data_dir, flag: str) -> bool:
    return os.path.exists(os.path.join(os.fspath(data_dir), flag))


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _sync_dir(folder: str) -> None:
    if os.name == "nt":  # Windows cannot open a directory; NTFS journals the rename itself
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
