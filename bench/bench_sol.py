"""The SOL benchmark: pybmc side by side with OpenIPMI ipmi_sim, both driving the same guest.

    python -m bench.bench_sol            # 3 rounds each, 1 MB (seq 1 150000), 40 keystrokes
    python -m bench.bench_sol --quick    # a short smoke run (1 round, seq 1 20000, 10 keys)

One tiny Linux guest (tests/guest/build_guest.sh) runs under QEMU with its ttyS0 on a TCP server
port on 127.0.0.1. QEMU accepts one client on that port at a time, so the BMCs take turns,
alternating A B A B so drift hits both alike: pybmc serve with `[sol] serial = "tcp:..."`,
then ipmi_sim with `sol "tcp:..." 115200` in its lan.conf (openipmi.md section 4), each started
for its round and stopped by PID afterwards. In every round one `ipmitool -I lanplus -C 3 sol
activate` on a pseudo-terminal measures:

  throughput  guest -> client: `seq 1 N; echo END...` typed at the guest's shell, the time from
              the Enter key to the end marker, all bytes received in between (bytes/s); the
              numbers are checked to arrive complete and in order.
  echo        keystroke echo latency: one character typed, the time until the guest's shell
              echo of it reaches the terminal (median and p90 over the keystrokes).

A baseline measures the same throughput reading the guest's serial port directly (no BMC), so
the guest's own speed under this accelerator is visible. Loopback addresses only, every wait is
bounded, every process started here is stopped by its PID. Exit status 0 unless something could
not be measured.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from conformance.net import free_subnet
from conformance.profile import ADMIN, Profile
from conformance.pybmcserve import PybmcServe
from conformance.refsim import RefSim
from tests.e2e.ptyproc import PtyProcess
from tests.guest import vm as guest_vm
from tests.guest.vm import QEMU, accel_args, guest_files, tiny_guest_args

END_MARKER = b"END42X"  # what `echo END$((6*7))X` prints; the command line's echo never has it
# busybox's shell may follow its prompt with a cursor-position query (ESC [ 6 n).
PROMPT = re.compile(rb"(login: |# )(\x1b\[6n)?$")
ECHO_KEYS = b"abcdefghijklmopqrstuvwxyz"  # no "n": the shell's cursor query ESC [ 6 n has one
CTRL_U = b"\x15"  # the shell's kill-line: the typed keys never run
BOOT_TIMEOUT = 120.0
STEP_TIMEOUT = 30.0


@dataclass(frozen=True)
class Plan:
    rounds: int
    lines: int
    keys: int

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Plan:
        if args.quick:
            return cls(rounds=1, lines=20000, keys=10)
        return cls(rounds=args.rounds, lines=args.lines, keys=args.keys)

    @property
    def seq_bytes(self) -> int:
        return sum(len(b"%d\r\n" % n) for n in range(1, self.lines + 1))


class BenchError(RuntimeError):
    """Something the benchmark needed did not work; the message says what."""


@dataclass
class Result:
    seconds: float
    received: int  # bytes from Enter to the end marker, echo and prompt included
    complete: bool
    echo: list[float] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.received / self.seconds


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_sol", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per BMC (A B A B ...)")
    parser.add_argument("--lines", type=int, default=150000, help="seq 1 LINES per round")
    parser.add_argument("--keys", type=int, default=40, help="keystrokes timed per round")
    args = parser.parse_args(argv)
    if not 1 <= args.rounds <= 10 or not 100 <= args.lines <= 1_000_000:
        parser.error("--rounds must be 1..10 and --lines 100..1000000")
    if not 1 <= args.keys <= 200:
        parser.error("--keys must be 1..200")
    return args


# ---------------------------------------------------------------------- the guest
def free_tcp_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Guest:
    """The tiny guest under QEMU, its ttyS0 a TCP server on 127.0.0.1:port (one client)."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_tcp_port()
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Guest:
        args = [QEMU or "qemu-system-x86_64", *tiny_guest_args(), "-display", "none",
                "-serial", f"tcp:127.0.0.1:{self.port},server=on,wait=off"]
        with (self.workdir / "qemu.log").open("wb") as log:
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + STEP_TIMEOUT
        while not self._listening():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise BenchError(f"QEMU did not open its serial port:\n"
                                 f"{(self.workdir / 'qemu.log').read_text(errors='replace')}")
            time.sleep(0.05)
        return self

    def _listening(self) -> bool:
        # A listening socket in /proc/net/tcp, without connecting (that would take the port).
        wanted = f"0100007F:{self.port:04X}"
        with contextlib.suppress(OSError):
            for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
                fields = line.split()
                if fields[1] == wanted and fields[3] == "0A":
                    return True
        return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None


# ---------------------------------------------------------------------- terminals
class Terminal:
    """What a console shows, read efficiently (1 MB arrives in small pieces)."""

    def __init__(self, read: Callable[[float], bytes], write: Callable[[bytes], None]) -> None:
        self._read = read
        self.write = write
        self.output = bytearray()

    def mark(self) -> int:
        return len(self.output)

    def wait_for(self, needle: bytes | re.Pattern[bytes], since: int,
                 timeout: float = STEP_TIMEOUT) -> int:
        """Offset just after `needle` once it appears at or after `since`."""
        deadline = time.monotonic() + timeout
        scanned = since
        while True:
            found = self._find(needle, scanned)
            if found is not None:
                return found
            scanned = max(since, len(self.output) - 64)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BenchError(f"{needle!r} not seen in {timeout:g}s; last output "
                                 f"{bytes(self.output[-300:])!r}")
            self.output += self._read(min(remaining, 0.5))

    def _find(self, needle: bytes | re.Pattern[bytes], start: int) -> int | None:
        if isinstance(needle, bytes):
            index = self.output.find(needle, start)
            return None if index < 0 else index + len(needle)
        match = needle.search(self.output, start)
        return None if match is None else match.end()

    def shell_prompt(self) -> None:
        """Press Enter until the guest shows a prompt; log in as root if it asks."""
        deadline = time.monotonic() + BOOT_TIMEOUT
        while True:
            mark = self.mark()
            self.write(b"\r")
            try:
                end = self.wait_for(PROMPT, mark, timeout=2.0)
            except BenchError:
                if time.monotonic() > deadline:
                    raise BenchError(f"the guest shows no prompt; last output "
                                     f"{bytes(self.output[-300:])!r}") from None
                continue
            if self.output.rfind(b"login: ", mark, end) >= 0:
                mark = self.mark()
                self.write(b"root\r")
                self.wait_for(b"# ", mark)
            return


def pty_reader(client: PtyProcess) -> Callable[[float], bytes]:
    def read(timeout: float) -> bytes:
        ready, _, _ = select.select([client.master], [], [], timeout)
        if not ready:
            if client.proc.poll() is not None:
                raise BenchError(f"the SOL client exited {client.proc.returncode}")
            return b""
        try:
            return os.read(client.master, 1 << 20)
        except OSError:
            return b""
    return read


def socket_reader(sock: socket.socket) -> Callable[[float], bytes]:
    def read(timeout: float) -> bytes:
        ready, _, _ = select.select([sock], [], [], timeout)
        return sock.recv(1 << 20) if ready else b""
    return read


# ---------------------------------------------------------------------- measurements
def seq_is_complete(text: bytes, lines: int) -> bool:
    """The output of `seq 1 lines`, somewhere after the echoed command line, exactly."""
    start = text.find(b"\n1\r\n")
    if start < 0:
        return False
    body = text[start + 1:]
    expected = b"".join(b"%d\r\n" % n for n in range(1, lines + 1))
    return body.startswith(expected)


def throughput(term: Terminal, lines: int) -> Result:
    mark = term.mark()
    started = time.perf_counter()
    term.write(f"seq 1 {lines}; echo END$((6*7))X\r".encode())
    end = term.wait_for(END_MARKER, mark, timeout=STEP_TIMEOUT + lines / 1000)
    seconds = time.perf_counter() - started
    text = bytes(term.output[mark:end])
    term.wait_for(b"# ", end)
    return Result(seconds, len(text), seq_is_complete(text, lines))


def echo_latency(term: Terminal, keys: int) -> list[float]:
    samples = []
    for index in range(keys):
        key = ECHO_KEYS[index % len(ECHO_KEYS):][:1]
        mark = term.mark()
        started = time.perf_counter()
        term.write(key)
        term.wait_for(key, mark, timeout=10)
        samples.append(time.perf_counter() - started)
        time.sleep(0.02)  # one keystroke at a time, as typed
    mark = term.mark()
    term.write(CTRL_U + b"\r")
    term.wait_for(b"# ", mark)
    return samples


def ipmitool_sol(address: str) -> PtyProcess:
    return PtyProcess(["ipmitool", "-I", "lanplus", "-C", "3", "-H", address, "-U", ADMIN[0],
                       "-P", ADMIN[1], "sol", "activate"])


def sol_round(address: str, plan: Plan) -> Result:
    """One SOL session against the BMC at `address`: echo latency, then throughput."""
    client = ipmitool_sol(address)
    try:
        term = Terminal(pty_reader(client), client.write)
        term.wait_for(b"SOL Session operational", 0)
        term.shell_prompt()
        echo = echo_latency(term, plan.keys)
        result = throughput(term, plan.lines)
        result.echo = echo
        client.write(b"\r~.")
        if client.wait(10) != 0:
            raise BenchError(f"ipmitool sol exited {client.proc.returncode}")
        return result
    finally:
        client.close()


def direct_round(guest: Guest, plan: Plan) -> Result:
    """The baseline: the guest's serial port read directly, no BMC in between."""
    deadline = time.monotonic() + STEP_TIMEOUT
    while True:
        try:
            sock = socket.create_connection(("127.0.0.1", guest.port), timeout=2)
            break
        except OSError:
            if time.monotonic() > deadline:
                raise BenchError("cannot connect to the guest's serial port") from None
            time.sleep(0.2)
    with sock:
        sock.setblocking(True)
        term = Terminal(socket_reader(sock), sock.sendall)
        term.shell_prompt()
        echo = echo_latency(term, plan.keys)
        result = throughput(term, plan.lines)
        result.echo = echo
        return result


# ---------------------------------------------------------------------- the two BMCs
class SolRefSim(RefSim):
    """ipmi_sim whose `sol` line points at the guest's serial port."""

    serial_port: int = 0

    def lan_conf_text(self) -> str:
        text = super().lan_conf_text()
        line = f'  sol "tcp:127.0.0.1:{self.serial_port}" 115200'
        return re.sub(r'^  sol "tcp:[^"]*" 115200$', line, text, flags=re.MULTILINE)


def run_pybmc(address: str, guest: Guest, workdir: Path, plan: Plan) -> Result:
    profile = Profile.default("benchsol")
    config = profile.pybmc_config(address, workdir / "state", extra={
        "sol": {"serial": f"tcp:127.0.0.1:{guest.port}"}})
    log_level = os.environ.get("BENCH_SOL_LOG", "warning")  # debug: see pybmc's SOL log
    with PybmcServe([config], workdir, log_level=log_level) as server:
        server.start()
        return sol_round(address, plan)


def run_ipmi_sim(address: str, guest: Guest, workdir: Path, plan: Plan) -> Result:
    sim = SolRefSim(Profile.default("benchsol"), address, workdir, chassis_control=False,
                    lan_control=False, sol=True)
    sim.serial_port = guest.port
    with sim:
        sim.start()
        return sol_round(address, plan)


# ---------------------------------------------------------------------- report
def ms(values: list[float], quantile: float = 0.5) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(quantile * (len(ordered) - 1)))] * 1000


def describe(name: str, result: Result) -> str:
    return (f"  {name:<9} {result.rate / 1000:8.1f} kB/s ({result.received} B in "
            f"{result.seconds:.2f} s, {'complete' if result.complete else 'INCOMPLETE'}), "
            f"echo median {ms(result.echo):.1f} ms p90 {ms(result.echo, 0.9):.1f} ms")


def summary(results: dict[str, list[Result]]) -> list[str]:
    lines = []
    for name, runs in results.items():
        rate = statistics.median(r.rate for r in runs)
        echo = [sample for r in runs for sample in r.echo]
        complete = all(r.complete for r in runs)
        lines.append(f"  {name:<9} throughput median {rate / 1000:8.1f} kB/s "
                     f"({'all complete' if complete else 'SOME INCOMPLETE'}); echo median "
                     f"{ms(echo):.1f} ms, p90 {ms(echo, 0.9):.1f} ms (n={len(echo)})")
    pybmc, sim = results.get("pybmc"), results.get("ipmi_sim")
    if pybmc and sim:
        rate_ratio = (statistics.median(r.rate for r in pybmc)
                      / statistics.median(r.rate for r in sim))
        echo_ratio = (ms([s for r in pybmc for s in r.echo])
                      / ms([s for r in sim for s in r.echo]))
        lines.append(f"  ratio pybmc/ipmi_sim: throughput {rate_ratio:.2f} (higher is better), "
                     f"echo latency {echo_ratio:.2f} (lower is better)")
    return lines


def check_tools() -> None:
    missing = [t for t in ("ipmitool", "ipmi_sim") if shutil.which(t) is None]
    if QEMU is None:
        missing.append("qemu-system-x86_64")
    if missing:
        raise BenchError(f"not installed: {', '.join(missing)}")
    if guest_files() is None:
        raise BenchError(f"the tiny guest cannot be built: {guest_vm.guest_build_error}")


def run(plan: Plan, workdir: Path) -> dict[str, list[Result]]:
    sim_address, pybmc_address = free_subnet(2)
    results: dict[str, list[Result]] = {"direct": [], "pybmc": [], "ipmi_sim": []}
    guest = Guest(workdir).start()
    try:
        results["direct"].append(direct_round(guest, plan))
        print(describe("direct", results["direct"][-1]), flush=True)
        for number in range(1, plan.rounds + 1):
            print(f" round {number}", flush=True)
            results["pybmc"].append(run_pybmc(pybmc_address, guest,
                                              workdir / f"pybmc{number}", plan))
            print(describe("pybmc", results["pybmc"][-1]), flush=True)
            results["ipmi_sim"].append(run_ipmi_sim(sim_address, guest,
                                                    workdir / f"sim{number}", plan))
            print(describe("ipmi_sim", results["ipmi_sim"][-1]), flush=True)
    finally:
        guest.stop()
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    plan = Plan.from_args(args)
    workdir = Path(tempfile.mkdtemp(prefix="pybmc-bsol-", dir="/tmp"))
    try:
        check_tools()
        print(f"sol: `seq 1 {plan.lines}` (~{plan.seq_bytes // 1000} kB) and {plan.keys} "
              f"keystrokes per round through `ipmitool -I lanplus -C 3 sol activate`, "
              f"{plan.rounds} round(s), pybmc and ipmi_sim alternating on one guest "
              f"({' '.join(accel_args())}, {os.cpu_count()} CPUs)", flush=True)
        results = run(plan, workdir)
        print("summary:")
        print("\n".join(summary(results)))
    except BenchError as err:
        print(f"bench_sol: {err}", file=sys.stderr)
        return 2
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
