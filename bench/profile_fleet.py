"""Measures what one BMC costs in one process: RSS, build time and where the memory goes.

Builds N simulated BmcRuntime objects in-process (the part of `pybmc serve` that scales with N),
reports RSS per BMC against a one-BMC baseline (psutil) and the top allocation sites
(tracemalloc), so that before/after numbers of a change come from the same run.
Usage: python bench/profile_fleet.py [-n 1000] [--top 15]
"""

from __future__ import annotations

import argparse
import gc
import logging
import tempfile
import time
import tracemalloc
from pathlib import Path

from conformance.profile import Profile
from pybmc.config.bmc import parse_config
from pybmc.edge.assembly import BmcRuntime


def rss_bytes() -> int:
    """This process's resident set (Linux /proc), so the script needs no extra package."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096


def build(n: int, workdir: Path, first: int = 0) -> list[BmcRuntime]:
    runtimes = []
    for i in range(first, first + n):
        address = f"127.77.{i // 250}.{i % 250 + 1}"
        data = Profile.default(f"bmc{i}").pybmc_config(address, workdir / f"bmc{i}")
        runtimes.append(BmcRuntime(parse_config(data)))
    return runtimes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=1000)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--trace", action="store_true", help="tracemalloc's top sites too")
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # one "weak login options" line per BMC otherwise
    with tempfile.TemporaryDirectory(prefix="pf") as tmp:
        keep = build(1, Path(tmp))
        gc.collect()
        base = rss_bytes()
        if args.trace:
            tracemalloc.start()
        started = time.perf_counter()
        keep += build(args.n, Path(tmp), first=1)
        seconds = time.perf_counter() - started
        snapshot = tracemalloc.take_snapshot() if args.trace else None
        tracemalloc.stop()
        gc.collect()
        rss = rss_bytes() - base
        print(f"N={args.n}: {rss / args.n / 1024:.1f} KB RSS per BMC, "
              f"{'(tracemalloc on) ' if args.trace else ''}"
              f"{seconds / args.n * 1000:.2f} ms to build each")
        for stat in snapshot.statistics("lineno")[:args.top] if snapshot else ():
            print(f"  {stat.size / args.n:8.0f} B/BMC  {stat.traceback[0]}")
        del keep
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
