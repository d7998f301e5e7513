"""queue.db as Stash's web UI reads it, lean like the hook: rows.py (the reader: `os` and the
sqlite3 C module) and cache.py (a panel's last reading, reused while queue.db is unchanged;
`os` only). Empty on purpose: cache.py must load without SQLite.
"""
