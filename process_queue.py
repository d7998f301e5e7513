#!/usr/bin/env python3
"""PlexSync from a terminal: the same tasks as Stash's Tasks page, on the same queue.

    python process_queue.py                     drain the queue now (Process Queue)
    python process_queue.py status              queue, breaker, drainer, index (Queue Status)
    python process_queue.py sync-all            make Plex match Stash for every scene, drain
    python process_queue.py sync-recent --hours 6
    python process_queue.py dry-run             what Sync All would change, per field
    python process_queue.py dlq list|retry|purge
    python process_queue.py health
    python process_queue.py plex-login          connect to Plex: a code for plex.tv/link, pick the server

Connection: --stash-url / --api-key, or $PLEXSYNC_STASH_URL / $PLEXSYNC_STASH_API_KEY (prefer
the variable: a key on the command line shows in `ps`). Settings come from Stash;
--plex-url / --plex-token override two of them (also for a background sync started from
here). `status`, `dlq list` and `dlq purge --days N` read only the local queue: they work
with Stash down and nothing set up. Progress goes to stderr (a bar on a
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
import traceback
from pathlib import Path
from urllib.parse import urlsplit

PLUGIN_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(PLUGIN_DIR))

from hooks.dependencies import ensure_worker_dependencies  # noqa: E402
from hooks.errors import describe_failure  # noqa: E402
from hooks.stash_api import StashClient, StashError  # noqa: E402
from hooks.stash_log import register_secret, scrub  # noqa: E402
from validation.config import Config, ConfigError, MissingSettings, check_plex_url  # noqa: E402
from hooks.data_location import data_dir_with_migration  # noqa: E402
from worker.tasks.console import make_output  # noqa: E402  (stdlib + optional rich)
from worker.tasks.env import TaskEnv, TaskError, days_value, hours_value  # noqa: E402  (stdlib only)

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
DEFAULT_STASH_URL = "http://localhost:9999"
COMMANDS = {"drain": "process_queue", "status": "queue_status", "sync-all": "sync_all",
            "sync-recent": "sync_recent", "dry-run": "dry_run", "health": "health_check",
            "import-plays": "import_plays"}
DLQ_COMMANDS = {"list": "dlq_list", "retry": "dlq_retry", "purge": "dlq_purge"}
# Read only queue.db: no Stash, no Plex, no settings needed (dlq_purge needs the retention
# setting from Stash only when --days is not given).
LOCAL_MODES = {"queue_status", "dlq_list", "dlq_purge"}
OVERRIDE_FLAGS = {"plex_url": "--plex-url", "plex_token": "--plex-token"}


class UsageError(ValueError):
    """The command line asks for something impossible; exit status 2."""


class CliFailure(RuntimeError):
    """Something the command needs is not available; str() says what to do; exit status 1."""


def build_parser() -> argparse.ArgumentParser:
    # Options are accepted before and after the command (`--json status`, `status --json`);
    # SUPPRESS keeps a sub-command's unset copy from overwriting the main parser's value.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--stash-url", default=argparse.SUPPRESS,
                        help=f"Stash URL (default $PLEXSYNC_STASH_URL or {DEFAULT_STASH_URL})")
    common.add_argument("--api-key", default=argparse.SUPPRESS,
                        help="Stash API key (default $PLEXSYNC_STASH_API_KEY)")
    common.add_argument("--plex-url", default=argparse.SUPPRESS, help="use this Plex URL instead of the Plex URL setting")
    common.add_argument("--plex-token", default=argparse.SUPPRESS, help="use this Plex token instead of the Plex token setting")
    common.add_argument("--data-dir", default=argparse.SUPPRESS,
                        help="queue folder (default $PLEXSYNC_DATA_DIR, else plexsync/ in the Stash config folder above the plugin)")
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
                            ("health", "check Stash, Plex, libraries and the path map"),
                            ("import-plays", "bring Plex plays, resume points, ratings into Stash")):
        sub.add_parser(name, parents=[common], help=help_text)
    login = sub.add_parser("plex-login", parents=[common],
                           help="connect to Plex: a code for plex.tv/link, then pick the server")
    login.add_argument("--server", help="the server's name (default: ask; the only one the "
                                        "account owns is taken without asking)")
    login.add_argument("--yes", action="store_true",
                       help="replace a Plex URL and token already set without asking")
    recent = sub.add_parser("sync-recent", parents=[common], help="Sync All for recent edits")
    recent.add_argument("--hours", type=_checked(hours_value), default=24.0,
                        help="window in hours (24)")
    dlq = sub.add_parser("dlq", parents=[common], help="failed syncs: list, retry, purge")
    action = dlq.add_subparsers(dest="dlq_action", metavar="ACTION", required=True)
    for name, help_text in (("list", "list failed syncs with reason and candidates"),
                            ("retry", "try failed syncs again now")):
        action.add_parser(name, parents=[common], help=help_text).add_argument(
            "--reason", help="only this reason code (e.g. ambiguous_match)")
    action.add_parser("purge", parents=[common], help="delete old failed syncs").add_argument(
        "--days", type=_checked(days_value),
        help="older than this many days (default: the Keep failed syncs setting)")
    return parser


def _checked(rule):
    """An argparse type from a task's argument rule, so the CLI and Stash reject alike (exit 2)."""
    def convert(raw: str) -> float:
        try:
            return rule(raw)
        except TaskError as exc:  # argparse names the option already
            raise argparse.ArgumentTypeError(str(exc).split("' ", 1)[-1]) from None
    convert.__name__ = rule.__name__.replace("_value", "")
    return convert


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
    try:
        parts = urlsplit(url)
        port = parts.port  # ValueError for a port that is not a number or out of range
    except ValueError:
        parts, port = None, None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"--stash-url (or $PLEXSYNC_STASH_URL) must look like "
                         f"http://host:9999 (got {url!r})")
    register_secret(api_key)
    connection = {"Scheme": parts.scheme, "Host": parts.hostname,
                  "Port": port or (443 if parts.scheme == "https" else 80)}
    return StashClient(url, api_key=api_key, timeout=30.0), connection


def usable_data_dir(opts: argparse.Namespace) -> Path:
    """The queue folder, created if missing; a path that cannot be one is a usage error."""
    given = getattr(opts, "data_dir", None)
    path = Path(given).expanduser() if given else data_dir_with_migration(PLUGIN_DIR, None)
    source = "--data-dir" if given else ("$PLEXSYNC_DATA_DIR" if os.environ.get(
        "PLEXSYNC_DATA_DIR") else "the data folder")
    if path.exists() and not path.is_dir():
        raise UsageError(f"{source} {path} is a file, not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"{source} {path} cannot be created: {exc.strerror or exc}") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise UsageError(f"{source} {path} is not writable for this user")
    return path


def overrides_of(opts: argparse.Namespace) -> dict:
    values = {key: getattr(opts, key, None) for key in OVERRIDE_FLAGS}
    register_secret(values["plex_token"])
    if values["plex_url"]:  # a bad URL is a bad argument, whichever command ignores it
        values["plex_url"] = check_plex_url(values["plex_url"])
    return {key: value for key, value in values.items() if value}


def local_config(stash: StashClient, overrides: dict, args: dict) -> tuple[dict, Config]:
    """Settings for a mode that reads only the queue: Stash is asked only for what it alone
    knows (the retention of failed syncs, when --days is not given)."""
    settings = dict(overrides)
    if args["mode"] == "dlq_purge" and "days" not in args:
        try:
            settings = {**stash.plugin_settings(), **overrides}
        except StashError as exc:
            raise CliFailure(f"could not read the Keep failed syncs setting from Stash ({exc}); "
                             "pass --days N to purge without Stash") from None
    raw = settings.get("dlq_retention_days")
    try:  # never guess here: a wrong retention deletes failed syncs the user meant to keep
        retention = Config.dlq_retention_days if raw in (None, "") else int(float(raw))
    except (TypeError, ValueError):
        raise CliFailure(f"the Keep failed syncs setting in Stash is not a number of days "
                         f"({raw!r}); fix it, or pass --days N") from None
    return settings, Config(plex_url=settings.get("plex_url") or "",
                            plex_token=settings.get("plex_token") or "",
                            dlq_retention_days=retention)


def run(opts: argparse.Namespace, stop: threading.Event) -> tuple[int, dict]:
    if opts.command == "plex-login":
        return plex_login(opts)
    mode, args = task_request(opts)
    stash, connection = stash_client(opts)
    data_dir = usable_data_dir(opts)
    ensure_worker_dependencies()
    # The task bodies need plexapi & co.: imported once they are known to be installed, so
    # a missing package ends in the install command instead of a traceback.
    from worker.tasks.env import load_settings
    from worker.tasks.registry import run_mode
    reporter = make_output(getattr(opts, "verbose", False))
    overrides = overrides_of(opts)
    if mode in LOCAL_MODES:
        settings, cfg = local_config(stash, overrides, args)
    else:
        settings, cfg = load_settings(stash, overrides)
    env = TaskEnv(cfg=cfg, settings=settings, stash=stash, plugin_dir=PLUGIN_DIR,
                  data_dir=data_dir, args=args, reporter=reporter,
                  server_connection=connection, stop=stop, overrides=overrides)
    result = run_mode(mode, env)
    answer = {"mode": mode, "ok": result.ok, "stopped": stop.is_set(), **result.data,
              "text": scrub(result.text)}
    if stop.is_set():
        return EXIT_INTERRUPTED, answer
    return (EXIT_OK if result.ok else EXIT_FAILED), answer


def plex_login(opts: argparse.Namespace) -> tuple[int, dict]:
    """Connect to Plex (worker/tasks/connect/terminal.py). Ctrl-C cancels at once, whatever
    it interrupts: each step's settings are stored whole by Stash, and the answer says which
    steps were done."""
    stash, _ = stash_client(opts)
    data_dir = usable_data_dir(opts)
    ensure_worker_dependencies()
    from worker.tasks.connect.terminal import Cancelled, Declined, Terminal, plex_login as login
    signal.signal(signal.SIGINT, signal.default_int_handler)  # a wait or a question: stop now
    reporters = []

    def reporter():  # made only for the Health Check: rich's live bar would fight the countdown
        reporters.append(make_output(getattr(opts, "verbose", False)))
        return reporters[-1]
    # With --json, stdout carries only the answer: the code, the link and the questions go
    # to stderr.
    terminal = Terminal(out=sys.stderr if getattr(opts, "json", False) else sys.stdout)
    try:
        result = login(stash, data_dir, PLUGIN_DIR, reporter, server=opts.server, yes=opts.yes,
                       terminal=terminal)
    except Cancelled as exc:
        return EXIT_INTERRUPTED, {"mode": "plex_login", "ok": False, "stopped": True,
                                  "text": str(exc)}
    except Declined as exc:
        return EXIT_FAILED, {"mode": "plex_login", "ok": False, "text": str(exc)}
    finally:
        for made in reporters:
            made.finish()
    answer = {"mode": "plex_login", "ok": result.ok, **result.data, "text": scrub(result.text)}
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
        code = EXIT_USAGE if _is_usage(exc, opts) else EXIT_FAILED
        if getattr(opts, "verbose", False):
            sys.stderr.write(scrub(traceback.format_exc()))
        answer = {"ok": False, "error": scrub(cli_message(exc))}
    if as_json:
        print(json.dumps(answer, default=str, ensure_ascii=False))
    elif "text" in answer:
        print(answer["text"])
    else:
        print(f"error: {answer['error']}", file=sys.stderr)
    return code


def cli_message(exc: Exception) -> str:
    """The one line for a terminal: settings named with the flags that set them here too."""
    if isinstance(exc, MissingSettings):
        flags = [OVERRIDE_FLAGS[k] for k in exc.missing if k in OVERRIDE_FLAGS]
        return exc.explain(f"or pass {' and '.join(flags)}" if flags else "")
    if isinstance(exc, CliFailure):
        return str(exc)
    return describe_failure(exc, details="run again with --verbose for the traceback")


def _is_usage(exc: Exception, opts: argparse.Namespace) -> bool:
    """A bad command line or task argument, as opposed to something that failed; a setting
    given on the command line that does not parse is a bad argument too."""
    if isinstance(exc, ConfigError) and getattr(opts, exc.setting, None):
        return True
    return isinstance(exc, (UsageError, TaskError))


if __name__ == "__main__":
    sys.exit(main())
