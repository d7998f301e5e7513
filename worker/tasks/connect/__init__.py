"""Connect to Plex: sign in at plex.tv/link and pick a server (flow), for the PlexSync page
(operations: runPluginOperation modes ui_connect_*) and for a terminal (terminal:
`process_queue.py plex-login`)."""
