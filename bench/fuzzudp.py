"""The fuzzer against a real `pybmc serve` over UDP on loopback, with real clients beside it.

Sender processes (each with its own 127.x source addresses, one socket per actor) step the
same actors as the in-process run; a thread runs ipmitool (lanplus -C 17, -C 3, lan -A MD5)
and pyghmi against the same BMC the whole time and counts what succeeded. The server's log
is scanned for tracebacks and ERROR lines at the end and its RSS is read from /proc before
and after. Only loopback addresses are used; every process started here is stopped by PID.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import random
import selectors
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import fuzzactors as fa
from bench import fuzzmutate as fm
from bench.fuzz import RunResult, actor_plan, bmc_config, make_actor, rss_kb
from conformance.net import free_subnet
from conformance.procs import spawn_logged, stop_process, wait_for_answers
from tests import tomlw

# Sessions whose last reply the kernel dropped (the senders outrun the server on purpose) are
# unknown to the fuzzer and hold a slot until they expire: let them expire soon.
UDP_SESSION_TIMEOUT = 10.0
REPLY_TIMEOUT = 0.3  # how long an actor waits for its reply before it goes on without it
LEGIT_TIMEOUT = 30.0
LEGIT_PAUSE = 0.05  # between two legitimate client runs, so they do not crowd the fuzzers
# pyghmi in a process of its own per run, as ipmitool: a fresh login every time, and none of
# its session cache or threads inside the harness.
# pyghmi does not close its session when the process exits: without the logout every run
# would hold a slot until the idle timeout, and a fast machine runs enough of them in one
# timeout to fill the session table with the storm's own logins.
PYGHMI_CLIENT = (
    "import sys\n"
    "from pyghmi.ipmi import command\n"
    "c = command.Command(bmc=sys.argv[1], port=int(sys.argv[2]), userid='legit',\n"
    "                    password=sys.argv[3], keepalive=False)\n"
    "state = c.get_power().get('powerstate')\n"
    "c.ipmi_session.logout()\n"
    "sys.exit(0 if state in ('on', 'off') else 1)\n")


# ---------------------------------------------------------------------- senders
@dataclass
class Slot:
    sock: socket.socket
    gen: fa.Step
    weight: int
    pending: tuple[bytes, bool]
    waiting_until: float | None = None
    inbox: list[bytes] = field(default_factory=list)


def _resume(slot: Slot, stats: fa.Stats) -> None:
    replies, slot.inbox = slot.inbox, []
    stats.counts["udp_replies"] += len(replies)
    slot.waiting_until = None
    slot.pending = slot.gen.send(replies)


def sender_main(index: int, seed: int, quota: int, seconds: float, rate: float,
                target: tuple[str, int], sources: list[str], queue: Any) -> None:
    """One sender process: its actors, sockets and pacing; puts its counts on `queue`."""
    rng = random.Random(seed)
    stats = fa.Stats()
    specs = fm.command_specs()
    selector = selectors.DefaultSelector()
    slots: list[Slot] = []
    for n, (kind, actor_index, weight) in enumerate(actor_plan(include_legit=False)):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind((sources[n % len(sources)], 0))
        sock.setblocking(False)
        actor = make_actor(kind, actor_index, random.Random(rng.getrandbits(64)), stats, specs)
        gen = actor.run()
        slot = Slot(sock, gen, weight, next(gen))
        selector.register(sock, selectors.EVENT_READ, slot)
        slots.append(slot)
    sent = 0
    started = time.monotonic()
    deadline = started + seconds
    try:
        while sent < quota:
            now = time.monotonic()
            if now > deadline:
                break
            ready = [s for s in slots if s.waiting_until is None]
            ahead = sent - rate * (now - started)
            if ready and ahead <= 0:
                slot = rng.choices(ready, [s.weight for s in ready])[0]
                datagram, wait = slot.pending
                try:
                    slot.sock.sendto(datagram, target)
                    sent += 1
                except OSError:  # a full send buffer: try again later
                    stats.counts["udp_send_errors"] += 1
                if wait:
                    slot.waiting_until = now + REPLY_TIMEOUT
                else:
                    _resume(slot, stats)
                timeout = 0.0
            else:
                timeout = min(0.005, max(ahead, 1) / rate)
            for key, _ in selector.select(timeout):
                slot = key.data
                with contextlib.suppress(BlockingIOError, ConnectionRefusedError):
                    while True:
                        slot.inbox.append(slot.sock.recv(65535))
                if slot.waiting_until is not None and slot.inbox:
                    _resume(slot, stats)
            now = time.monotonic()
            for slot in slots:
                if slot.waiting_until is not None and now > slot.waiting_until:
                    stats.counts["udp_reply_timeouts"] += 1
                    _resume(slot, stats)
    finally:
        for slot in slots:
            slot.sock.close()
        queue.put((index, sent, dict(stats.counts), stats.problems))


# ---------------------------------------------------------------------- legitimate clients
@dataclass
class LegitLoop:
    """ipmitool and pyghmi against the BMC, one after the other, until stopped."""

    address: str
    port: int
    ok: int = 0
    failed: int = 0
    by_client: dict[str, list[int]] = field(default_factory=dict)
    samples: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def commands(self) -> list[tuple[str, list[str]]]:
        base = ["ipmitool", "-H", self.address, "-p", str(self.port), "-U", "legit",
                "-P", fa.LEGIT_PASSWORD.decode(), "-R", "4", "-N", "1"]
        return [
            ("ipmitool -C 17 mc info", [*base, "-I", "lanplus", "-C", "17", "mc", "info"]),
            ("ipmitool -C 3 chassis status",
             [*base, "-I", "lanplus", "-C", "3", "chassis", "status"]),
            ("ipmitool lan MD5 power status",
             [*base, "-I", "lan", "-A", "MD5", "chassis", "power", "status"]),
            ("pyghmi get_power", [sys.executable, "-c", PYGHMI_CLIENT, self.address,
                                  str(self.port), fa.LEGIT_PASSWORD.decode()]),
        ]

    def run_one(self, name: str, argv: list[str]) -> None:
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=LEGIT_TIMEOUT,
                                  stdin=subprocess.DEVNULL)
            good, why = done.returncode == 0, (done.stderr or done.stdout)[-300:]
        except subprocess.TimeoutExpired:
            good, why = False, f"no answer in {LEGIT_TIMEOUT:.0f} s"
        tally = self.by_client.setdefault(name, [0, 0])
        if good:
            self.ok += 1
            tally[0] += 1
        else:
            self.failed += 1
            tally[1] += 1
            if len(self.samples) < 10:
                self.samples.append(f"{name}: {why.strip()}")

    def loop(self) -> None:
        commands = self.available()
        n = 0
        while not self.stop.is_set():
            self.run_one(*commands[n % len(commands)])
            n += 1
            self.stop.wait(LEGIT_PAUSE)

    def available(self) -> list[tuple[str, list[str]]]:
        return [(name, argv) for name, argv in self.commands()
                if argv[0] != "ipmitool" or shutil.which("ipmitool")]

    def one_round(self) -> None:
        for name, argv in self.available():
            self.run_one(name, argv)


# ---------------------------------------------------------------------- the run
def kernel_drops(address: str, port: int) -> int | None:
    """Datagrams the kernel dropped for the server's socket (its receive buffer was full):
    the last column of /proc/net/udp. None when the socket is not found."""
    try:
        lines = Path("/proc/net/udp").read_text().splitlines()[1:]
    except OSError:
        return None
    wanted = f"{struct.unpack('<I', socket.inet_aton(address))[0]:08X}:{port:04X}"
    for line in lines:
        fields = line.split()
        if len(fields) > 12 and fields[1] == wanted:
            return int(fields[-1])
    return None


def scan_log(text: str, result: RunResult) -> None:
    for line in text.splitlines():
        for level in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            if f" {level} " in line:
                result.logs.levels[level] += 1
                break
        if " WARNING " in line and len(result.logs.warnings) < 20:
            result.logs.warnings[line.split(" WARNING ", 1)[1][:160]] += 1
        if "Traceback" in line:
            result.logs.tracebacks += 1
            result.logs.sample(line)
        elif " ERROR " in line or " CRITICAL " in line:
            result.logs.errors += 1
            result.logs.sample(line)
    if result.logs.tracebacks:  # the traceback itself, for the report
        start = text.find("Traceback")
        result.logs.sample(text[max(0, start - 300):start + 1500])


def run_udp(datagrams: int, seconds: float, seed: int, senders: int, rate: float,
            workdir: Path, log_level: str = "info") -> RunResult:
    result = RunResult("udp (pybmc serve)", wanted=datagrams)
    address = free_subnet(1)[0]
    prefix = address.rsplit(".", 2)[0]
    config_path = workdir / "fuzz-udp.toml"
    config_path.write_text(tomlw.dumps(bmc_config("fuzzudp", address, workdir / "udp-state",
                                                  session_timeout=UDP_SESSION_TIMEOUT)))
    log_path = workdir / "serve.log"
    proc = spawn_logged([sys.executable, "-m", "pybmc", "serve", "--log-level", log_level,
                         "--config", str(config_path)], log_path, cwd=workdir)
    legit = LegitLoop(address, 623)
    try:
        wait_for_answers(proc, [(address, 623)], 30.0, "pybmc serve", log_path)
        legit.one_round()  # warm-up: the first logins and imports out of the way
        result.rss_before_kb = rss_kb(proc.pid)
        thread = threading.Thread(target=legit.loop, daemon=True)
        thread.start()
        context = multiprocessing.get_context("fork")
        queue = context.Queue()
        workers = []
        started = time.monotonic()
        for i in range(senders):
            sources = [f"{prefix}.{1 + i}.{10 + n}" for n in range(16)]
            worker = context.Process(target=sender_main, args=(
                i, seed * 1000 + i, datagrams // senders + (i < datagrams % senders), seconds,
                rate / senders, (address, 623), sources, queue), daemon=True)
            worker.start()
            workers.append(worker)
        for _ in workers:
            try:
                _, sent, counts, problems = queue.get(timeout=seconds + 60)
            except Exception:
                result.notes.append("a sender process did not report")
                break
            result.datagrams += sent
            result.stats.counts.update(counts)
            result.stats.problems += problems
        result.seconds = time.monotonic() - started
        for worker in workers:
            worker.join(10)
            if worker.is_alive():
                worker.kill()
        legit.stop.set()
        thread.join(LEGIT_TIMEOUT + 10)
        legit.one_round()  # and the BMC still serves everyone after the storm
        result.rss_after_kb = rss_kb(proc.pid)
        drops = kernel_drops(address, 623)
        if drops is not None:
            result.notes.append(
                f"the kernel dropped {drops} datagrams at the server's full receive buffer: "
                f"the server took in about {result.datagrams - drops} "
                f"({(result.datagrams - drops) / max(result.seconds, 1e-9):,.0f}/s)")
        if proc.poll() is not None:
            result.notes.append(f"pybmc serve exited with {proc.returncode} during the run")
            result.logs.errors += 1
    finally:
        stop_process(proc, 10.0)
    result.replies = result.stats.counts["udp_replies"]
    result.legit_ok, result.legit_failed = legit.ok, legit.failed
    scan_log(log_path.read_text(errors="replace"), result)
    result.notes.append(f"server {address}:623, log {log_path.stat().st_size / 1e6:.1f} MB; "
                        f"legitimate clients: {legit.by_client}")
    result.notes += [f"legit failure: {s}" for s in legit.samples]
    return result
