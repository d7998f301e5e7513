"""PlexSync in Stash's web UI: the script and style Stash serves (plexsync.js, plexsync.css,
PlexSync.yml `ui:`) and the read modes they call through runPluginOperation.

Read modes answer from PlexSync's local files only (never Plex) and are dispatched by
PlexSync.py's ROUTES before site-packages are loaded: the scene panel polls them. Actions (Sync
now, Retry, Delete, Health Check) are tasks: worker/tasks/ui_actions.py.
"""
READ_MODES = frozenset({"ui_scene", "ui_overview"})
