"""PlexSync's boundary to Plex Media Server: the only package that talks to Plex.

client (HTTP + plexapi), errors (the one place library exceptions are translated), paths
(path_map), index (file -> item, in SQLite), matcher, edits (pure diff), sync (orchestration).
"""
