"""What both Sync All figures (6: bench/sync_all.py, 7: bench/sync_all_scale.py) share: the
emulators' server process and one timed Sync All task process.

The server (`python bench/sync_all_server.py N`) holds a Stash emulator with N scenes, each
with a cover, and a Plex emulator with N matching items, PlexSync's settings pointing at it;
it prints what the measured side needs (Stash's port and a session cookie, scene ids, Plex
keys) and then answers one JSON command per line: `clear` (empty both request logs, restart
the CPU count), `drift` (k items back to old titles, unlocked: a restored Plex database) and
`stats` (Plex requests by method, scenes whose Plex title is not Stash's, most requests in
flight, cover downloads and scene pages from Stash, first and last Plex request, the
emulators' CPU since `clear`). It is a separate process so the emulators neither share a GIL
with the timing loop nor inflate the measured process.

Peak RSS of the task: its kernel high-water mark (VmHWM in /proc/<pid>/status, polled every
20 ms until it exits). Not getrusage(RUSAGE_CHILDREN): Linux carries a parent's peak RSS into
a forked child, so that would report at least this bench process's own peak.
"""
from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from common import PYTHON, ROOT, child_env, plugin_env
from loopback import PlexEmulator, PluginRunner, StashEmulator, add_matching_scenes


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def serve(n: int) -> None:
    stash, plex = StashEmulator().start(), PlexEmulator(token="bench-token").start()
    _, ids = add_matching_scenes(stash, plex, n, covers=True)
    stash.set_plugin_settings("PlexSync", {"plex_url": plex.url, "plex_token": plex.token})
    with plex.state.lock:  # one pass: find_by_file would scan every item per scene
        key_of = {p.file: i.rating_key for i in plex.state.items.values() for p in i.parts}
    keys = [key_of[stash.state.scenes[i]["files"][0]["path"]] for i in ids]
    print(json.dumps({"stash_port": stash.port, "stash_url": stash.url,
                      "cookie": stash.create_session(), "ids": ids, "keys": keys,
                      "section": plex.state.items[keys[0]].section_id,
                      "stamps": [stash.state.unix(stash.state.scenes[i]["updated_at"])
                                 for i in ids]}), flush=True)
    since = _cpu()
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd["cmd"] == "clear":
            plex.clear_log()
            stash.clear_logs()
            plex.max_in_flight, since = 0, _cpu()
            answer = {}
        elif cmd["cmd"] == "drift":
            drifted = keys[::max(1, n // cmd["k"])][:cmd["k"]]
            for key in drifted:
                plex.set_item(key, title=f"Restored {key}", lock=False)
            answer = {"drifted": len(drifted)}
        elif cmd["cmd"] == "stats":
            answer = _stats(stash, plex, ids, keys, _cpu() - since)
        else:
            break
        print(json.dumps(answer), flush=True)
    stash.stop()
    plex.stop()


def _stats(stash, plex, ids: list, keys: list, served_cpu: float) -> dict:
    with plex.state.lock:
        titles = {i.rating_key: i.attrs.get("title") for i in plex.state.items.values()}
    records = plex.requests
    methods: dict = {}
    for r in records:
        methods[r.method] = methods.get(r.method, 0) + 1
    return {"methods": methods,
            "wrong": sum(1 for i, k in zip(ids, keys)
                         if titles[k] != stash.state.scenes[i]["title"]),
            "max_in_flight": plex.max_in_flight,
            "covers": sum(1 for r in stash.http_log if r.path.endswith("/screenshot")),
            "stash_pages": len(stash.graphql_requests(contains="findScenes")),
            "first": records[0].time if records else None,
            "last": records[-1].time if records else None,
            "server_cpu_s": served_cpu, "errors": plex.errors[:3]}


class EmulatorServer:
    """The server process, seen from the measured side."""

    def __init__(self, n: int):
        self.proc = subprocess.Popen([PYTHON, __file__, str(n)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, env=child_env(),
                                     cwd=str(ROOT))
        self.info = json.loads(self.proc.stdout.readline())

    def runner(self, tmp: Path, data_dir: Path, hang_timeout: float) -> PluginRunner:
        """A Stash-exact runner of the plugin against this server's Stash."""
        return PluginRunner(ROOT, ("0.0.0.0", self.info["stash_port"]),
                            session_cookie=self.info["cookie"], env=plugin_env(data_dir),
                            server_dir=str(tmp / "config"), cwd=str(tmp / "cwd"),
                            hang_timeout=hang_timeout)

    def ask(self, cmd: str, **args) -> dict:
        self.proc.stdin.write(json.dumps({"cmd": cmd, **args}) + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.write(json.dumps({"cmd": "quit"}) + "\n")
            self.proc.stdin.flush()
            self.proc.wait(120)


@dataclass
class TaskRun:
    wall_s: float
    peak_rss_kib: int
    cpu_s: float        # the task process's user + system CPU
    started: float      # time.time() at the start, to compare with the emulator's clock
    output: str
    error: str | None


def timed_sync_all(runner: PluginRunner, timeout: float) -> TaskRun:
    """One Sync All task process: wall, peak RSS (VmHWM polled every 20 ms), CPU, output."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.time()
    handle = runner.start_task("sync_all")
    peak = 0
    while (hwm := _vm_hwm_kib(handle.pid)) is not None:
        peak = max(peak, hwm)
        time.sleep(0.02)
    result = handle.wait(timeout)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return TaskRun(result.wall_s, peak, cpu, started, str(result.output), result.error)


def _vm_hwm_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


if __name__ == "__main__":
    serve(int(sys.argv[1]))
