"""Keep every core busy, to run the test suite (or a bench) on a machine as noisy as CI's.

    .venv/bin/python bench/busy_cores.py &            # one spinning process per core
    .venv/bin/python bench/busy_cores.py --procs 2 --seconds 3600

A test that passes only on an idle machine decides on scheduling, not on what the code
guarantees (docs/architecture.md, "Tests that do not flake"). Stop it with SIGTERM/SIGINT
(its spinners stop with it) or let --seconds run out.
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import signal
import sys
import time


def spin(until: float) -> None:
    while time.monotonic() < until:
        pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--procs", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--seconds", type=float, default=4 * 3600.0)
    args = parser.parse_args(argv)
    until = time.monotonic() + args.seconds
    spinners = [multiprocessing.Process(target=spin, args=(until,), daemon=True)
                for _ in range(max(1, args.procs))]
    for proc in spinners:
        proc.start()

    def stop(*_):
        for proc in spinners:
            proc.terminate()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"busy_cores: {len(spinners)} spinning processes, pids "
          f"{[p.pid for p in spinners]}, for {args.seconds:g} s", flush=True)
    for proc in spinners:
        proc.join()
    return 0


if __name__ == "__main__":
    sys.exit(main())
