"""Every SQLite file of PlexSync's queue: jobs, scheduled retries, dead letters, sync records,
breaker / auth / drain state (queue.db), and the drain lock (drain.lock).

Kept empty on purpose: the hook imports sync_queue.store and sync_queue.lock, which are
stdlib only; the drain-side modules (jobs.py imports persist-queue) load only when imported.
"""
