"""The core benchmark: pybmc side by side with OpenIPMI ipmi_sim, plus memory and fan-out.

    python -m bench.bench_core            # 2000 commands x 9 rounds each, 1 and 200 BMCs
    python -m bench.bench_core --quick    # a short smoke run (200 commands, 1 round, 20 BMCs)

1. Speed: one `ipmitool -I lanplus -C 3 ... exec FILE` session sends N `raw 0x00 0x01` (Get
   Chassis Status) to pybmc and to ipmi_sim. Each round runs one session against each, in the
   order A B, then B A in the next round (so drift and "who goes first" hit both alike); the
   median of the per-round ratios pybmc/ipmi_sim is the result (target <= 1.0). The spread of
   the ratios, the ratio of the best times, and each server's CPU time per request are printed
   too: on a busy machine one round can be off by 20 % or more, the CPU time hardly moves.
   ipmi_sim runs without a chassis_control program here, so it answers from memory as pybmc.
2. Memory: the resident set size of one `pybmc serve` process serving 1 BMC (after the speed
   runs) and serving many (default 200) BMCs on 127.x.0.2... (targets 60 MB and 100 MB:
   Redfish is on by default, and its HTTP server (aiohttp) costs about 17 MB once per
   process; `[redfish] enabled = false` keeps an IPMI-only process near 36 MB).
3. Fan-out: `ipmipower -D LAN_2_0 --stat -h 127.x.0.[2-201]` against those BMCs; every one must
   answer, in under 5 s.

Everything binds loopback addresses only, every wait is bounded, and every process started here
is stopped by its PID. Exit status 0 unless something could not be measured; `--strict` also
fails on a missed target.
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from conformance.net import free_subnet
from conformance.profile import ADMIN, Profile
from conformance.pybmcserve import PybmcServe
from conformance.refsim import RefSim

TARGET_RATIO = 1.0
TARGET_RSS_ONE_MB = 60.0  # Redfish on (aiohttp loaded once per process)
TARGET_RSS_MANY_MB = 100.0
TARGET_FANOUT_SECONDS = 5.0
COMMAND = "raw 0x00 0x01"
RESPONSE = re.compile(r"^\s*[0-9a-f]{2}( [0-9a-f]{2})+\s*$", re.MULTILINE)


@dataclass(frozen=True)
class Plan:
    commands: int
    rounds: int
    many: int

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Plan:
        if args.quick:
            return cls(commands=200, rounds=1, many=20)
        return cls(commands=args.commands, rounds=args.rounds, many=args.bmcs)


class BenchError(RuntimeError):
    """Something the benchmark needed did not work; the message says what."""


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_core", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--commands", type=int, default=2000, help="commands per session")
    parser.add_argument("--rounds", type=int, default=9, help="sessions per server")
    parser.add_argument("--bmcs", type=int, default=200, help="BMCs in the many-BMC process")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    if not 1 <= args.commands <= 20000 or not 1 <= args.rounds <= 50:
        parser.error("--commands must be 1..20000 and --rounds 1..50")
    if not 1 <= args.bmcs <= 250:
        parser.error("--bmcs must be 1..250 (one 127.x.0.0/24)")
    return args


# ---------------------------------------------------------------------- measurements
def rss_mb(pid: int) -> float:
    """Resident set size of a process, from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    raise BenchError(f"no VmRSS for PID {pid}")


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far, in ns resolution (Linux schedstat)."""
    total_ns = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total_ns += int((task / "schedstat").read_text().split()[0])
        except (OSError, IndexError, ValueError):
            continue  # a thread that just ended
    return total_ns / 1e9


def ipmitool_session(address: str, script: Path, commands: int) -> float:
    """Seconds one ipmitool session takes to run `script`; every command must succeed."""
    argv = ["ipmitool", "-I", "lanplus", "-C", "3", "-H", address, "-U", ADMIN[0],
            "-P", ADMIN[1], "-R", "2", "-N", "1", "exec", str(script)]
    started = time.perf_counter()
    try:
        result = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                                timeout=30 + commands * 0.05)
    except subprocess.TimeoutExpired as err:
        raise BenchError(f"ipmitool exec against {address} timed out") from err
    elapsed = time.perf_counter() - started
    answered = len(RESPONSE.findall(result.stdout))
    if result.returncode != 0 or answered != commands:
        raise BenchError(f"ipmitool exec against {address}: exit {result.returncode}, "
                         f"{answered}/{commands} answers\n{result.stderr[-1000:]}")
    return elapsed


def fanout(addresses: list[str]) -> tuple[int, float, str]:
    """(BMCs that answered, seconds, hostrange) for one ipmipower --stat over all of them."""
    prefix = addresses[0].rsplit(".", 1)[0]
    first, last = (int(a.rsplit(".", 1)[1]) for a in (addresses[0], addresses[-1]))
    hostrange = f"{prefix}.[{first}-{last}]"
    argv = ["ipmipower", "-D", "LAN_2_0", "-h", hostrange, "-u", ADMIN[0], "-p", ADMIN[1],
            "--stat", "--session-timeout=4000", "--retransmission-timeout=500"]
    started = time.perf_counter()
    try:
        result = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                                timeout=60)
    except subprocess.TimeoutExpired as err:
        raise BenchError("ipmipower --stat timed out after 60 s") from err
    elapsed = time.perf_counter() - started
    wanted = set(addresses)
    answered = {line.split(":", 1)[0] for line in result.stdout.splitlines()
                if line.endswith((": on", ": off"))}
    return len(answered & wanted), elapsed, hostrange


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


# ---------------------------------------------------------------------- the runs
@dataclass
class Side:
    """One server under test: where it listens, its PID, and what each round cost."""

    name: str
    address: str
    pid: int
    seconds: list[float] = field(default_factory=list)
    cpu: float = 0.0  # server CPU seconds over the measured rounds

    def run(self, script: Path, commands: int) -> None:
        before = cpu_seconds(self.pid)
        self.seconds.append(ipmitool_session(self.address, script, commands))
        self.cpu += cpu_seconds(self.pid) - before


def speed_rounds(pybmc: Side, sim: Side, plan: Plan, script: Path,
                 report: list[str]) -> list[float]:
    """Alternate A B / B A; one pybmc/ipmi_sim ratio per round."""
    ratios = []
    for round_number in range(1, plan.rounds + 1):
        order = (pybmc, sim) if round_number % 2 else (sim, pybmc)
        for side in order:
            side.run(script, plan.commands)
        ratios.append(pybmc.seconds[-1] / sim.seconds[-1])
        report.append(f"  round {round_number}: pybmc {pybmc.seconds[-1]:.3f} s, ipmi_sim "
                      f"{sim.seconds[-1]:.3f} s, ratio {ratios[-1]:.3f}")
    return ratios


def spread_lines(ratios: list[float], pybmc: Side, sim: Side, plan: Plan) -> list[str]:
    """How much to trust the median: the ratios' range, best times, server CPU per request."""
    quartiles = (statistics.quantiles(ratios, n=4, method="inclusive") if len(ratios) > 1
                 else [ratios[0]] * 3)
    requests = plan.commands * plan.rounds
    return [
        f"  spread of the ratios: min {min(ratios):.3f}, quartiles {quartiles[0]:.3f}"
        f"..{quartiles[2]:.3f}, max {max(ratios):.3f}",
        f"  best times: pybmc {min(pybmc.seconds):.3f} s, ipmi_sim {min(sim.seconds):.3f} s, "
        f"ratio {min(pybmc.seconds) / min(sim.seconds):.3f}",
        f"  server CPU per command (login included): pybmc {pybmc.cpu / requests * 1e6:.1f} us, "
        f"ipmi_sim {sim.cpu / requests * 1e6:.1f} us",
    ]


def core_speed(plan: Plan, workdir: Path, report: list[str]) -> tuple[float, float]:
    """Median ratio pybmc/ipmi_sim and the RSS (MB) of the 1-BMC pybmc process after it."""
    profile = Profile.default("bench")
    sim_address, pybmc_address = free_subnet(2)
    script = workdir / "commands.txt"
    script.write_text(f"{COMMAND}\n" * plan.commands)
    sim = RefSim(profile, sim_address, workdir / "ipmi_sim", chassis_control=False,
                 lan_control=False, sol=False)
    server = PybmcServe([profile.pybmc_config(pybmc_address, workdir / "pybmc" / "state")],
                        workdir / "pybmc", log_level="warning")
    with sim, server:
        sim.start()
        server.start()
        # One unmeasured session each: imports, caches and first-packet costs out of the way.
        ipmitool_session(pybmc_address, script, plan.commands)
        ipmitool_session(sim_address, script, plan.commands)
        assert server.pid is not None and sim.proc is not None
        pybmc = Side("pybmc", pybmc_address, server.pid)
        reference = Side("ipmi_sim", sim_address, sim.proc.pid)
        ratios = speed_rounds(pybmc, reference, plan, script, report)
        report.extend(spread_lines(ratios, pybmc, reference, plan))
        rss = rss_mb(server.pid)
    return statistics.median(ratios), rss


def many_bmcs(plan: Plan, workdir: Path) -> tuple[float, int, float, str]:
    """RSS (MB) of one process serving plan.many BMCs, and the ipmipower fan-out result."""
    addresses = free_subnet(plan.many)
    configs = [Profile.default(f"bmc{n}").pybmc_config(address, workdir / f"bmc{n}")
               for n, address in enumerate(addresses)]
    with PybmcServe(configs, workdir / "many", log_level="warning") as server:
        server.start(timeout=60 + plan.many * 0.2)
        answered, seconds, hostrange = fanout(addresses)
        assert server.pid is not None
        rss = rss_mb(server.pid)
    return rss, answered, seconds, hostrange


def check_tools() -> None:
    missing = [t for t in ("ipmitool", "ipmipower") if shutil.which(t) is None]
    if missing:
        raise BenchError(f"not installed: {', '.join(missing)}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    plan = Plan.from_args(args)
    workdir = Path(tempfile.mkdtemp(prefix="pybmc-bench-"))
    lines: list[str] = []
    try:
        check_tools()
        print(f"core: {plan.commands} x `{COMMAND}` in one `ipmitool -I lanplus -C 3 exec` "
              f"session per round, {plan.rounds} round(s), pybmc and ipmi_sim alternating",
              flush=True)
        ratio, rss_one = core_speed(plan, workdir, lines)
        print("\n".join(lines))
        print(f"  median ratio pybmc/ipmi_sim: {ratio:.3f}  (target <= {TARGET_RATIO:.1f})  "
              f"{verdict(ratio <= TARGET_RATIO)}")
        print(f"rss: 1 BMC: {rss_one:.1f} MB  (target <= {TARGET_RSS_ONE_MB:.0f} MB)  "
              f"{verdict(rss_one <= TARGET_RSS_ONE_MB)}", flush=True)
        rss_many, answered, seconds, hostrange = many_bmcs(plan, workdir)
        print(f"rss: {plan.many} BMCs: {rss_many:.1f} MB  (target <= {TARGET_RSS_MANY_MB:.0f} MB "
              f"for 200)  {verdict(rss_many <= TARGET_RSS_MANY_MB)}")
        fan_ok = answered == plan.many and seconds < TARGET_FANOUT_SECONDS
        print(f"fan-out: ipmipower -D LAN_2_0 --stat -h {hostrange}: {answered}/{plan.many} "
              f"answered in {seconds:.2f} s  (target all, < {TARGET_FANOUT_SECONDS:.0f} s)  "
              f"{verdict(fan_ok)}")
    except BenchError as err:
        print(f"bench_core: {err}", file=sys.stderr)
        return 2
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    missed = (ratio > TARGET_RATIO or rss_one > TARGET_RSS_ONE_MB
              or rss_many > TARGET_RSS_MANY_MB or not fan_ok)
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    sys.exit(main())
