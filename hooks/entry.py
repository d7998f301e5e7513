"""PlexSync.py's body: read Stash's JSON from stdin, run the request's route, answer {"output"} /
{"error"}. Stash's plugin protocol, so it lives on the Stash side (hooks/).

In a module rather than in PlexSync.py because Python caches a module's bytecode but
compiles the script it is started with on every run (~2-3 ms here, on every saved scene).

Routing, not doing: PlexSync.py owns ROUTES (a hook goes to hooks/, a web UI read to
hooks/ui/, a task to worker/tasks/) and hands it to main(); only the chosen route's module is
imported. So hooks/ never names worker/, and a hook, which runs for every saved scene while
Stash waits, imports almost nothing (no json, logging, pathlib, sqlite3, urllib:
tests/stash/test_hook_path_imports.py); PlexSync.yml starts Python with -S (no site-packages
scan: the hook needs none). The task route loads site-packages itself.
"""
import os
import sys

from hooks.lean_json import dumps, loads

PLUGIN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class InputError(ValueError):
    """Stash's stdin was not the JSON object a plugin is given."""


def read_request(raw: str) -> dict:
    if not raw.strip():
        raise InputError("no input on stdin: PlexSync must be started by Stash (or process_queue.py)")
    try:
        request = loads(raw)
    except ValueError as exc:
        raise InputError(f"stdin is not JSON ({getattr(exc, 'msg', exc)} at "
                         f"{getattr(exc, 'pos', '?')})") from None
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


def route(args: dict, routes):
    """The function that runs this request (its module imported now, and only it).

    routes: (name, predicate on Stash's args, "module:function") rows, first match wins
    (PlexSync.ROUTES)."""
    target = next(target for _name, belongs, target in routes if belongs(args))
    module, function = target.split(":")
    return getattr(__import__(module, fromlist=(function,)), function)


def dispatch(request: dict, after_answer: list, routes) -> str | dict:
    conn = request.get("server_connection") or {}
    args = request.get("args") or {}
    plugin_dir = conn.get("PluginDir") or PLUGIN_DIR
    data_dir = _data_dir(plugin_dir, conn.get("Dir"))  # Dir: Stash's config folder
    return route(args, routes)(conn, args, plugin_dir, data_dir, after_answer)


def _data_dir(plugin_dir, stash_config_dir) -> str:
    """The data folder; a <plugin folder>/data left by an older PlexSync is moved there once
    (hooks/data_location.py). Costs one stat when there is nothing to move."""
    from validation.data_dir import LEGACY_TOLD, data_dir_path, legacy_data_dir
    target = data_dir_path(plugin_dir, stash_config_dir)
    legacy = legacy_data_dir(plugin_dir)
    if target == legacy or not os.path.isdir(legacy) or os.environ.get("PLEXSYNC_DATA_DIR") \
            or os.path.exists(os.path.join(target, LEGACY_TOLD)):
        return target
    from hooks.data_location import data_dir_with_migration
    from hooks.stash_log import install_stash_logging
    install_stash_logging()  # the move is said once, in Stash's log (hook or task alike)
    return os.fspath(data_dir_with_migration(plugin_dir, stash_config_dir))


def main(routes, stdin=None, stdout=None) -> int:
    stdin, stdout = stdin or sys.stdin, stdout or sys.stdout
    cookie = None
    after_answer: list = []
    try:
        request = read_request(stdin.read())
        cookie = ((request.get("server_connection") or {}).get("SessionCookie") or {}).get("Value")
        answer = '{"output":' + dumps(dispatch(request, after_answer, routes)) + "}"
    except Exception as exc:  # the user gets one clear line, never a traceback
        answer = _failure(exc, cookie)
    stdout.write(answer)
    stdout.flush()
    if after_answer:
        _let_go_of_stdio(stdout)
        for work in after_answer:
            work()
    return 0


def _let_go_of_stdio(stdout) -> None:
    """Stash reads our stdout and stderr to EOF. The answer is out: point both at /dev/null
    before work that starts a process, so no child can keep Stash waiting on them."""
    if os.name == "nt" or stdout is not sys.stdout:
        return
    sys.stderr.flush()
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.dup2(null, 2)
    os.close(null)


def _failure(exc: Exception, cookie) -> str:
    """{"error": ...} and the same line in Stash's log (secrets scrubbed); the rare path, so
    the logging machinery is loaded only here."""
    import logging
    from hooks.errors import describe_failure
    from hooks.stash_log import install_stash_logging, register_secret, scrub
    if not logging.getLogger().handlers:
        install_stash_logging()
    register_secret(cookie)
    message = scrub(describe_failure(exc))
    log = logging.getLogger("PlexSync")
    log.error(message)
    log.debug("details", exc_info=(type(exc), exc, exc.__traceback__))
    return '{"error":' + dumps(message) + "}"


def finish(code: int) -> None:
    """Exit: a task the normal way (threads and log handlers finish); a hook at once,
    skipping interpreter teardown, because Stash waits for our exit."""
    if "logging" in sys.modules:
        sys.exit(code)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
