"""Stash tasks and the terminal's view of them; `registry` maps a task mode to its body.

Kept empty on purpose: process_queue.py imports `worker.tasks.env` and `worker.tasks.console`
(standard library only) before it knows plexapi can be imported.
"""
