"""Figure 6: Sync All of 10,000 scenes end to end: the Sync All task, run by the Stash-exact
runner as Stash's Tasks page would, reads 10,000 scenes from the Stash emulator page by page,
queues them and syncs every one into a Plex emulator holding 10,000 matching items (each a
first sync: metadata PUT plus poster and background from the scene's cover, which every
scene has, as after Stash's scan generated screenshots; the index is built by the task).

Both emulators run in a separate server process (`--serve`), so they neither share a GIL with
the runner's timing thread nor inflate this process. Peak RSS of the plugin process: its
kernel high-water mark (VmHWM in /proc/<pid>/status, polled every 20 ms until it exits). Not
getrusage(RUSAGE_CHILDREN): Linux carries a parent's peak RSS into a forked child, so that
would report at least this bench process's own peak (kept in details for comparison).
Afterwards every one of the 10,000 Plex items is checked to carry its scene's title.
"""
from __future__ import annotations

import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import PYTHON, ROOT, Figure, child_env, cli, mib, plugin_env, secs
from loopback import PlexEmulator, PluginRunner, StashEmulator, add_matching_scenes, plex_files

GOAL_S = 120.0
GOAL_RSS_KIB = 250_000_000 // 1024  # 250 MB (decimal), i.e. 238 MiB


def _serve(n: int) -> None:
    """The server process: both emulators with n matching scenes; answers 'verify'."""
    stash, plex = StashEmulator().start(), PlexEmulator(token="bench-token").start()
    _, ids = add_matching_scenes(stash, plex, n, covers=True)
    stash.set_plugin_settings("PlexSync", {"plex_url": plex.url, "plex_token": plex.token})
    loaded = _cpu()
    print(json.dumps({"stash_port": stash.port, "cookie": stash.create_session()}), flush=True)
    for line in sys.stdin:
        if line.strip() != "verify":
            break
        serving = _cpu() - loaded  # answering the warm-up and the task, not loading or checking
        with plex.state.lock:  # one pass: find_by_file would scan every item per scene
            key_of = {p.file: i.rating_key for i in plex.state.items.values() for p in i.parts}
        wrong = [n_ for n_, path in enumerate(plex_files(len(ids)))
                 if plex.item(key_of[path])["title"] != f"Stash scene {n_}"]
        records = plex.requests
        methods: dict = {}
        for r in records:
            methods[r.method] = methods.get(r.method, 0) + 1
        covers = sum(1 for r in stash.http_log if r.path.endswith("/screenshot"))
        pages = len(stash.graphql_requests(contains="findScenes"))
        print(json.dumps({"wrong": len(wrong), "methods": methods, "stash_covers": covers,
                          "stash_pages": pages,
                          "first": records[0].time if records else None,
                          "last": records[-1].time if records else None,
                          "server_cpu_s": serving,
                          "errors": plex.errors[:3]}), flush=True)
    stash.stop()
    plex.stop()


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _vm_hwm_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def run(quick: bool) -> Figure:
    n = 300 if quick else 10_000
    fig = Figure("sync all", quick)
    server = subprocess.Popen([PYTHON, __file__, "--serve", str(n)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, env=child_env(), cwd=str(ROOT))
    tmp = Path(tempfile.mkdtemp(prefix="plexsync-bench-syncall-"))
    try:
        info = json.loads(server.stdout.readline())
        runner = PluginRunner(ROOT, ("0.0.0.0", info["stash_port"]), session_cookie=info["cookie"],
                              env=plugin_env(tmp / "data"), server_dir=str(tmp / "config"),
                              cwd=str(tmp / "cwd"), hang_timeout=900)
        runner.run_task("queue_status")  # warm-up (uncounted): bytecode cache of the task path
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.time()
        handle = runner.start_task("sync_all")
        peak = 0
        while True:
            hwm = _vm_hwm_kib(handle.pid)
            if hwm is None:
                break
            peak = max(peak, hwm)
            time.sleep(0.02)
        result = handle.wait(900)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        plugin_cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        children_maxrss = after.ru_maxrss
        own_maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        server.stdin.write("verify\n")
        server.stdin.flush()
        check = json.loads(server.stdout.readline())
    finally:
        if server.poll() is None:
            server.stdin.write("quit\n")
            server.stdin.flush()
            server.wait(60)
        shutil.rmtree(tmp, ignore_errors=True)
    if result.error or f"synced {n}," not in str(result.output) or check["wrong"]:
        raise RuntimeError(f"Sync All incomplete: {check['wrong']} scenes wrong in Plex; "
                           f"{result.output!r} {result.error!r}")
    wall = result.wall_s
    fig.add(f"6a Sync All {n:,} scenes: wall", secs(wall),
            f"< {GOAL_S:g} s" + ("" if n == 10_000 else " (for 10,000)"),
            wall < GOAL_S if n == 10_000 else None,
            f"{n / wall:,.0f} scenes/s; plugin CPU {secs(plugin_cpu)}")
    fig.add(f"6b Sync All {n:,}: peak RSS of the plugin process", mib(peak),
            "< 250 MB", peak < GOAL_RSS_KIB if n == 10_000 else None,
            "VmHWM, polled every 20 ms")
    drain_span = check["last"] - check["first"]
    fig.add(f"6c Sync All {n:,}: Plex phase (first to last Plex request)", secs(drain_span),
            "-", None, f"before it (start-up, read Stash, queue): "
                       f"{secs(check['first'] - started)}")
    requests = ", ".join(f"{v:,} {k}" for k, v in sorted(check["methods"].items()))
    fig.add(f"6d Sync All {n:,}: Plex requests", requests, "-", None,
            f"Stash: {check['stash_pages']} scene pages, {check['stash_covers']:,} covers; "
            f"emulators' CPU while serving: {secs(check['server_cpu_s'])}")
    fig.details = {"wall_s": wall, "plugin_cpu_s": plugin_cpu, "peak_rss_kib": peak,
                   "rusage_children_maxrss_kib": children_maxrss,
                   "bench_process_maxrss_kib": own_maxrss, "check": check,
                   "output": result.output}
    return fig


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--serve":
        _serve(int(sys.argv[2]))
    else:
        cli(run)
