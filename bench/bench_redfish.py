"""The Redfish benchmark: pybmc's Redfish latency and requests/s beside sushy-tools' emulator.

    python -m bench.bench_redfish                 # 300 requests per operation, 2 rounds
    python -m bench.bench_redfish --requests 20 --rounds 1    # a smoke run

Three operations, each over one keep-alive HTTPS connection, one request at a time:
GET /redfish/v1 (ServiceRoot), GET /redfish/v1/Systems/{id}, and PATCH of the system's Boot
override (BootSourceOverrideTarget Pxe and Hdd in turn, Once, so every PATCH changes it).
The servers are one `pybmc serve` (simulated power, HTTP Basic auth as Ironic sends it) and,
in the same run, `sushy-emulator --fake` (sushy-tools' fake driver: no backend, no
authentication, its defaults) with the same certificate. Each round runs every operation
against both, in the order A B, then B A in the next round, so drift hits both alike. Per
server and operation: the median and 95th percentile latency over all rounds and the
requests/s of the whole run; then the ratios pybmc/sushy-tools (latency below 1 and req/s
above 1 mean pybmc is faster). sushy-tools is not a dependency of pybmc: without it (it
installs from the package index, `pip install sushy-tools`) the bench prints
"sushy-tools: not installed" and measures pybmc alone.

Everything binds loopback addresses only; `--max-seconds` bounds the measuring (a round that
would start after it is skipped, and said so), every wait has a deadline, and every process
started here is stopped by its PID.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import importlib.util
import json
import os
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conformance.net import free_subnet
from conformance.procs import read_log, stop_process
from conformance.pybmcserve import REPO, PybmcServe

USER, PASSWORD = "admin", "benchpw1"
PYBMC_PORT = 8443
SUSHY_PORT = 8444
START_TIMEOUT = 60.0
REQUEST_TIMEOUT = 10.0
OPERATIONS = ("GET ServiceRoot", "GET Systems/{id}", "PATCH Boot")
BOOT_TARGETS = ("Pxe", "Hdd")


class BenchError(RuntimeError):
    """Something the bench could not measure."""


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_redfish",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300,
                        help="requests per operation, server and round (1..100000)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds (1..50)")
    parser.add_argument("--max-seconds", type=float, default=120.0,
                        help="no round starts after this many seconds of measuring")
    args = parser.parse_args(argv)
    if not 1 <= args.requests <= 100_000 or not 1 <= args.rounds <= 50:
        parser.error("--requests must be 1..100000 and --rounds 1..50")
    return args


@dataclass
class Target:
    """One Redfish service under test and what its requests cost."""

    name: str
    address: str
    port: int
    auth: str | None  # the Authorization header, or None
    context: ssl.SSLContext
    system: str = ""  # the system's path, found from the Systems collection
    latencies: dict[str, list[float]] = field(default_factory=dict)
    elapsed: dict[str, float] = field(default_factory=dict)
    connects: int = 0  # TCP+TLS connections made: 1 per operation when keep-alive holds

    def connection(self) -> http.client.HTTPSConnection:
        return http.client.HTTPSConnection(self.address, self.port, context=self.context,
                                           timeout=REQUEST_TIMEOUT)

    def headers(self, body: bytes | None) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if self.auth:
            headers["Authorization"] = self.auth
        if body is not None:
            headers["Content-Type"] = "application/json"
        return headers


def request(target: Target, connection: http.client.HTTPSConnection, method: str, path: str,
            body: dict[str, Any] | None = None) -> tuple[int, bytes]:
    data = None if body is None else json.dumps(body).encode()
    if connection.sock is None:
        target.connects += 1
    connection.request(method, path, data, target.headers(data))
    answer = connection.getresponse()
    payload = answer.read()
    if answer.will_close:
        connection.close()  # the next request opens a new connection (counted above)
    return answer.status, payload


def wait_https(target: Target, proc_alive: Any, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        connection = target.connection()
        try:
            status, _ = request(target, connection, "GET", "/redfish/v1")
            if status == 200:
                return
        except (OSError, http.client.HTTPException):
            pass
        finally:
            connection.close()
        if not proc_alive() or time.monotonic() > deadline:
            raise BenchError(f"{target.name} never answered on https://{target.address}:"
                             f"{target.port}/redfish/v1:\n{read_log(log)[-2000:]}")
        time.sleep(0.2)


def find_system(target: Target) -> None:
    connection = target.connection()
    try:
        status, payload = request(target, connection, "GET", "/redfish/v1/Systems")
    finally:
        connection.close()
    members = json.loads(payload).get("Members", []) if status == 200 else []
    if not members:
        raise BenchError(f"{target.name}: GET /redfish/v1/Systems answered {status}, no member")
    target.system = members[0]["@odata.id"]
    target.connects = 0


def run_operation(target: Target, operation: str, count: int) -> None:
    """`count` requests of one operation over one keep-alive connection; each must succeed."""
    connection = target.connection()
    times = target.latencies.setdefault(operation, [])
    started = time.perf_counter()
    try:
        for n in range(count):
            if operation == "GET ServiceRoot":
                method, path, body, wanted = "GET", "/redfish/v1", None, 200
            elif operation == "GET Systems/{id}":
                method, path, body, wanted = "GET", target.system, None, 200
            else:
                boot = {"BootSourceOverrideTarget": BOOT_TARGETS[n % 2],
                        "BootSourceOverrideEnabled": "Once"}
                method, path, body, wanted = "PATCH", target.system, {"Boot": boot}, 204
            before = time.perf_counter()
            status, payload = request(target, connection, method, path, body)
            times.append(time.perf_counter() - before)
            if status not in (wanted, 200):
                raise BenchError(f"{target.name}: {method} {path} answered {status}: "
                                 f"{payload[:300]!r}")
    finally:
        connection.close()
    target.elapsed[operation] = target.elapsed.get(operation, 0.0) + (
        time.perf_counter() - started)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def summary(target: Target, operation: str) -> tuple[float, float, float]:
    """Median and p95 latency (ms) and requests/s of one operation."""
    times = target.latencies[operation]
    return (statistics.median(times) * 1e3, percentile(times, 0.95) * 1e3,
            len(times) / target.elapsed[operation])


def report(targets: list[Target], rounds_run: int, args: argparse.Namespace) -> list[str]:
    lines = [f"redfish bench: {args.requests} requests per operation, server and round, "
             f"{rounds_run} round(s), one keep-alive HTTPS connection, one request at a time"]
    for operation in OPERATIONS:
        results = {t.name: summary(t, operation) for t in targets if t.latencies.get(operation)}
        for name, (median, p95, rate) in results.items():
            lines.append(f"{operation:17} {name:11} median {median:7.2f} ms  p95 {p95:7.2f} ms"
                         f"  {rate:8.1f} req/s")
        if len(results) == 2:
            (_, a), (_, b) = results.items()
            lines.append(f"{operation:17} ratio pybmc/sushy-tools: median latency "
                         f"{a[0] / b[0]:.2f}, p95 {a[1] / b[1]:.2f}, req/s {a[2] / b[2]:.2f}")
    kept_alive = len(OPERATIONS) * rounds_run
    for target in targets:
        lines.append(f"connections opened by {target.name}: {target.connects} "
                     f"({kept_alive} when every connection is kept alive)")
        if target.connects > kept_alive:
            lines.append(f"  {target.name} closed connections after answers: those requests' "
                         "latencies include a new TCP connection and TLS handshake")
    return lines


def basic_auth() -> str:
    return "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()


def insecure_context() -> ssl.SSLContext:
    # Both services use a self-signed certificate made for the bench; nothing to verify.
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


@contextmanager
def pybmc_service(workdir: Path, address: str) -> Iterator[tuple[Target, Path]]:
    state = workdir / "pybmc-state"
    config = {"bmc": {"name": "bench", "address": address, "state_dir": str(state)},
              "users": [{"name": USER, "password": PASSWORD, "privilege": "administrator"}],
              "power": {"backend": "simulated"},
              "redfish": {"enabled": True, "port": PYBMC_PORT}}
    server = PybmcServe([config], workdir / "pybmc", log_level="warning")
    with server:
        server.start(timeout=START_TIMEOUT)
        assert server.proc is not None
        target = Target("pybmc", address, PYBMC_PORT, basic_auth(), insecure_context())
        proc = server.proc
        wait_https(target, lambda: proc.poll() is None, server.log_path)
        find_system(target)
        yield target, state


@contextmanager
def sushy_service(workdir: Path, address: str, cert_dir: Path) -> Iterator[Target]:
    log = workdir / "sushy-emulator.log"
    env = dict(os.environ, TMPDIR=str(workdir))  # its fake driver keeps state in TMPDIR
    argv = [sys.executable, "-m", "sushy_tools.emulator.main", "--fake", "-i", address,
            "-p", str(SUSHY_PORT), "--ssl-certificate", str(cert_dir / "redfish-cert.pem"),
            "--ssl-key", str(cert_dir / "redfish-key.pem")]
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, cwd=REPO, env=env,
                                start_new_session=True)
    try:
        target = Target("sushy-tools", address, SUSHY_PORT, None, insecure_context())
        wait_https(target, lambda: proc.poll() is None, log)
        find_system(target)
        yield target
    finally:
        stop_process(proc, 10)


def port_free(address: str, port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((address, port))
        except OSError:
            return False
    return True


def measure(targets: list[Target], args: argparse.Namespace) -> int:
    """The rounds; the number that ran before --max-seconds."""
    started = time.monotonic()
    for number in range(args.rounds):
        if number and time.monotonic() - started > args.max_seconds:
            print(f"--max-seconds {args.max_seconds:g} reached: {number} of {args.rounds} "
                  "rounds run", flush=True)
            return number
        order = targets if number % 2 == 0 else targets[::-1]
        for operation in OPERATIONS:
            for target in order:
                run_operation(target, operation, args.requests)
    return args.rounds


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="rfbench-")))
        pybmc_address, sushy_address = free_subnet(2)
        if not port_free(pybmc_address, PYBMC_PORT) or not port_free(sushy_address, SUSHY_PORT):
            raise BenchError("the bench's TCP ports are taken on the chosen addresses")
        try:
            pybmc, cert_dir = stack.enter_context(pybmc_service(workdir, pybmc_address))
            targets = [pybmc]
            if importlib.util.find_spec("sushy_tools") is None:
                print("sushy-tools: not installed (pip install sushy-tools); measuring pybmc "
                      "alone", flush=True)
            else:
                targets.append(stack.enter_context(
                    sushy_service(workdir, sushy_address, cert_dir)))
            rounds_run = measure(targets, args)
        except BenchError as err:
            print(f"bench_redfish: {err}", file=sys.stderr)
            return 1
        for line in report(targets, rounds_run, args):
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
