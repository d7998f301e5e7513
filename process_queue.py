#!/usr/bin/env python3
"""PlexSync from a terminal: the same tasks as Stash's Tasks page, on the same queue.

    python process_queue.py                     drain the queue now (Process Queue)
    python process_queue.py status              queue, breaker, drainer, index (Queue Status)
    python process_queue.py sync-all            make Plex match Stash for every scene, drain
    python process_queue.py sync-recent --hours 6
    python process_queue.py dry-run             what Sync All would change, per field
    python process_queue.py dlq list|retry|purge
    python process_queue.py health

Connection: --stash-url / --api-key, or $PLEXSYNC_STASH_URL / $PLEXSYNC_STASH_API_KEY (prefer
the variable: a key on the command line shows in `ps`). Settings come from Stash;
--plex-url / --plex-token override two of them. Progress goes to stderr (a bar on a
terminal, plain lines otherwise); the answer goes to stdout, as JSON with --json.
Exit status: 0 ok, 1 something failed or needs attention, 2 usage error, 130 stopped by
Ctrl-C (after the current job; nothing is lost).
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from pathlib import Path
from urllib.parse import urlsplit

PLUGIN_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(PLUGIN_DIR))

from hooks.dependencies import ensure_worker_dependencies  # noqa: E402
from hooks.errors import describe_failure  # noqa: E402
from hooks.stash_api import StashClient  # noqa: E402
from hooks.stash_log import register_secret, scrub  # noqa: E402
from validation.config import data_dir_for  # noqa: E402
from worker.tasks.console import make_output  # noqa: E402  (stdlib + optional rich)
from worker.tasks.env import TaskEnv, TaskError  # noqa: E402  (stdlib only)

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
DEFAULT_STASH_URL = "http://localhost:9999"
COMMANDS = {"drain": "process_queue", "status": "queue_status", "sync-all": "sync_all",
            "sync-recent": "sync_recent", "dry-run": "dry_run", "health": "health_check"}
DLQ_COMMANDS = {"list": "dlq_list", "retry": "dlq_retry", "purge": "dlq_purge"}


class UsageError(ValueError):
    """The command line asks for something impossible; exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    # Options are accepted before and after the command (`--json status`, `status --json`);
    # SUPPRESS keeps a sub-command's unset copy from overwriting the main parser's value.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--stash-url", default=argparse.SUPPRESS,
                        help=f"Stash URL (default $PLEXSYNC_STASH_URL or {DEFAULT_STASH_URL})")
    common.add_argument("--api-key", default=argparse.SUPPRESS,
                        help="Stash API key (default $PLEXSYNC_STASH_API_KEY)")
    common.add_argument("--plex-url", default=argparse.SUPPRESS, help="override plex_url")
    common.add_argument("--plex-token", default=argparse.SUPPRESS, help="override plex_token")
    common.add_argument("--data-dir", default=argparse.SUPPRESS,
                        help="queue folder (default $PLEXSYNC_DATA_DIR or <plugin>/data)")
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="answer as one JSON object on stdout")
    common.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                        help="debug log lines")
    parser = argparse.ArgumentParser(prog="process_queue.py", parents=[common],
                                     description=__doc__.splitlines()[0],
                                     epilog="Exit status: 0 ok, 1 failures, 2 usage, 130 Ctrl-C.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_text in (("drain", "drain the queue now (default)"),
                            ("status", "queue status"), ("sync-all", "make Plex match Stash, drain"),
                            ("dry-run", "what Sync All would change, nothing written"),
                            ("health", "check Stash, Plex, libraries and path_map")):
        sub.add_parser(name, parents=[common], help=help_text)
    recent = sub.add_parser("sync-recent", parents=[common], help="Sync All for recent edits")
    recent.add_argument("--hours", type=float, default=24.0, help="window in hours (24)")
    dlq = sub.add_parser("dlq", parents=[common], help="dead letters: list, retry, purge")
    action = dlq.add_subparsers(dest="dlq_action", metavar="ACTION", required=True)
    for name, help_text in (("list", "list dead letters with reason and candidates"),
                            ("retry", "queue dead letters again and drain")):
        action.add_parser(name, parents=[common], help=help_text).add_argument(
            "--reason", help="only this reason code (e.g. ambiguous_match)")
    action.add_parser("purge", parents=[common], help="delete old dead letters").add_argument(
        "--days", type=float, help="older than this many days (default: dlq_retention_days)")
    return parser


def task_request(opts: argparse.Namespace) -> tuple[str, dict]:
    """(mode, args) exactly as Stash would pass them: argument values as strings."""
    command = opts.command or "drain"
    mode = DLQ_COMMANDS[opts.dlq_action] if command == "dlq" else COMMANDS[command]
    args = {"mode": mode}
    for name in ("hours", "reason", "days"):
        value = getattr(opts, name, None)
        if value is not None:
            args[name] = f"{value:g}" if isinstance(value, float) else str(value)
    return mode, args


def stash_client(opts: argparse.Namespace) -> tuple[StashClient, dict]:
    """The Stash client, and a server_connection like Stash's for a background drainer."""
    url = (getattr(opts, "stash_url", None) or os.environ.get("PLEXSYNC_STASH_URL")
           or DEFAULT_STASH_URL)
    api_key = getattr(opts, "api_key", None) or os.environ.get("PLEXSYNC_STASH_API_KEY")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"--stash-url must look like http://host:9999 (got {url!r})")
    register_secret(api_key)
    connection = {"Scheme": parts.scheme, "Host": parts.hostname,
                  "Port": parts.port or (443 if parts.scheme == "https" else 80)}
    return StashClient(url, api_key=api_key, timeout=30.0), connection


def run(opts: argparse.Namespace, stop: threading.Event) -> tuple[int, dict]:
    mode, args = task_request(opts)
    stash, connection = stash_client(opts)
    ensure_worker_dependencies()
    # The task bodies need plexapi & co.: imported once they are known to be installed, so
    # a missing package ends in the install command instead of a traceback.
    from worker.tasks.registry import load_settings, run_mode
    reporter = make_output(getattr(opts, "verbose", False))
    overrides = {"plex_url": getattr(opts, "plex_url", None),
                 "plex_token": getattr(opts, "plex_token", None)}
    settings, cfg = load_settings(stash, overrides)
    data_dir = Path(getattr(opts, "data_dir", None) or data_dir_for(PLUGIN_DIR))
    env = TaskEnv(cfg=cfg, settings=settings, stash=stash, plugin_dir=PLUGIN_DIR,
                  data_dir=data_dir, args=args, reporter=reporter,
                  server_connection=connection, stop=stop)
    result = run_mode(mode, env)
    answer = {"mode": mode, "ok": result.ok, "stopped": stop.is_set(), **result.data,
              "text": scrub(result.text)}
    if stop.is_set():
        return EXIT_INTERRUPTED, answer
    return (EXIT_OK if result.ok else EXIT_FAILED), answer


def _stop_on_signals(stop: threading.Event) -> None:
    def handle(signum, frame):
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt  # second Ctrl-C: quit now; the next drain resumes the job
        stop.set()
        sys.stderr.write("stopping after the current job (Ctrl-C again to quit at once)\n")
    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)


def main(argv: list[str] | None = None) -> int:
    opts = build_parser().parse_args(argv)  # usage errors exit 2 here
    as_json = getattr(opts, "json", False)
    stop = threading.Event()
    _stop_on_signals(stop)
    try:
        code, answer = run(opts, stop)
    except KeyboardInterrupt:
        code, answer = EXIT_INTERRUPTED, {"ok": False, "error": "interrupted"}
    except Exception as exc:  # noqa: BLE001 - one line for the user, never a traceback
        code = EXIT_USAGE if _is_usage(exc) else EXIT_FAILED
        answer = {"ok": False, "error": scrub(describe_failure(exc))}
    if as_json:
        print(json.dumps(answer, default=str, ensure_ascii=False))
    elif "text" in answer:
        print(answer["text"])
    else:
        print(f"error: {answer['error']}", file=sys.stderr)
    return code


def _is_usage(exc: Exception) -> bool:
    """A bad command line or task argument, as opposed to something that failed."""
    return isinstance(exc, (UsageError, TaskError))


if __name__ == "__main__":
    sys.exit(main())
