"""Stash tasks: `mode` -> task body, with settings loaded once and secrets scrubbed.

PlexSync.py calls run_task() for every task Stash starts; process_queue.py calls run_mode()
with its own TaskEnv. Both reach the same task functions, so the terminal and Stash's Tasks
page can never disagree about what a task does.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

from hooks.stash_api import StashClient
from hooks.stash_version import remember_version
from hooks.stash_log import install_stash_logging, progress, register_secret, scrub
from sync_queue import inbox
from sync_queue.notes import take_notes, take_summary
from validation.config import ConfigError
from hooks.lean_json import dumps, loads
from worker.tasks import dlq, drain, dry_run, health, import_plays, status, sync_all, ui_actions
from worker.tasks.connect import operations as connect_operations
from worker.tasks.env import StashProgress, TaskEnv, TaskError, TaskResult, load_settings

log = logging.getLogger(__name__)

MODES: dict[str, Callable[[TaskEnv], TaskResult]] = {
    "process_queue": drain.process_queue,
    "sync_all": sync_all.sync_all,
    "sync_recent": sync_all.sync_recent,
    "queue_status": status.queue_status,
    "dlq_list": dlq.dlq_list,
    "dlq_retry": dlq.dlq_retry,
    "dlq_purge": dlq.dlq_purge,
    "health_check": health.health_check,
    "dry_run": dry_run.dry_run,
    "import_plays": import_plays.import_plays,
    # Stash's web UI (hooks/ui/plexsync.js): the answer goes back to it as JSON
    "ui_sync_now": ui_actions.sync_now,
    "ui_retry": dlq.dlq_retry,
    "ui_delete": dlq.dlq_delete,
    "ui_health_check": health.health_check,
}


DRAINING_MODES = frozenset({"process_queue", "sync_all", "sync_recent", "dlq_retry", "ui_retry"})
UI_PREFIX = "ui_"


def check_mode(mode) -> str:
    """The mode if PlexSync has it; else one error naming every valid mode."""
    if mode not in MODES and mode not in connect_operations.MODES:
        tasks = (m for m in MODES if not m.startswith(UI_PREFIX))  # the page's are not typed
        raise TaskError(f"unknown task mode {mode!r}; valid modes: {', '.join(tasks)}")
    return mode


def run_mode(mode: str, env: TaskEnv) -> TaskResult:
    """Run one task body; the surfaced background summary comes first in the log."""
    mode = check_mode(mode)
    background = take_summary(env.data_dir)
    if background:
        log.info(f"background sync: {background}")
    for note in take_notes(env.data_dir):
        log.warning(note)
    if mode not in DRAINING_MODES:  # those drain anyway; the others resume a dead drainer
        drain.resume_stranded(env)
    try:
        return MODES[mode](env)
    finally:
        env.reporter.finish()


def run_task(args: dict, conn: dict, plugin_dir: Path, data_dir: Path) -> str | dict:
    """Stash's entry: returns the task's answer text and logs it into Stash's log (the
    Connect page's operations: their answer object, see worker/tasks/connect/operations.py)."""
    mode = check_mode(args.get("mode"))
    stash = StashClient.from_server_connection(conn)
    register_secret(*stash.secrets())
    remember_version(stash, data_dir)  # once per Stash: documents adapt to it, too old stops here
    if mode in connect_operations.MODES:  # before the settings: Connect is how they get set
        return scrubbed_answer(connect_operations.run(mode, args, stash, Path(data_dir),
                                                       Path(plugin_dir)))
    try:
        settings, cfg = load_settings(stash)
    except ConfigError:  # hooks read no settings; this flag makes them check (and say so)
        inbox.set_flag(data_dir, inbox.SETTINGS_FLAG, True)
        raise
    inbox.set_flag(data_dir, inbox.SETTINGS_FLAG, False)
    install_stash_logging(debug=cfg.debug_logging)
    env = TaskEnv(cfg=cfg, settings=settings, stash=stash, plugin_dir=Path(plugin_dir),
                  data_dir=Path(data_dir), args=dict(args), reporter=StashProgress(progress),
                  server_connection=dict(conn))
    result = run_mode(mode, env)
    text = scrub(result.text)
    # Stash shows a task's output nowhere; its log is where the user reads the answer.
    (log.info if result.ok else log.warning)(text)
    if mode.startswith(UI_PREFIX):  # the page shows the answer as JSON
        return scrubbed_answer({"ok": result.ok, "text": result.text, **result.data})
    return text


def scrubbed_answer(answer: dict) -> dict:
    """An answer for the page, with every registered secret cut out of it as a whole."""
    return loads(scrub(dumps(answer)))
