"""`python -m conformance`: the same client scenarios against ipmi_sim and pybmc, side by side.

    python -m conformance                      # every scenario; exit 1 on an unexpected difference
    python -m conformance --only chassis/ --only boot/
    python -m conformance --report docs/conformance.md
    python -m conformance --reference-only -v  # ipmi_sim alone (pybmc not started)
    python -m conformance --list

Both servers run on free loopback addresses (127.x.0.2 and 127.x.0.3, UDP 623) from a temporary
directory, and are stopped by PID at the end, whatever happens.
"""

from __future__ import annotations

import argparse
import fnmatch
import importlib.metadata
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from conformance import report
from conformance.clients import Target
from conformance.net import free_subnet
from conformance.profile import Profile
from conformance.pybmcserve import PybmcServe
from conformance.refsim import RefSim
from conformance.runner import NOT_RUN, UNEXPECTED, Row, Runner
from conformance.scenarios import Scenario, catalogue


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m conformance", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", action="append", default=[], metavar="PATTERN",
                        help="run scenarios whose name starts with PATTERN or matches it as a "
                             "glob (repeatable)")
    parser.add_argument("--report", type=Path, metavar="FILE",
                        help="also write the table as Markdown to FILE")
    parser.add_argument("--jobs", "-j", type=int, default=6,
                        help="scenarios run in parallel (default 6)")
    parser.add_argument("--reference-only", action="store_true",
                        help="run against ipmi_sim alone (to check the harness)")
    parser.add_argument("--verbose", "-v", action="store_true",
                        help="print both outputs of every row that is not 'same'")
    parser.add_argument("--keep", action="store_true",
                        help="keep the temporary directory (configs, logs) and print its path")
    parser.add_argument("--list", action="store_true", help="list the scenarios and exit")
    return parser.parse_args(argv)


def select(scenarios: list[Scenario], patterns: list[str]) -> list[Scenario]:
    if not patterns:
        return scenarios
    return [s for s in scenarios
            if any(s.name.startswith(p) or fnmatch.fnmatch(s.name, p) for p in patterns)]


def _version(argv: list[str]) -> str:
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    lines = (result.stdout or result.stderr).strip().splitlines()
    return lines[0].strip() if lines else "?"


def versions() -> str:
    from pybmc import __version__

    try:
        pyghmi = importlib.metadata.version("pyghmi")
    except importlib.metadata.PackageNotFoundError:
        pyghmi = "?"
    openipmi = _version(["dpkg-query", "-W", "-f", "${Version}", "openipmi"])
    return (f"pybmc {__version__}; OpenIPMI ipmi_sim {openipmi}; "
            f"{_version(['ipmitool', '-V'])}; FreeIPMI {_version(['ipmipower', '--version'])}; "
            f"pyghmi {pyghmi}")


class ReferenceKeeper:
    """Restarts ipmi_sim if it died (it crashes on some inputs, openipmi.md §9.13)."""

    def __init__(self, sim: RefSim) -> None:
        self.sim = sim
        self.lock = threading.Lock()
        self.restarts = 0

    def __call__(self) -> str | None:
        with self.lock:
            if self.sim.alive():
                return None
            code = self.sim.proc.returncode if self.sim.proc is not None else None
            self.restarts += 1
            self.sim.restart()
            return f"ipmi_sim died (exit {code}) and was restarted"


def progress(row: Row) -> None:
    mark = {UNEXPECTED: "X", NOT_RUN: "-"}.get(row.verdict, ".")
    print(mark, end="", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    scenarios = select(catalogue(), args.only)
    if args.list:
        for scenario in scenarios:
            print(scenario.name)
        return 0
    if not scenarios:
        print("conformance: no scenario matches", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="pybmc-conformance-"))
    profile = Profile.default()
    ref_address, pybmc_address = free_subnet(2)
    sim = RefSim(profile, ref_address, workdir / "ipmi_sim")
    server = PybmcServe([profile.pybmc_config(pybmc_address, workdir / "pybmc" / "state")],
                        workdir / "pybmc")
    started = time.monotonic()
    try:
        sim.start()
        pybmc_target = None
        if not args.reference_only:
            try:
                server.start()
            except RuntimeError as err:
                print(f"conformance: pybmc did not start: {err}", file=sys.stderr)
                return 1
            pybmc_target = Target("pybmc", pybmc_address, 623, workdir / "pybmc-client")
        runner = Runner(
            reference=Target("ipmi_sim", ref_address, 623, workdir / "ipmi_sim-client"),
            pybmc=pybmc_target, jobs=args.jobs, ensure_reference=ReferenceKeeper(sim),
            progress=progress)
        rows = runner.run(scenarios)
    finally:
        server.stop()
        sim.stop()
        if args.keep:
            print(f"conformance: files kept in {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    elapsed = time.monotonic() - started
    print(file=sys.stderr)
    print(report.text_table(rows))
    print(f"\n{report.summary(rows)} in {elapsed:.0f}s")
    shown = (UNEXPECTED,) if not args.verbose else tuple(
        {r.verdict for r in rows} - {"same"})
    detail = report.details(rows, shown)
    if detail:
        print("\n" + detail)
    if args.report:
        header = f"Run: {time.strftime('%Y-%m-%d')}, {elapsed:.0f}s. Versions: {versions()}."
        args.report.write_text(report.markdown(rows, header))
        print(f"report written to {args.report}", file=sys.stderr)
    return 1 if any(row.verdict == UNEXPECTED for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
