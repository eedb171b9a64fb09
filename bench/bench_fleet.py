"""The fleet benchmark: N BMCs in one `pybmc serve` against N (at most 200) ipmi_sim processes.

    python -m bench.bench_fleet --n 200     # what CI runs
    python -m bench.bench_fleet --n 1000    # the issue's figure (ipmi_sim side capped at 200)

For each side it prints: seconds from start until every BMC answers a session-less Get Channel
Authentication Capabilities, RSS total and per BMC, one `ipmipower -D LAN_2_0 --stat` sweep over
all of them (FreeIPMI host ranges; `-W opensesspriv`, which ipmi_sim needs) with sessions/s,
and server CPU per RMCP+ session; then the
ratios pybmc/ipmi_sim (per BMC, since the sides may differ in N). VirtualBMC is measured only
where `vbmc` is installed (otherwise a line says it is skipped). Last, "live add": 100 BMCs
added through the serve's control socket (the request `pybmc add` sends) while it runs.

Loopback only (127.X.Y.Z, port 623, 200 addresses per 127.X.Y.0/24); every wait is bounded and
every process started here is stopped by its PID.
"""

from __future__ import annotations

import argparse
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.bench_core import BenchError, cpu_seconds, rss_mb
from conformance import toml
from conformance.net import answers_auth_caps, port_is_free
from conformance.procs import spawn_logged, stop_process, wait_for_answers
from conformance.profile import ADMIN, Profile
from conformance.refsim import RefSim

PER_BLOCK = 200  # addresses per 127.X.Y.0/24: .1 .. .200
SIM_CAP = 200
LIVE_ADDS = 100
REPO = Path(__file__).resolve().parent.parent


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_fleet", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=200, help="BMCs in the pybmc process")
    parser.add_argument("--live-adds", type=int, default=LIVE_ADDS,
                        help="BMCs added through the control socket while serving")
    parser.add_argument("--no-sim", action="store_true", help="skip the ipmi_sim side")
    args = parser.parse_args(argv)
    if not 1 <= args.n <= 5000:
        parser.error("--n must be 1..5000")
    return args


def fleet_addresses(count: int, skip: int = 0) -> list[str]:
    """`count` loopback addresses on a 127.X.0.0/16 nobody serves yet (checked by binding)."""
    rng = random.Random(time.monotonic_ns())
    for octet in rng.sample(range(150, 250), 100):
        addresses = [f"127.{octet}.{1 + n // PER_BLOCK}.{1 + n % PER_BLOCK}"
                     for n in range(skip, skip + count)]
        if all(port_is_free(a, 623) for a in addresses[:: max(1, count // 20)]):
            return addresses
    raise BenchError(f"no free 127.x.0.0/16 for {count} addresses")


def hostranges(addresses: list[str]) -> str:
    """FreeIPMI host ranges covering `addresses`: 127.X.Y.[a-b],127.X.Z.[a-b],..."""
    blocks: dict[str, list[int]] = {}
    for address in addresses:
        prefix, last = address.rsplit(".", 1)
        blocks.setdefault(prefix, []).append(int(last))
    return ",".join(f"{p}.[{min(v)}-{max(v)}]" for p, v in blocks.items())


@dataclass
class Sweep:
    answered: int
    seconds: float
    cpu: float  # server CPU seconds during the sweep
    failures: list[str]  # the first line that is not an answer, if any

    def sessions_per_s(self) -> float:
        return self.answered / self.seconds if self.seconds else 0.0


def sweep(addresses: list[str], pids: list[int]) -> Sweep:
    """One ipmipower --stat over all addresses: who answered, how long, server CPU spent."""
    argv = ["ipmipower", "-D", "LAN_2_0", "-h", hostranges(addresses), "-u", ADMIN[0],
            "-p", ADMIN[1], "--stat", "-W", "opensesspriv",
            f"--session-timeout={8000 + 20 * len(addresses)}", "--retransmission-timeout=500",
            "-F", str(min(len(addresses), 1000))]
    before = sum(cpu_seconds(pid) for pid in pids)
    started = time.perf_counter()
    try:
        result = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                                timeout=120)
    except subprocess.TimeoutExpired as err:
        raise BenchError("ipmipower --stat timed out after 120 s") from err
    elapsed = time.perf_counter() - started
    cpu = sum(cpu_seconds(pid) for pid in pids) - before
    answered = {line.split(":", 1)[0] for line in result.stdout.splitlines()
                if line.endswith((": on", ": off"))}
    failures = [line for line in result.stdout.splitlines() + result.stderr.splitlines()
                if not line.endswith((": on", ": off"))]
    return Sweep(len(answered & set(addresses)), elapsed, cpu, failures[:1])


@dataclass
class SideResult:
    name: str
    count: int
    ready_s: float
    rss_mb: float
    sweep: Sweep
    rss_after_mb: float = 0.0  # after the sweep (pybmc loads its AES code at the first session)

    def lines(self) -> list[str]:
        s = self.sweep
        per_session_ms = s.cpu / s.answered * 1e3 if s.answered else float("nan")
        return [
            f"{self.name}: {self.count} BMCs",
            f"  all answering: {self.ready_s:.2f} s after start "
            f"({self.ready_s / self.count * 1e3:.2f} ms per BMC)",
            f"  rss: {self.rss_mb:.1f} MB total, {self.rss_mb * 1024 / self.count:.0f} KB per BMC"
            + (f" ({self.rss_after_mb:.1f} MB, {self.rss_after_mb * 1024 / self.count:.0f} KB"
               " per BMC after the sweep)" if self.rss_after_mb else ""),
            f"  sweep: ipmipower --stat: {s.answered}/{self.count} answered in {s.seconds:.2f} s,"
            f" {s.sessions_per_s():.0f} sessions/s"
            + (f" (first failure: {s.failures[0]})" if s.failures else ""),
            f"  server CPU per RMCP+ session: {per_session_ms:.3f} ms",
        ]


def config(n: int, address: str, state: Path) -> dict[str, Any]:
    data = Profile.default(f"bmc{n}").pybmc_config(address, state / f"bmc{n}")
    data.setdefault("redfish", {})["enabled"] = False
    return data


def pybmc_side(addresses: list[str], workdir: Path, report: list[str], adds: int) -> None:
    """Serve every address from one process; then the live-add measurement on it."""
    config_dir = workdir / "configs"
    config_dir.mkdir(parents=True)
    for n, address in enumerate(addresses):
        (config_dir / f"bmc{n}.toml").write_text(toml.dumps(config(n, address, workdir)))
    control = Path(tempfile.mkdtemp(prefix="pbf-", dir="/tmp")) / "c.sock"
    argv = [sys.executable, "-m", "pybmc", "serve", "--log-level", "warning",
            "--config-dir", str(config_dir), "--control", str(control)]
    log = workdir / "pybmc.log"
    started = time.perf_counter()
    proc = spawn_logged(argv, log, cwd=REPO)
    try:
        try:
            wait_for_answers(proc, [(a, 623) for a in addresses], 60 + len(addresses) * 0.1,
                             "pybmc serve", log, tail=3000)
        except RuntimeError as err:
            raise BenchError(str(err)) from err
        ready = time.perf_counter() - started
        rss = rss_mb(proc.pid)
        result = SideResult("pybmc (one process)", len(addresses), ready, rss,
                            sweep(addresses, [proc.pid]))
        result.rss_after_mb = rss_mb(proc.pid)
        report.extend(result.lines())
        report.extend(live_add(control, adds))
        SIDES["pybmc"] = result
    finally:
        stop_process(proc, 10.0)
        shutil.rmtree(control.parent, ignore_errors=True)


def live_add(control: Path, count: int) -> list[str]:
    """Add LIVE_ADDS BMCs through the control socket; time until the last one answers."""
    from pybmc.cli_fleet import ask

    addresses = fleet_addresses(count)
    started = time.perf_counter()
    failed = 0
    for n, address in enumerate(addresses):
        tables = {"bmc": {"name": f"live{n}", "address": address, "port": 623},
                  "users": [{"name": ADMIN[0], "password": ADMIN[1],
                             "privilege": "administrator"}],
                  "power": {"backend": "simulated"}}
        if not ask(control, {"op": "add", "config": tables}).get("ok", True):
            failed += 1
    deadline = time.monotonic() + 30 + count * 3
    pending = list(addresses)
    while pending and time.monotonic() < deadline:
        if answers_auth_caps(pending[0], 623, timeout=0.2):
            pending.pop(0)
    elapsed = time.perf_counter() - started
    return [f"live add: {count} BMCs through the control socket in {elapsed:.2f} s "
            f"({count - len(pending)}/{count} answering, {failed} refused)"]


def sim_side(addresses: list[str], workdir: Path, report: list[str]) -> None:
    sims = [RefSim(Profile.default(f"sim{n}"), a, workdir / f"sim{n}", chassis_control=False,
                   lan_control=False, sol=False) for n, a in enumerate(addresses)]
    started = time.perf_counter()
    try:
        for sim in sims:
            sim.write_files()
            sim.proc = spawn_logged(sim.command(), sim.log_path, cwd=sim.workdir)
        for sim in sims:
            assert sim.proc is not None
            try:
                wait_for_answers(sim.proc, [(sim.address, 623)], 60, "ipmi_sim", sim.log_path)
            except RuntimeError as err:
                raise BenchError(str(err)) from err
        ready = time.perf_counter() - started
        pids = [sim.proc.pid for sim in sims if sim.proc is not None]
        rss = sum(rss_mb(pid) for pid in pids)
        result = SideResult("ipmi_sim (one process per BMC)", len(sims), ready, rss,
                            sweep(addresses, pids))
        report.extend(result.lines())
        SIDES["ipmi_sim"] = result
    finally:
        for sim in sims:
            if sim.proc is not None:
                stop_process(sim.proc, 5.0)


SIDES: dict[str, SideResult] = {}


def ratio_lines() -> list[str]:
    p, s = SIDES.get("pybmc"), SIDES.get("ipmi_sim")
    if p is None or s is None:
        return []

    def per_session(side: SideResult) -> float:
        return side.sweep.cpu / max(1, side.sweep.answered)

    return [
        f"ratios pybmc/ipmi_sim (per BMC): start {p.ready_s / p.count / (s.ready_s / s.count):.2f},"
        f" rss {p.rss_mb / p.count / (s.rss_mb / s.count):.3f},"
        f" sessions/s {p.sweep.sessions_per_s() / max(1e-9, s.sweep.sessions_per_s()):.2f},"
        f" CPU per session {per_session(p) / max(1e-9, per_session(s)):.2f}",
    ]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    missing = [t for t in ("ipmipower",) + (() if args.no_sim else ("ipmi_sim",))
               if shutil.which(t) is None]
    if missing:
        print(f"bench_fleet: not installed: {', '.join(missing)}", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="pybmc-fleet-"))
    report: list[str] = []
    try:
        pybmc_side(fleet_addresses(args.n), workdir / "pybmc", report, args.live_adds)
        if not args.no_sim:
            sim_side(fleet_addresses(min(args.n, SIM_CAP)), workdir / "sim", report)
        if shutil.which("vbmc") is None:
            report.append("VirtualBMC: not installed (vbmc not on PATH), skipped")
        report.extend(ratio_lines())
    except BenchError as err:
        print("\n".join(report))
        print(f"bench_fleet: {err}", file=sys.stderr)
        return 2
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print("\n".join(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
