"""What every benchmark shares: the result row, statistics, machine facts, the environment of
the processes a benchmark starts, and the CLI shape. (The emulated system is bench/loopback.py.)

Benchmarks are plain scripts, not tests: each figure module has `run(quick) -> Figure` and a
`main()` that prints its rows (`python bench/hook_latency.py [--quick] [--json out.json]`);
bench/run_all.py runs every module in its own process and prints one table.

Plugin processes get the environment a normal Stash install gives them: no test-runner
PYTHONPATH and bytecode caching ON. This sandbox exports PYTHONDONTWRITEBYTECODE=1, which would
make every hook recompile PlexSync from source; a real plugin folder keeps its __pycache__.
The cache goes to PYCACHE_DIR (PYTHONPYCACHEPREFIX) so the repository is never written to, and
every figure starts with an uncounted warm-up run that fills it.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/x.py` puts bench/, not the repository, first
    sys.path.insert(0, str(ROOT))
PYTHON = sys.executable
PYCACHE_DIR = Path(tempfile.gettempdir()) / "plexsync-bench-pycache"


# ---- results ---------------------------------------------------------------------------------
@dataclass
class Row:
    figure: str           # what was measured, e.g. "1a hook, drainer running: median"
    value: str            # the measurement, formatted
    goal: str = "-"       # the goal as the issue states it ("-" = none stated)
    ok: bool | None = None  # None: no goal to pass or fail
    baseline: str = "-"   # the floor or baseline measured in the same run


@dataclass
class Figure:
    name: str
    quick: bool
    rows: list = field(default_factory=list)
    details: dict = field(default_factory=dict)
    seconds: float = 0.0
    load_before: tuple = ()
    load_after: tuple = ()

    def add(self, *args, **kwargs) -> Row:
        row = Row(*args, **kwargs)
        self.rows.append(row)
        return row


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.3f} ms" if seconds < 0.001 else f"{seconds * 1000:.1f} ms"


def secs(seconds: float) -> str:
    return f"{seconds:.2f} s"


def mib(kib: float) -> str:
    return f"{kib / 1024:.0f} MiB"


def median(values) -> float:
    return statistics.median(values)


def p95(values) -> float:
    """Nearest-rank 95th percentile: a value that was actually observed."""
    ordered = sorted(values)
    return ordered[max(0, -(-95 * len(ordered) // 100) - 1)]


def loadavg() -> tuple:
    return tuple(round(x, 2) for x in os.getloadavg())


def machine() -> dict:
    """Facts read from this machine (never typed in by hand)."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cores": os.cpu_count(), "cpu": model, "python": sys.version.split()[0],
            "implementation": platform.python_implementation(), "platform": platform.platform(),
            "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "load": loadavg()}


# ---- processes -----------------------------------------------------------------------------
def plugin_env(data_dir: Path) -> dict:
    """The environment overrides a plugin process gets (see the module docstring)."""
    PYCACHE_DIR.mkdir(parents=True, exist_ok=True)
    return {"PLEXSYNC_DATA_DIR": str(data_dir), "PYTHONPATH": None,
            "PYTHONDONTWRITEBYTECODE": None, "PYTHONPYCACHEPREFIX": str(PYCACHE_DIR)}


def child_env() -> dict:
    """For bench helper processes (not plugin runs): repository importable, same bytecode cache."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(PYTHONPATH=str(ROOT), PYTHONPYCACHEPREFIX=str(PYCACHE_DIR))
    return env


# Linux carries a process's peak RSS across fork+exec: a child of this (large) bench process
# would report OUR peak as its ru_maxrss. A tiny launcher in between resets it: the launcher's
# own peak is only that of `python -c "import subprocess"`, well below any PlexSync process.
_LAUNCHER = "import subprocess, sys; sys.exit(subprocess.call(sys.argv[1:]))"


def run_measured_child(argv: list, stdin_text: str, timeout: float) -> str:
    """Run a bench helper process (argv) whose own getrusage(RUSAGE_SELF).ru_maxrss is
    honest; returns its stdout, raises with its stderr on failure."""
    done = subprocess.run([PYTHON, "-c", _LAUNCHER, *argv], input=stdin_text,
                          capture_output=True, text=True, env=child_env(), cwd=str(ROOT),
                          timeout=timeout)
    if done.returncode:
        raise RuntimeError(f"{argv[1:3]} failed:\n{done.stderr[-3000:]}")
    return done.stdout


# ---- CLI ---------------------------------------------------------------------------------------
def cli(run) -> None:
    """`python bench/<figure>.py [--quick] [--json FILE]`: run one figure, print its rows."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer runs")
    parser.add_argument("--json", metavar="FILE", help="write the figure as JSON ('-' = stdout)")
    args = parser.parse_args()
    figure = timed(run, args.quick)
    if args.json == "-":
        print(json.dumps(asdict(figure)))
        return
    if args.json:
        Path(args.json).write_text(json.dumps(asdict(figure), indent=2))
    print(render([figure]))


def timed(run, quick: bool) -> Figure:
    before, started = loadavg(), time.monotonic()
    figure = run(quick)
    figure.seconds = round(time.monotonic() - started, 2)
    figure.load_before, figure.load_after = before, loadavg()
    return figure


def render(figures: list) -> str:
    """One plain-text table: figure, value, goal, pass/fail, floor/baseline."""
    header = ("figure", "value", "goal", "result", "floor / baseline")
    lines = [header]
    for fig in figures:
        rows = fig["rows"] if isinstance(fig, dict) else [asdict(r) for r in fig.rows]
        for r in rows:
            verdict = "-" if r["ok"] is None else ("pass" if r["ok"] else "FAIL")
            lines.append((r["figure"], r["value"], r["goal"], verdict, r["baseline"]))
    widths = [max(len(line[i]) for line in lines) for i in range(4)]
    out = []
    for n, line in enumerate(lines):
        out.append("  ".join(cell.ljust(widths[i]) if i < 4 else cell
                             for i, cell in enumerate(line)).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths) + "  " + "-" * 16)
    return "\n".join(out)
