"""Where PlexSync keeps its state. `os` only: the hook resolves it on every edit.

Not inside the plugin folder: Stash's package manager replaces that folder on updates (older
versions deleted it on uninstall), and it moves when PlexSync goes from plugins/PlexSync to
plugins/<source path>/PlexSync — queued edits would go with it.
"""
import os

DATA_FOLDER = "plexsync"       # <Stash config folder>/plexsync: outside every plugin folder
LEGACY_DATA_FOLDER = "data"    # <plugin folder>/data: where PlexSync kept its state before
STASH_CONFIG_FILE = "config.yml"
# Left in the data folder once the user was told an old <plugin folder>/data is still there:
# told once, and later hooks skip the check's imports (one stat instead).
LEGACY_TOLD = "old-data-folder-told"


def data_dir_path(plugin_dir, stash_config_dir=None) -> str:
    """$PLEXSYNC_DATA_DIR if set, else <Stash config folder>/plexsync.

    Stash passes its config folder to every plugin run (server_connection.Dir); a run without
    it (process_queue.py, a drainer) finds the folder holding Stash's config.yml above the
    plugin folder. Only a plugin folder with no Stash above it (a checkout) keeps
    <plugin folder>/data.
    """
    override = os.environ.get("PLEXSYNC_DATA_DIR")
    if override:
        return override
    config_dir = stash_config_dir or stash_config_dir_above(plugin_dir)
    if config_dir:
        return os.path.join(os.fspath(config_dir), DATA_FOLDER)
    return legacy_data_dir(plugin_dir)


def legacy_data_dir(plugin_dir) -> str:
    return os.path.join(os.fspath(plugin_dir), LEGACY_DATA_FOLDER)


def stash_config_dir_above(plugin_dir):
    """Stash's config folder for a plugin folder at <config>/plugins[/<source path>]/PlexSync."""
    parent = os.path.dirname(os.path.realpath(os.fspath(plugin_dir)))  # <config>/plugins[/<src>]
    for _ in range(2):
        parent = os.path.dirname(parent)
        if os.path.isfile(os.path.join(parent, STASH_CONFIG_FILE)):
            return parent
    return None
