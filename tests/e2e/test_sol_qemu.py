"""Serial over LAN to a real QEMU guest: `pybmc serve` with [power] backend = "qemu" and the
tiny guest (tests/guest/build_guest.sh), whose kernel log, init and getty use ttyS0.

Real clients on a pseudo-terminal: `ipmitool -I lanplus sol activate`, FreeIPMI's ipmiconsole
and pyghmi's Console. The guest's kernel runs with loglevel=6 instead of `quiet`, so its boot log
starts with a "Linux version" line that only a console reading from the very start sees. Every
QEMU is killed by the pid file pybmc keeps in its run directory, never by name.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pybmc.config.bmc import parse_config
from pybmc.config.paths import console_socket, run_dir
from tests.e2e.conftest import ADMIN_PASSWORD, ADMIN_USER, BmcProcess, base_config, next_address
from tests.e2e.ptyproc import PtyProcess
from tests.e2e.solclients import pyghmi_round_trip
from tests.guest.vm import (
    QEMU,
    SerialTap,
    accel_args,
    kill_from_run_dir,
    pid_from_run_dir,
    require_guest,
    tiny_guest_args,
    wait_until,
)

pytestmark = [
    pytest.mark.qemu,
    pytest.mark.skipif(QEMU is None, reason="qemu-system-x86_64 is not installed"),
    pytest.mark.skipif(shutil.which("ipmitool") is None, reason="no ipmitool"),
]

BOOT_TIMEOUT = 90.0
LINES = 150000  # `seq 1 150000` prints 1,088,895 bytes


def verbose_guest_args() -> list[str]:
    """The tiny guest with a visible boot log (notice level and above) on ttyS0."""
    return [arg.replace(" quiet", " loglevel=6") if arg.startswith("console=") else arg
            for arg in tiny_guest_args()]


class SolClient:
    """An interactive SOL client on a pty, read from a mark so old output never matches."""

    def __init__(self, args: list[str]) -> None:
        self.pty = PtyProcess(args)

    @property
    def output(self) -> bytearray:
        return self.pty.output

    def mark(self) -> int:
        return len(self.pty.output)

    def expect(self, needle: bytes, since: int = 0, timeout: float = 30.0) -> int:
        """Offset just after the first `needle` at or after `since`."""
        deadline = time.monotonic() + timeout
        start = since
        while True:
            found = self.pty.output.find(needle, start)
            if found >= 0:
                return found + len(needle)
            start = max(since, len(self.pty.output) - len(needle))
            if time.monotonic() > deadline:
                raise AssertionError(f"{needle!r} not seen in {timeout:g}s; last output "
                                     f"{bytes(self.pty.output[-500:])!r}")
            if not self.pty._read(0.2) and self.pty.proc.poll() is not None:
                self.pty._read(0.1)
                if self.pty.output.find(needle, since) < 0:
                    raise AssertionError(f"client exited {self.pty.proc.returncode} before "
                                         f"{needle!r}: {bytes(self.pty.output[-500:])!r}")

    def write(self, data: bytes) -> None:
        self.pty.write(data)

    def run(self, command: str, expected: bytes, timeout: float = 30.0) -> int:
        """Type a shell command; the offset after `expected` in its output."""
        mark = self.mark()
        self.write(command.encode() + b"\r")
        return self.expect(expected, mark, timeout)

    def login(self) -> None:
        """Log in as root at the getty on ttyS0 (no password), unless a shell is there; then
        keep late kernel messages ("random: crng init done") off the console."""
        mark = self.mark()
        self.write(b"\r")
        if self.prompt(mark) == b"login: ":
            self.run("root", b"# ")
        self.run("dmesg -n 1; echo logged-$((20+1))", b"logged-21")

    def prompt(self, since: int, timeout: float = 30.0) -> bytes:
        """Which prompt appears first after `since`: getty's or the shell's."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.pty.output[since:]
            found = [(text.find(p), p) for p in (b"login: ", b"# ") if text.find(p) >= 0]
            if found:
                return min(found)[1]
            self.pty._read(0.1)
        raise AssertionError(f"no prompt in {timeout:g}s: {bytes(self.pty.output[-300:])!r}")

    def exit(self, escape: bytes = b"\r~.") -> int:
        self.write(escape)
        return self.pty.wait(10)

    def alive(self) -> bool:
        return self.pty.proc.poll() is None

    def close(self) -> None:
        self.pty.close()


class SolVm:
    """One pybmc serve process with one QEMU-backed BMC running the tiny guest."""

    def __init__(self, process: BmcProcess, config: dict[str, Any]) -> None:
        self.process = process
        parsed = parse_config(config)
        self.run_dir = run_dir(parsed)
        self.console_path = console_socket(parsed)
        self.clients: list[SolClient] = []

    def power(self, verb: str) -> str:
        result = self.process.ipmitool("chassis", "power", verb)
        return result.stdout.strip()

    @property
    def pid(self) -> int | None:
        return pid_from_run_dir(self.run_dir)

    def sol(self, *options: str, client: str = "ipmitool") -> SolClient:
        if client == "ipmiconsole":
            args = ["ipmiconsole", "-h", self.process.address, "-u", ADMIN_USER, "-p",
                    ADMIN_PASSWORD, "--serial-keepalive"]
        else:
            args = ["ipmitool", "-I", "lanplus", "-H", self.process.address, "-U", ADMIN_USER,
                    "-P", ADMIN_PASSWORD, "sol", "activate", *options]
        self.clients.append(SolClient(args))
        return self.clients[-1]

    def second_activation(self) -> str:
        """A second `sol activate` while one is active: its output (it must fail)."""
        result = subprocess.run(
            ["ipmitool", "-I", "lanplus", "-H", self.process.address, "-U", ADMIN_USER, "-P",
             ADMIN_PASSWORD, "sol", "activate"], capture_output=True, text=True, timeout=30,
            stdin=subprocess.DEVNULL)
        assert result.returncode != 0, result.stdout
        return (result.stdout + result.stderr).lower()

    def sol_active(self) -> bool:
        status = self.process.ipmitool("raw", "0x06", "0x4a", "0x01").stdout.split()
        return status[1] == "01"


@pytest.fixture
def sol_vm(bmc_factory: Any, tmp_path: Path) -> Iterator[Callable[..., SolVm]]:
    made: list[SolVm] = []

    def make(args: list[str] | None = None, **sections: Any) -> SolVm:
        if args is None:
            require_guest()
            args = verbose_guest_args()
        name = f"solvm{len(made) + 1}"
        config = base_config(name, next_address(), tmp_path / name,
                             power={"backend": "qemu", "cycle_interval": 0.5},
                             qemu={"args": args}, **sections)
        process = bmc_factory(configs=[config], extra_args=["--stop-vms-on-exit"])
        made.append(SolVm(process, config))
        return made[-1]

    yield make
    for vm in made:
        for client in vm.clients:
            client.close()
        vm.process.stop()
        kill_from_run_dir(vm.run_dir)


def seq_output(text: bytes, lines: int) -> list[bytes]:
    """The numbers `seq 1 lines` printed, read from just after the echoed command line."""
    start = text.index(b"\n1\r\n") + 1
    return text[start:].split(b"\r\n")[:lines]


def sercon_firmware_args(workdir: Path) -> list[str]:
    """A VM with nothing to boot whose SeaBIOS writes its screen to ttyS0 (sercon) from the
    first instant it runs: the banner, the boot attempts, "No bootable device"."""
    port = workdir / "sercon-port.bin"
    port.write_bytes((0x3F8).to_bytes(2, "little"))  # COM1: pybmc's serial port is ttyS0
    return ["-machine", "pc", "-m", "64", "-nodefaults", *accel_args(),
            "-fw_cfg", f"name=etc/sercon-port,file={port}"]


# ---------------------------------------------------------------------------- tests
def test_firmware_output_from_the_first_instant_reaches_a_session_opened_while_off(
        sol_vm, tmp_path: Path) -> None:
    """The console is connected before the VM runs: nothing the firmware prints is lost."""
    vm = sol_vm(sercon_firmware_args(tmp_path))
    client = vm.sol()
    client.expect(b"SOL Session operational")
    vm.power("on")
    banner = client.expect(b"SeaBIOS (version", timeout=30)
    client.expect(b"No bootable device", banner, timeout=30)


def test_session_opened_while_off_sees_the_boot_log_then_a_shell_and_1mb(sol_vm) -> None:
    vm = sol_vm()
    assert vm.power("status") == "Chassis Power is off" and vm.pid is None
    client = vm.sol()
    client.expect(b"SOL Session operational")
    assert vm.power("on") == "Chassis Power Control: Up/On"

    # The whole boot, from the kernel's first line, reaches the session opened before it.
    linux = client.expect(b"Linux version", timeout=BOOT_TIMEOUT)
    ready = client.expect(b"TINYGUEST READY", linux, timeout=BOOT_TIMEOUT)
    client.expect(b"login: ", ready, timeout=BOOT_TIMEOUT)
    client.login()

    mark = client.mark()
    client.write(b"seq 1 %d; echo END$((6*7))X\r" % LINES)
    end = client.expect(b"END42X", mark, timeout=120)
    numbers = seq_output(bytes(client.output[mark:end]), LINES)
    assert numbers == [b"%d" % n for n in range(1, LINES + 1)]  # complete and in order

    assert "already active" in vm.second_activation()
    assert client.alive()  # the refused second console did not disturb the first

    assert client.exit() == 0  # `~.` closes the session cleanly
    assert wait_until(lambda: not vm.sol_active(), 5)
    assert "SOL deactivated (Deactivate Payload)" in vm.process.log()


def test_late_session_gets_the_boot_log_from_history_and_shares_the_console(sol_vm) -> None:
    vm = sol_vm()
    tap = SerialTap(vm.console_path)  # a local console client (`pybmc console` protocol)
    try:
        vm.power("on")
        tap.wait_for("login: ", timeout=BOOT_TIMEOUT)

        # Opened after the boot: the history buffer shows what the guest printed before.
        first = vm.sol()
        history = first.expect(b"Linux version", timeout=10)
        first.expect(b"TINYGUEST READY", history, timeout=5)
        first.login()

        # Local console and SOL see the same console, in both directions.
        shared = tap.mark()
        first.run("echo shared-$((2+3))", b"shared-5")
        tap.wait_for("shared-5", since=shared, timeout=10)
        mark = first.mark()
        tap.send(b"echo local-$((3+4))\r")
        first.expect(b"local-7", mark, timeout=10)

        # One SOL session at a time; another session may deactivate it, then activate.
        assert "already active" in vm.second_activation()
        vm.process.ipmitool("sol", "deactivate")
        assert not vm.sol_active()
        second = vm.sol()
        second.expect(b"SOL Session operational")
        second.run("echo again-$((4+4))", b"again-8")
        assert second.exit() == 0
    finally:
        tap.close()


def test_console_follows_a_power_cycle_within_the_same_session(sol_vm) -> None:
    vm = sol_vm()
    vm.power("on")
    client = vm.sol()
    client.expect(b"login: ", timeout=BOOT_TIMEOUT)
    first_pid = vm.pid

    mark = client.mark()
    assert vm.power("cycle") == "Chassis Power Control: Cycle"
    # QEMU restarts (a new process, a new serial socket); the bridge reconnects by itself
    # and the new boot appears in the session that was open all along.
    linux = client.expect(b"Linux version", mark, timeout=BOOT_TIMEOUT)
    client.expect(b"login: ", linux, timeout=BOOT_TIMEOUT)
    assert vm.pid not in (None, first_pid)
    client.login()
    assert client.exit() == 0
    assert vm.process.log().count("console connected to unix:") >= 2


def test_sol_traffic_keeps_its_session_alive(sol_vm) -> None:
    """No keepalive from ipmitool and a 3 s session timeout: only SOL packets keep it open."""
    vm = sol_vm(security={"session_timeout": 3})
    tap = SerialTap(vm.console_path)
    try:
        vm.power("on")  # booted first: the boot log has pauses of its own
        tap.wait_for("login: ", timeout=BOOT_TIMEOUT)
    finally:
        tap.close()
    client = vm.sol("nokeepalive")
    client.login()

    # 8 s in which only the BMC sends data (the client only acknowledges it).
    client.run("for i in 1 2 3 4 5 6 7 8; do echo tick-$i; sleep 1; done", b"tick-8",
               timeout=30)
    # 6 s in which only the client sends data: echo off, keystrokes that go nowhere.
    client.run("stty -echo", b"# ")
    for _ in range(12):
        client.write(b"x")
        time.sleep(0.5)
    client.write(b"\x15stty echo\r")  # ^U drops the typed line
    client.run("echo still-$((9+9))", b"still-18")
    assert "closed (timeout)" not in vm.process.log()

    # Without any traffic the same session does time out: the timeout above was real.
    assert wait_until(lambda: "closed (timeout)" in vm.process.log(), 10)
    assert "SOL deactivated (its session closed)" in vm.process.log()
    assert not vm.sol_active()


@pytest.mark.skipif(shutil.which("ipmiconsole") is None, reason="FreeIPMI ipmiconsole missing")
def test_ipmiconsole_and_pyghmi_console_make_round_trips(sol_vm) -> None:
    vm = sol_vm()
    vm.power("on")
    freeipmi = vm.sol(client="ipmiconsole")
    freeipmi.expect(b"[SOL established]")
    freeipmi.expect(b"login: ", timeout=BOOT_TIMEOUT)
    freeipmi.login()
    freeipmi.run("echo freeipmi-$((1+2))", b"freeipmi-3")
    assert freeipmi.exit(b"\r&.") == 0

    received = pyghmi_round_trip(vm.process.address, b"# ", "echo pyghmi-$((2+2))\r",
                                 b"pyghmi-4")
    assert b"pyghmi-4" in received
