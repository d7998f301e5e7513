"""Figure 4: the Plex path index (plex.index.PathIndex) for 1k, 10k, 50k and 200k items, and a
warm match (plex.matcher.match) per scene.

The Plex emulator runs in this process; each size is built by a fresh child process
(bench/index_child.py) holding only PlexSync's side, so its ru_maxrss (resource.getrusage
RUSAGE_SELF) is the index build's peak RSS and its CPU time is PlexSync's own work. Wall
includes the emulator rendering the XML pages (it shares the 2 cores); its share is reported.

Floor: the same lean /all pages fetched by the same client, not parsed or stored (transfer plus
the emulator's rendering). Baseline: the naive raw-XML dict index that
tests/plex/test_plex_emulator.py used to time (requests + ElementTree.fromstring + iterfind
into a dict, no SQLite; full pages, as it asked for them).
Growth: per-item cost at each size, and the marginal cost per item between sizes (linear
growth = a flat marginal cost); 4g compares the marginal cost of the 50k -> 200k items with
that of the 10k -> 50k items (issue 19: linear, measured in the same run).
"""
from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from common import Figure, cli, mib, ms, run_measured_child, secs
from loopback import PlexEmulator, load_generated_library, plex_files

GOAL_S = {50_000: 1.0, 200_000: 4.0}  # issue 19 item 4 (issue 13 asked 50k < 2 s)
GOAL_RSS_MB = {50_000: 60, 200_000: 120}  # decimal MB: issue 13 item 5, issue 19 item 4
GOAL_LINEAR = 1.25  # marginal us/item 50k->200k at most this times the 10k->50k one
GOAL_MATCH_S = 0.001
MATCH_SAMPLES = 1000
CHILD = Path(__file__).with_name("index_child.py")  # the measured process: PlexSync's side only


def _measure(n: int, tmp: str) -> dict:
    with PlexEmulator(token="bench-token") as plex:
        started = time.perf_counter()
        load_generated_library(plex, n)
        generated = time.perf_counter() - started
        with plex.state.lock:  # the emulator's truth in one pass (find_by_file scans all)
            truth = {p.file: i.rating_key for i in plex.state.items.values() for p in i.parts}
        expected = {f: truth[f] for f in plex_files(n)[::max(1, n // MATCH_SAMPLES)]}
        out = json.loads(run_measured_child(
            [sys.executable, str(CHILD), plex.url, plex.token, str(n), tmp],
            json.dumps(expected), timeout=600))
        served = [r.duration or 0.0 for r in plex.records("GET", "/library/sections/")
                  if r.path.endswith("/all") and out["build_start"] <= r.time <= out["build_end"]]
    out.update(n=n, generated_s=generated, emulator_serving_s=sum(served), pages=len(served))
    if out["indexed"] != n or out["match_wrong"] or out["naive_items"] != n:
        raise RuntimeError(f"index of {n}: {out['indexed']} indexed, {out['match_wrong']} "
                           f"wrong matches, naive {out['naive_items']}")
    return out


def run(quick: bool) -> Figure:
    sizes = (1000, 10_000) if quick else (1000, 10_000, 50_000, 200_000)
    fig = Figure("index", quick)
    results = []
    for n in sizes:
        with tempfile.TemporaryDirectory(prefix="plexsync-bench-index-") as tmp:
            results.append(_measure(n, tmp))
    previous, marginals = None, {}
    for r in results:
        n, k = r["n"], f"{r['n'] // 1000}k"
        goal_s, goal_mb = GOAL_S.get(n), GOAL_RSS_MB.get(n)
        fig.add(f"4a index build {k} items: wall", secs(r["build_s"]),
                f"<= {goal_s:g} s" if goal_s else "-",
                r["build_s"] <= goal_s if goal_s else None,
                f"floor (fetch only) {secs(r['floor_s'])}; naive dict {secs(r['naive_s'])}")
        fig.add(f"4b index build {k}: PlexSync CPU / emulator serving",
                f"{secs(r['build_cpu_s'])} / {secs(r['emulator_serving_s'])}", "-", None,
                f"{r['pages']} page(s)")
        per_item = r["build_s"] / n * 1e6
        if previous is None:
            growth = "includes the fixed cost (section list, first page)"
        else:  # the cost of the items added since the smaller size: flat = linear growth
            marginal = (r["build_s"] - previous["build_s"]) / (n - previous["n"]) * 1e6
            marginals[n] = marginal
            growth = (f"marginal {marginal:.1f} us/item over the "
                      f"{previous['n'] // 1000}k build")
        fig.add(f"4c index build {k}: per item", f"{per_item:.1f} us", "-", None, growth)
        previous = r
        fig.add(f"4d index build {k}: peak RSS", mib(r["rss_build_kib"]),
                f"<= {goal_mb} MB" if goal_mb else "-",
                r["rss_build_kib"] * 1024 <= goal_mb * 1_000_000 if goal_mb else None,
                f"after imports {mib(r['rss_imports_kib'])}")
        fig.add(f"4e warm match per scene ({k} index)", ms(r["match_s"]),
                f"< {GOAL_MATCH_S * 1000:g} ms", r["match_s"] < GOAL_MATCH_S,
                f"bare PathIndex.lookup {ms(r['lookup_s'])}")
    if 200_000 in marginals and 50_000 in marginals:
        ratio = marginals[200_000] / marginals[50_000]
        cpu = {r["n"]: r["build_cpu_s"] / r["n"] for r in results}
        fig.add("4g growth: marginal us/item 50k->200k vs 10k->50k", f"{ratio:.2f}x",
                f"<= {GOAL_LINEAR:g}x (linear)", ratio <= GOAL_LINEAR,
                f"{marginals[200_000]:.1f} vs {marginals[50_000]:.1f} us/item; PlexSync CPU "
                f"per item at 200k {cpu[200_000] / cpu[50_000]:.2f}x the 50k one")
    big = results[-1]
    fig.add(f"4f emulator: generate {big['n'] // 1000}k items", secs(big["generated_s"]),
            "-", None, "(test harness cost, not PlexSync)")
    if quick:
        fig.add("4 (quick: 50k and 200k not built)", "-", "50k <= 1 s, 200k <= 4 s", None, "-")
    fig.details["sizes"] = results
    return fig


if __name__ == "__main__":
    cli(run)
