"""PlexSync entry point: Stash starts this file for every hook and task (interface: raw).

It only reads Stash's JSON from stdin, dispatches, and answers {"output"} or {"error"} on
stdout. Hooks stay on the standard library; tasks import the worker, which pulls in plexapi.
"""
from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from hooks.data_location import data_dir_with_migration  # noqa: E402
from hooks.dependencies import ensure_worker_dependencies  # noqa: E402
from hooks.errors import describe_failure  # noqa: E402
from hooks.scene_hook import handle_scene_hook  # noqa: E402
from hooks.stash_log import install_stash_logging, register_secret, scrub  # noqa: E402

log = logging.getLogger("PlexSync")


class InputError(ValueError):
    """Stash's stdin was not the JSON object a plugin is given."""


def read_request(raw: str) -> dict:
    if not raw.strip():
        raise InputError("no input on stdin: PlexSync must be started by Stash (or process_queue.py)")
    try:
        request = json.loads(raw)
    except ValueError as exc:
        raise InputError(f"stdin is not JSON ({exc.msg} at {exc.pos})") from None
    except RecursionError:
        raise InputError("stdin JSON is nested too deeply to be Stash's input") from None
    if not isinstance(request, dict):
        raise InputError("stdin JSON is not an object")
    _require_objects(request)
    return request


# The parts of Stash's input PlexSync reads keys from: each must be an object (or absent/null),
# so a malformed input ends in a sentence naming the part, not in an AttributeError.
_OBJECT_PATHS = (("server_connection",), ("server_connection", "SessionCookie"), ("args",),
                 ("args", "hookContext"))


def _require_objects(request: dict) -> None:
    for path in _OBJECT_PATHS:
        value = request
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        if value is not None and not isinstance(value, dict):
            raise InputError(f"stdin JSON: {'.'.join(path)} is not an object")


def dispatch(request: dict) -> str:
    conn = request.get("server_connection") or {}
    args = request.get("args") or {}
    register_secret((conn.get("SessionCookie") or {}).get("Value"))
    plugin_dir = Path(conn.get("PluginDir") or Path(__file__).resolve().parent)
    data_dir = data_dir_with_migration(plugin_dir, conn.get("Dir"))  # Dir: Stash's config folder
    if "hookContext" in args:
        return handle_scene_hook(conn, args["hookContext"] or {}, plugin_dir, data_dir)
    ensure_worker_dependencies()
    from worker.tasks.registry import run_task  # tasks need plexapi; hooks must not pay for it
    return run_task(args, conn, plugin_dir, data_dir)


def main(stdin=None, stdout=None) -> int:
    stdin, stdout = stdin or sys.stdin, stdout or sys.stdout
    install_stash_logging()
    try:
        answer = {"output": dispatch(read_request(stdin.read()))}
    except Exception as exc:  # the user gets one clear line, never a traceback
        message = scrub(describe_failure(exc))
        log.error(message)
        log.debug("details", exc_info=True)
        answer = {"error": message}
    stdout.write(json.dumps(answer))
    stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
