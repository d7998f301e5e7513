"""Where PlexSync keeps its state. `os` only: the hook resolves it on every edit."""
import os


def data_dir_path(plugin_dir) -> str:
    """$PLEXSYNC_DATA_DIR if set, else <plugin dir>/data."""
    override = os.environ.get("PLEXSYNC_DATA_DIR")
    return override if override else os.path.join(os.fspath(plugin_dir), "data")
