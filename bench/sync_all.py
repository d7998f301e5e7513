"""Figure 6: Sync All of 10,000 scenes end to end: the Sync All task, run by the Stash-exact
runner as Stash's Tasks page would, reads 10,000 scenes from the Stash emulator page by page,
queues them and syncs every one into a Plex emulator holding 10,000 matching items (each a
first sync: metadata PUT plus poster and background from the scene's cover, which every
scene has, as after Stash's scan generated screenshots; the index is built by the task).

The emulators' server process, the task's peak RSS (VmHWM) and its CPU are those of
bench/sync_all_server.py, shared with figure 7. Afterwards every one of the 10,000 Plex items
is checked to carry its scene's title.
"""
from __future__ import annotations

import resource
import shutil
import tempfile
from pathlib import Path

from common import Figure, cli, mib, secs
from sync_all_server import EmulatorServer, timed_sync_all

GOAL_S = 120.0
GOAL_RSS_KIB = 250_000_000 // 1024  # 250 MB (decimal), i.e. 238 MiB


def run(quick: bool) -> Figure:
    n = 300 if quick else 10_000
    fig = Figure("sync all", quick)
    server = EmulatorServer(n)
    tmp = Path(tempfile.mkdtemp(prefix="plexsync-bench-syncall-"))
    try:
        runner = server.runner(tmp, tmp / "data", hang_timeout=900)
        runner.run_task("queue_status")  # warm-up (uncounted): bytecode cache of the task path
        server.ask("clear")
        task = timed_sync_all(runner, 900)
        check = server.ask("stats")
    finally:
        server.close()
        shutil.rmtree(tmp, ignore_errors=True)
    if task.error or f"synced {n}," not in task.output or check["wrong"]:
        raise RuntimeError(f"Sync All incomplete: {check['wrong']} scenes wrong in Plex; "
                           f"{task.output!r} {task.error!r}")
    wall = task.wall_s
    fig.add(f"6a Sync All {n:,} scenes: wall", secs(wall),
            f"< {GOAL_S:g} s" + ("" if n == 10_000 else " (for 10,000)"),
            wall < GOAL_S if n == 10_000 else None,
            f"{n / wall:,.0f} scenes/s; plugin CPU {secs(task.cpu_s)}")
    fig.add(f"6b Sync All {n:,}: peak RSS of the plugin process", mib(task.peak_rss_kib),
            "< 250 MB", task.peak_rss_kib < GOAL_RSS_KIB if n == 10_000 else None,
            "VmHWM, polled every 20 ms")
    drain_span = check["last"] - check["first"]
    fig.add(f"6c Sync All {n:,}: Plex phase (first to last Plex request)", secs(drain_span),
            "-", None, f"before it (start-up, read Stash, queue): "
                       f"{secs(check['first'] - task.started)}")
    requests = ", ".join(f"{v:,} {k}" for k, v in sorted(check["methods"].items()))
    fig.add(f"6d Sync All {n:,}: Plex requests", requests, "-", None,
            f"Stash: {check['stash_pages']} scene pages, {check['covers']:,} covers; "
            f"emulators' CPU while serving: {secs(check['server_cpu_s'])}")
    fig.details = {"wall_s": wall, "plugin_cpu_s": task.cpu_s, "peak_rss_kib": task.peak_rss_kib,
                   "bench_process_maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                   "check": check, "output": task.output}
    return fig


if __name__ == "__main__":
    cli(run)
