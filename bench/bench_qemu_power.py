"""How fast the qemu power backend turns a VM on and off.

    python -m bench.bench_qemu_power              # 10 rounds, accelerator probed, + ipmitool
    python -m bench.bench_qemu_power --rounds 3 --accel tcg --no-ipmitool

Backend level (QemuPower driven from asyncio, the VM a blank disk + SeaBIOS debug console):
  on -> running     Chassis Control "on" requested until QEMU's run state is "running"
  on -> firmware    ... until SeaBIOS prints its banner (guest code really runs)
  reset -> firmware hard reset requested until the next SeaBIOS banner
  off -> exited     Chassis Control "off" requested until the QEMU process has exited
Through ipmitool against `pybmc serve` (what a user sees, session setup included):
  ipmitool on -> on   `chassis power on` started until `chassis power status` reads on
  ipmitool off -> exited  `chassis power off` started until the QEMU pid is gone

Every process is stopped by its PID; only loopback addresses are used.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from pybmc.config.bmc import QemuConfig
from pybmc.edge.power.process import process_start_time
from pybmc.edge.power.qemu import QemuPower
from pybmc.model.power import PowerAction
from tests.guest.vm import DebugConsole, accel_args, firmware_vm_args, pid_from_run_dir

Samples = dict[str, list[float]]


async def _until(predicate: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark step timed out")
        await asyncio.sleep(0.001)


def _banners(debugcon: DebugConsole) -> int:
    return debugcon.text().count("SeaBIOS (version")


async def bench_backend(rounds: int, args: list[str], debugcon: DebugConsole,
                        run_dir: Path) -> Samples:
    samples: Samples = {"on -> running": [], "on -> firmware": [], "reset -> firmware": [],
                        "off -> exited": []}
    power = QemuPower("bench", QemuConfig(args=tuple(args)), uuid.uuid4(), run_dir)
    await power.start()
    try:
        for _ in range(rounds):
            banners = _banners(debugcon)
            started = time.perf_counter()
            power.request(PowerAction.ON)
            await _until(lambda: power.is_on() and power._pending == 0)
            samples["on -> running"].append(time.perf_counter() - started)
            await _until(lambda seen=banners: _banners(debugcon) > seen)
            samples["on -> firmware"].append(time.perf_counter() - started)

            # SeaBIOS prints its banner twice per boot; wait for this boot's POST to settle.
            await asyncio.sleep(0.3)
            banners = _banners(debugcon)
            started = time.perf_counter()
            power.request(PowerAction.RESET)
            await _until(lambda seen=banners: _banners(debugcon) > seen)
            samples["reset -> firmware"].append(time.perf_counter() - started)
            await asyncio.sleep(0.3)

            pid = power.pid
            started = time.perf_counter()
            power.request(PowerAction.OFF)
            await _until(lambda gone=pid: gone is None or process_start_time(gone) is None)
            samples["off -> exited"].append(time.perf_counter() - started)
            await _until(lambda: power._pending == 0)
    finally:
        await power.stop(leave_running=False)
    return samples


def bench_ipmitool(rounds: int, args: list[str], work: Path) -> Samples:
    from pybmc.config.bmc import parse_config
    from pybmc.config.paths import run_dir
    from tests import tomlw

    samples: Samples = {"ipmitool on -> on": [], "ipmitool off -> exited": []}
    address = f"127.{100 + os.getpid() % 100}.250.9"
    config = {"bmc": {"name": "benchqemu", "address": address, "state_dir": str(work / "st")},
              "users": [{"name": "admin", "password": "secret"}],
              "power": {"backend": "qemu"}, "qemu": {"args": args}}
    (work / "bench.toml").write_text(tomlw.dumps(config))
    run = run_dir(parse_config(config))
    ipmitool = ["ipmitool", "-I", "lanplus", "-H", address, "-U", "admin", "-P", "secret",
                "-R", "2", "-N", "1", "chassis", "power"]
    with (work / "serve.log").open("wb") as log:
        serve = subprocess.Popen([sys.executable, "-m", "pybmc", "serve", "--config",
                                  str(work / "bench.toml"), "--stop-vms-on-exit"],
                                 stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        _wait_for_status(ipmitool, serve)
        for _ in range(rounds):
            started = time.perf_counter()
            subprocess.run([*ipmitool, "on"], check=True, capture_output=True, timeout=30)
            _wait(lambda: _status(ipmitool) == "Chassis Power is on")
            samples["ipmitool on -> on"].append(time.perf_counter() - started)
            pid = pid_from_run_dir(run)
            started = time.perf_counter()
            subprocess.run([*ipmitool, "off"], check=True, capture_output=True, timeout=30)
            _wait(lambda gone=pid: gone is None or process_start_time(gone) is None, interval=0.001)
            samples["ipmitool off -> exited"].append(time.perf_counter() - started)
            _wait(lambda: _status(ipmitool) == "Chassis Power is off")
    finally:
        serve.send_signal(signal.SIGTERM)
        try:
            serve.wait(30)
        except subprocess.TimeoutExpired:
            serve.kill()
            serve.wait()
        pid = pid_from_run_dir(run)
        if pid is not None and process_start_time(pid) is not None:
            os.kill(pid, signal.SIGKILL)
    return samples


def _status(ipmitool: list[str]) -> str:
    result = subprocess.run([*ipmitool, "status"], capture_output=True, text=True, timeout=30)
    return result.stdout.strip()


def _wait_for_status(ipmitool: list[str], serve: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while _status(ipmitool) not in ("Chassis Power is on", "Chassis Power is off"):
        if serve.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("pybmc serve did not come up")
        time.sleep(0.1)


def _wait(predicate: Callable[[], bool], timeout: float = 30.0, interval: float = 0.01) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark step timed out")
        time.sleep(interval)


def report(samples: Samples) -> None:
    print(f"{'step':<24} {'median':>9} {'p90':>9} {'min':>9} {'max':>9}  (ms, n)")
    for step, values in samples.items():
        if not values:
            continue
        ordered = sorted(values)
        p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
        print(f"{step:<24} {statistics.median(values) * 1000:9.1f} {p90 * 1000:9.1f} "
              f"{ordered[0] * 1000:9.1f} {ordered[-1] * 1000:9.1f}  n={len(values)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--accel", choices=("auto", "tcg", "kvm"), default="auto")
    parser.add_argument("--no-ipmitool", action="store_true")
    options = parser.parse_args()
    if shutil.which("qemu-system-x86_64") is None:
        print("qemu-system-x86_64 is not installed", file=sys.stderr)
        return 1
    if options.accel != "auto":
        os.environ["PYBMC_TEST_ACCEL"] = options.accel
    with tempfile.TemporaryDirectory(prefix="pybmc-bq-", dir="/tmp") as tmp:
        work = Path(tmp)
        args, debugcon = firmware_vm_args(work, nic=False)
        accel = accel_args()
        print(f"qemu power benchmark: {options.rounds} rounds, {' '.join(accel)}, "
              f"{os.cpu_count()} CPUs")
        samples = asyncio.run(bench_backend(options.rounds, args, DebugConsole(debugcon),
                                            work / "run"))
        if not options.no_ipmitool and shutil.which("ipmitool"):
            samples.update(bench_ipmitool(options.rounds, args, work))
        report(samples)
    return 0


if __name__ == "__main__":
    sys.exit(main())
