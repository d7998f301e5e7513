"""PlexSync's data folder, and moving one left inside the plugin folder out of it, once.

Until now the queue lived in <plugin folder>/data: gone with the folder when a user deletes or
reinstalls the plugin (older Stash package managers removed the whole folder), and left behind
when PlexSync moves from plugins/PlexSync to plugins/<source path>/PlexSync. The first run of
this version moves that folder to <Stash config folder>/plexsync (validation.data_dir),
so the jobs in it survive.
Cost on the hook path when there is nothing to move: one stat.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

from sync_queue.lock import DrainLock
from validation.data_dir import LEGACY_TOLD, data_dir_path, legacy_data_dir

log = logging.getLogger("PlexSync")


def data_dir_with_migration(plugin_dir: str | Path, stash_config_dir: str | Path | None) -> Path:
    """The data folder to use for this run, after moving the legacy one there if needed."""
    target = Path(data_dir_path(plugin_dir, stash_config_dir))
    if os.environ.get("PLEXSYNC_DATA_DIR"):
        return target  # chosen by the user: nothing of theirs is moved
    legacy = Path(legacy_data_dir(plugin_dir))
    if target == legacy or not legacy.is_dir():
        return target
    if target.exists():
        if not (target / LEGACY_TOLD).exists():
            log.warning(f"PlexSync's old data folder {legacy} is still there next to {target}; "
                        f"{target} is used. Delete {legacy} once its queue is no longer needed.")
            (target / LEGACY_TOLD).touch()
        return target
    return target if _move(legacy, target) else legacy


def _move(legacy: Path, target: Path) -> bool:
    """Rename legacy -> target while holding legacy's drain lock: a drainer of the old version
    that is still draining keeps its folder until it exits (the next run moves it then)."""
    lock = DrainLock(legacy)
    if not lock.try_acquire():
        return False
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        os.rename(legacy, target)
    except OSError as exc:  # another run moved it first, another disk, or Windows' open files
        if target.exists() and not legacy.exists():
            return True
        log.warning(f"could not move PlexSync's data folder {legacy} to {target} ({exc}); "
                    f"still using {legacy}. Move it by hand while Stash is stopped.")
        return False
    finally:
        lock.release()
    log.info(f"moved PlexSync's data folder from {legacy} to {target} (the plugin folder is "
             "deleted when Stash uninstalls or updates a plugin)")
    return True
