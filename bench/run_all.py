"""Run every PlexSync benchmark and print one table: figure, value, goal, pass/fail,
floor/baseline.

    .venv/bin/python bench/run_all.py            # full sizes, < 10 minutes
    .venv/bin/python bench/run_all.py --quick    # smaller sizes, fewer runs, < 1 minute
    .venv/bin/python bench/run_all.py --json out.json

Each figure runs in its own process (bench/<module>.py --json -): no emulator, thread or
peak-RSS high-water mark of one figure leaks into the next. The machine facts and the load
average before and after every figure are printed with the table, because a 2-core machine
shared with other work moves every absolute number; the floors beside them move alike.
Exit status 1 when a figure crashed or missed a goal.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from common import PYTHON, ROOT, child_env, loadavg, machine, render

FIGURES = ("requests_per_scene", "hook_latency", "bulk_edit", "queue_throughput",
           "index_build", "sync_all", "plays_import", "sync_all_scale", "hook_queue_depth",
           "new_scene")
HERE = Path(__file__).resolve().parent


def run_figure(module: str, quick: bool) -> dict:
    argv = [PYTHON, str(HERE / f"{module}.py"), "--json", "-"] + (["--quick"] if quick else [])
    started, before = time.monotonic(), loadavg()
    done = subprocess.run(argv, capture_output=True, text=True, env=child_env(), cwd=str(ROOT))
    if done.returncode == 0:
        return json.loads(done.stdout.strip().splitlines()[-1])
    tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
    return {"name": module, "quick": quick, "seconds": round(time.monotonic() - started, 2),
            "load_before": before, "load_after": loadavg(), "details": {"stderr": done.stderr},
            "rows": [{"figure": f"{module}: CRASHED", "value": tail[:80], "goal": "-",
                      "ok": False, "baseline": "-"}]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="smaller sizes and fewer runs (labelled in every row)")
    parser.add_argument("--json", metavar="FILE", help="also write everything as JSON")
    parser.add_argument("--only", nargs="*", choices=FIGURES, help="run only these figures")
    args = parser.parse_args()
    facts = machine()
    started = time.monotonic()
    figures = []
    for module in args.only or FIGURES:
        print(f"running {module}{' (quick)' if args.quick else ''} ...", file=sys.stderr,
              flush=True)
        figures.append(run_figure(module, args.quick))
    total = time.monotonic() - started
    mode = "QUICK (smaller sizes, fewer runs: not the figures' full definitions)" \
        if args.quick else "full"
    print(f"PlexSync benchmarks, {mode}")
    print(f"machine: {facts['cores']} cores ({facts['cpu'] or 'cpu model unknown'}), "
          f"Python {facts['python']} ({facts['implementation']}), {facts['platform']}")
    print(f"date: {facts['date']}; load average at start {facts['load']}, at end {loadavg()}")
    print()
    print(render(figures))
    print()
    for fig in figures:
        print(f"  {fig['name']}: {fig['seconds']:.1f} s, load {tuple(fig['load_before'])} -> "
              f"{tuple(fig['load_after'])}")
    print(f"total: {total:.1f} s")
    failed = [r for f in figures for r in f["rows"] if r["ok"] is False]
    if args.json:
        Path(args.json).write_text(json.dumps(
            {"machine": facts, "quick": args.quick, "total_s": round(total, 2),
             "figures": figures}, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
