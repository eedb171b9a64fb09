"""The fuzz harness: a million mutated datagrams at one BMC, and the legitimate clients still
served throughout.

    python -m bench.fuzz --datagrams 1000000 --seconds 300 --seed 1
    python -m bench.fuzz --mode udp --udp-datagrams 200000 --udp-seconds 120 --seed 1

Two modes (`--mode both` runs them one after the other):
- in-process: a `Bmc` fed through `Bmc.receive_datagram(data, addr, now)` with a fake clock
  and a seeded random source, so one seed is one run, byte for byte; this is where the volume
  comes from. Its log records are counted as they are made (format errors too).
- udp: a real `pybmc serve` on a 127.x loopback address, sender processes on their own
  loopback source addresses, and ipmitool (lanplus -C 17 / -C 3, lan -A MD5) and pyghmi in a
  loop against the same BMC; the server's log is scanned for tracebacks and ERROR lines and
  its RSS measured before and after.

The actors (bench/fuzzactors.py) are stateful: real RMCP+ sessions (suites 3 and 17) and IPMI
1.5 MD5 sessions whose requests are fuzzed inside valid integrity and confidentiality, SOL
activated in a session and fed mutated SOL packets, logins with mutated Open Session / RAKP
fields, and session-less traffic. Every loop is bounded by a count and a time. The exit
status is non-zero on any traceback, ERROR line, log format error, reply that fails to
verify, legitimate client failure, or a run that fell short of its datagram count.
"""

from __future__ import annotations

import argparse
import logging
import random
import sys
import tempfile
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import fuzzactors as fa
from bench import fuzzmutate as fm

Address = tuple[str, int]

# Keys other versions of pybmc may have ([security]); the first value the parser accepts is
# used, a key it does not know is left out. The harness itself sends logins at a high rate
# and wrong passwords on purpose (for the victim user), so throttles and lockout are opened.
OPTIONAL_SECURITY = {
    "login_rate": (1_000_000, 100_000, 10_000, 1000),
    "login_burst": (1_000_000, 100_000, 10_000, 1000),
    "lockout_threshold": (0,),
}
USERS = [
    {"id": 2, "name": "legit", "password": fa.LEGIT_PASSWORD.decode(),
     "privilege": "administrator"},
    {"id": 3, "name": "fuzz", "password": fa.FUZZ_PASSWORD.decode(),
     "privilege": "administrator"},
    {"id": 4, "name": "fuzzop", "password": fa.FUZZOP_PASSWORD.decode(),
     "privilege": "operator"},
    {"id": 5, "name": "victim", "password": fa.VICTIM_PASSWORD.decode(), "privilege": "user"},
]
# How often each kind of actor gets the next datagram, and how many of each there are.
MIX = (("sessionless", 2, 26), ("login", 2, 18), ("plus3", 2, 18), ("plus17", 2, 18),
       ("v15", 2, 16), ("legit", 1, 4))
IN_PROCESS_STEP = 0.0002  # fake seconds between two datagrams (1M datagrams: 200 s)
# The BMC's timer is looked at every this many datagrams (every 6.4 fake ms): get_timer()
# walks every session and pending login, and the harness keeps dozens of those.
TIMER_EVERY = 32


def bmc_config(name: str, address: str, state_dir: Path, port: int = 623,
               session_timeout: float = 30.0) -> dict[str, Any]:
    """The BMC the harness fuzzes, said explicitly: suites 3 and 17, IPMI 1.5 MD5, the four
    users the actors log in as, and throttles/lockout opened where this pybmc has them."""
    from pybmc.config.bmc import ConfigError, parse_config

    config: dict[str, Any] = {
        "bmc": {"name": name, "address": address, "port": port, "state_dir": str(state_dir)},
        "users": USERS,
        "security": {"cipher_suites": [3, 17], "auth_types": ["md5"], "max_sessions": 32,
                     "session_timeout": session_timeout},
        "power": {"backend": "simulated", "soft_off_delay": 0.2, "cycle_interval": 0.1},
    }
    for key, values in OPTIONAL_SECURITY.items():
        for value in values:
            trial = {**config, "security": {**config["security"], key: value}}
            try:
                parse_config(trial)
            except ConfigError:
                continue
            config = trial
            break
    return config


def make_actor(kind: str, index: int, rng: random.Random, stats: fa.Stats,
               specs: list[fm.CommandSpec]) -> fa.Actor:
    if kind == "sessionless":
        return fa.Sessionless(rng, stats, specs)
    if kind == "login":
        return fa.LoginFuzzer(rng, stats, specs)
    if kind in ("plus3", "plus17"):
        user, password = ((fa.FUZZ_USER, fa.FUZZ_PASSWORD) if index % 2 == 0
                          else (fa.FUZZOP_USER, fa.FUZZOP_PASSWORD))
        return fa.PlusSessionFuzzer(rng, stats, specs, int(kind[4:]), user, password)
    if kind == "v15":
        return fa.V15SessionFuzzer(rng, stats, specs)
    return fa.Legit(rng, stats, specs)


def actor_plan(include_legit: bool) -> list[tuple[str, int, int]]:
    """(kind, index, weight) of every actor."""
    return [(kind, i, weight) for kind, count, weight in MIX
            for i in range(count) if include_legit or kind != "legit"]


# ---------------------------------------------------------------------- log counting
@dataclass
class LogCounts:
    """What the BMC logged: lines per level, tracebacks, ERROR lines, samples of each."""

    levels: Counter[str] = field(default_factory=Counter)
    tracebacks: int = 0
    errors: int = 0
    format_errors: int = 0
    samples: list[str] = field(default_factory=list)
    warnings: Counter[str] = field(default_factory=Counter)  # WARNING lines by message

    def sample(self, text: str) -> None:
        if len(self.samples) < 10:
            self.samples.append(text[:2000])

    @property
    def failed(self) -> bool:
        return bool(self.tracebacks or self.errors or self.format_errors)


class CountingHandler(logging.Handler):
    """Formats every record (a bad format string is a bug at any level) and counts it."""

    def __init__(self, counts: LogCounts) -> None:
        super().__init__(logging.DEBUG)
        self.counts = counts
        self.formatter_for_samples = logging.Formatter("%(levelname)s %(name)s: %(message)s")

    def emit(self, record: logging.LogRecord) -> None:
        counts = self.counts
        counts.levels[record.levelname] += 1
        try:
            record.getMessage()
        except Exception as err:  # the harness reports it; logging would only print it
            counts.format_errors += 1
            counts.sample(f"log format error in {record.pathname}:{record.lineno}: {err}")
            return
        if record.exc_info:
            counts.tracebacks += 1
            counts.sample(self.formatter_for_samples.format(record))
        elif record.levelno >= logging.ERROR:
            counts.errors += 1
            counts.sample(self.formatter_for_samples.format(record))
        elif record.levelno >= logging.WARNING and len(counts.warnings) < 20:
            counts.warnings[f"{record.name}: {record.msg}"] += 1


# ---------------------------------------------------------------------- in-process mode
@dataclass
class RunResult:
    mode: str
    datagrams: int = 0
    seconds: float = 0.0
    replies: int = 0
    stats: fa.Stats = field(default_factory=fa.Stats)
    logs: LogCounts = field(default_factory=LogCounts)
    legit_ok: int = 0
    legit_failed: int = 0
    rss_before_kb: int = 0
    rss_after_kb: int = 0
    wanted: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.datagrams / self.seconds if self.seconds else 0.0

    def failures(self) -> list[str]:
        out = []
        if self.logs.tracebacks:
            out.append(f"{self.logs.tracebacks} traceback(s)")
        if self.logs.errors:
            out.append(f"{self.logs.errors} ERROR line(s)")
        if self.logs.format_errors:
            out.append(f"{self.logs.format_errors} log format error(s)")
        if self.stats.counts["bad_replies"]:
            out.append(f"{self.stats.counts['bad_replies']} reply(ies) failed to verify")
        if self.legit_failed:
            out.append(f"{self.legit_failed} legitimate client failure(s)")
        if self.legit_ok == 0:
            out.append("no legitimate client success")
        if self.datagrams < self.wanted:
            out.append(f"only {self.datagrams} of {self.wanted} datagrams in the time given")
        return out


def rss_kb(pid: int | str = "self") -> int:
    """VmRSS of a process, from /proc (0 if it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def scratch_dir(prefix: str) -> Path:
    """A temporary directory on tmpfs when there is one: the BMC fsyncs its state file after
    every change, and the harness makes many changes."""
    base = "/dev/shm" if Path("/dev/shm").is_dir() else None
    return Path(tempfile.mkdtemp(prefix=prefix, dir=base))


def run_in_process(datagrams: int, seconds: float, seed: int, workdir: Path) -> RunResult:
    from pybmc.config.bmc import parse_config
    from pybmc.core.bmc import Bmc

    result = RunResult("in-process", wanted=datagrams)
    logger = logging.getLogger("pybmc")
    handler = CountingHandler(result.logs)
    old_level, old_propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    clock = [1000.0]
    bmc_random = random.Random(seed ^ 0x5EED)
    try:
        config = parse_config(bmc_config("fuzz", "127.0.0.2", workdir / "inproc"))
        bmc = Bmc(config, clock=lambda: clock[0], random=bmc_random.randbytes)
        rng = random.Random(seed)
        specs = fm.command_specs()
        actors = []
        for n, (kind, index, weight) in enumerate(actor_plan(include_legit=True)):
            actor = make_actor(kind, index, random.Random(rng.getrandbits(64)), result.stats,
                               specs)
            addr = (f"127.77.{n // 200}.{n % 200 + 10}", 40000 + n)
            actors.append((addr, actor.run(), weight))
        inbox: dict[Address, list[bytes]] = {addr: [] for addr, _, _ in actors}
        pending = [next(gen) for _, gen, _ in actors]
        weights = [w for _, _, w in actors]
        result.rss_before_kb = rss_kb()
        started = time.monotonic()
        deadline = started + seconds
        picks: list[int] = []
        sent = 0
        while sent < datagrams:
            if not picks:
                if time.monotonic() > deadline:
                    break
                picks = rng.choices(range(len(actors)), weights, k=1000)
            i = picks.pop()
            addr, gen, _ = actors[i]
            clock[0] += IN_PROCESS_STEP
            now = clock[0]
            try:  # what escapes here would reach the server's last guard (a traceback)
                bmc.receive_datagram(pending[i][0], addr, now)
                sent += 1
                if sent % TIMER_EVERY == 0:
                    timer = bmc.get_timer()
                    if timer is not None and timer <= now:
                        bmc.handle_timer(now)
            except Exception:
                sent += 1
                result.logs.tracebacks += 1
                result.logs.sample(f"raised out of the Bmc on {pending[i][0].hex()}:\n"
                                   f"{traceback.format_exc()}")
            for data, dest in bmc.datagrams_to_send():
                result.replies += 1
                box = inbox.get(dest)
                if box is not None:
                    box.append(data)
            replies, inbox[addr] = inbox[addr], []
            pending[i] = gen.send(replies)
        result.seconds = time.monotonic() - started
        result.datagrams = sent
        result.rss_after_kb = rss_kb()
        result.notes.append(f"simulated time {clock[0] - 1000.0:.0f} s, "
                            f"{len(bmc.sessions.sessions)} sessions open at the end")
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
        logger.propagate = old_propagate
    result.legit_ok = result.stats.counts["legit_ok"]
    result.legit_failed = result.stats.counts["legit_failed"]
    return result


def _in_process_worker(args: tuple[int, float, int, Path], queue: Any) -> None:
    queue.put(run_in_process(*args))


def run_in_process_parallel(datagrams: int, seconds: float, seed: int, workers: int,
                            workdir: Path) -> RunResult:
    """`workers` processes, each its own BMC and seed (seed, seed+1, ...), one result."""
    if workers <= 1:
        return run_in_process(datagrams, seconds, seed, workdir)
    import multiprocessing

    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    started = time.monotonic()
    procs = []
    for w in range(workers):
        share = datagrams // workers + (w < datagrams % workers)
        proc = context.Process(target=_in_process_worker, daemon=True, args=(
            (share, seconds, seed + w, workdir / f"worker{w}"), queue))
        proc.start()
        procs.append(proc)
    total = RunResult(f"in-process ({workers} processes, seeds {seed}..{seed + workers - 1})",
                      wanted=datagrams)
    for _ in procs:
        part: RunResult = queue.get(timeout=seconds + 120)
        total.datagrams += part.datagrams
        total.replies += part.replies
        total.stats.counts.update(part.stats.counts)
        total.stats.problems += part.stats.problems
        total.logs.levels.update(part.logs.levels)
        total.logs.tracebacks += part.logs.tracebacks
        total.logs.errors += part.logs.errors
        total.logs.format_errors += part.logs.format_errors
        total.logs.samples += part.logs.samples
        total.logs.warnings.update(part.logs.warnings)
        total.legit_ok += part.legit_ok
        total.legit_failed += part.legit_failed
        if part.rss_after_kb - part.rss_before_kb >= total.rss_after_kb - total.rss_before_kb:
            total.rss_before_kb, total.rss_after_kb = part.rss_before_kb, part.rss_after_kb
        total.notes += part.notes
    total.seconds = time.monotonic() - started
    for proc in procs:
        proc.join(10)
        if proc.is_alive():
            proc.kill()
    return total


# ---------------------------------------------------------------------- report
def report(result: RunResult) -> list[str]:
    counts = result.stats.counts
    lines = [
        f"== {result.mode}",
        f"  datagrams sent: {result.datagrams} in {result.seconds:.1f} s "
        f"({result.rate:,.0f}/s); replies: {result.replies}",
        f"  tracebacks: {result.logs.tracebacks}; ERROR lines: {result.logs.errors}; "
        f"log format errors: {result.logs.format_errors}; log lines by level: "
        f"{dict(sorted(result.logs.levels.items()))}",
        f"  legitimate client: {result.legit_ok} ok, {result.legit_failed} failed",
        f"  replies failing verification: {counts['bad_replies']}",
        f"  RSS: {result.rss_before_kb / 1024:.1f} MB before, "
        f"{result.rss_after_kb / 1024:.1f} MB after "
        f"({(result.rss_after_kb - result.rss_before_kb) / 1024:+.1f} MB)",
    ]
    interesting = {k: v for k, v in sorted(counts.items())
                   if not k.startswith("cc_") and k not in ("bad_replies",)}
    lines.append(f"  actors: {interesting}")
    completion = {k[3:]: v for k, v in sorted(counts.items()) if k.startswith("cc_")}
    lines.append(f"  in-session completion codes: {completion}")
    lines += [f"  note: {note}" for note in result.notes]
    lines += [f"  problem: {p}" for p in result.stats.problems[:15]]
    lines += [f"  log sample: {s}" for s in result.logs.samples]
    lines += [f"  WARNING x{n}: {text}" for text, n in result.logs.warnings.most_common(5)]
    failures = result.failures()
    lines.append(f"  verdict: {'FAILED: ' + '; '.join(failures) if failures else 'ok'}")
    return lines


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.fuzz", description=__doc__.split(
        "\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=("in-process", "udp", "both"), default="both")
    parser.add_argument("--datagrams", type=int, default=1_000_000,
                        help="in-process datagrams (default 1,000,000)")
    parser.add_argument("--seconds", type=float, default=300.0,
                        help="time limit of the in-process run (default 300)")
    parser.add_argument("--udp-datagrams", type=int, default=100_000,
                        help="datagrams sent to the real server (default 100,000)")
    parser.add_argument("--udp-seconds", type=float, default=120.0,
                        help="time limit of the UDP run (default 120)")
    parser.add_argument("--workers", type=int, default=2,
                        help="in-process worker processes, one BMC each (default 2)")
    parser.add_argument("--senders", type=int, default=2, help="UDP sender processes")
    parser.add_argument("--rate", type=float, default=4000.0,
                        help="UDP datagrams per second, all senders together (default 4000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    workdir = scratch_dir("pybmc-fuzz-")
    results = []
    try:
        if args.mode in ("in-process", "both"):
            results.append(run_in_process_parallel(args.datagrams, args.seconds, args.seed,
                                                   args.workers, workdir))
            print("\n".join(report(results[-1])), flush=True)
        if args.mode in ("udp", "both"):
            from bench.fuzzudp import run_udp

            results.append(run_udp(args.udp_datagrams, args.udp_seconds, args.seed,
                                   args.senders, args.rate, workdir))
            print("\n".join(report(results[-1])), flush=True)
    finally:
        if args.keep:
            print(f"work directory kept: {workdir}")
        else:
            import shutil

            shutil.rmtree(workdir, ignore_errors=True)
    return 1 if any(r.failures() for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
