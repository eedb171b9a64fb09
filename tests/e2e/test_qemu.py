"""[power] backend = "qemu" end to end: ipmitool against `pybmc serve`, a real QEMU behind it.

What the firmware did is read from SeaBIOS's debug console (a file), so most tests need no OS
image; soft off uses the tiny Linux guest (tests/guest/build_guest.sh, cached outside the repo).
Every QEMU is killed by the pid file pybmc keeps in its run directory, never by name.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pybmc.config.bmc import parse_config
from pybmc.config.paths import console_socket, run_dir
from pybmc.edge.power.process import process_start_time
from tests.e2e.conftest import BmcProcess, base_config, next_address
from tests.guest.vm import (
    QEMU,
    DebugConsole,
    SerialTap,
    accel_args,
    firmware_vm_args,
    kill_from_run_dir,
    pid_from_run_dir,
    require_guest,
    tiny_guest_args,
    wait_until,
)

pytestmark = [
    pytest.mark.qemu,
    pytest.mark.skipif(QEMU is None, reason="qemu-system-x86_64 is not installed"),
    pytest.mark.skipif(not os.path.exists("/usr/bin/ipmitool"), reason="no ipmitool"),
]


class QemuBmc:
    """One pybmc serve process with one QEMU-backed BMC."""

    def __init__(self, process: BmcProcess, config: dict[str, Any]) -> None:
        self.process = process
        self.run_dir = run_dir(parse_config(config))

    def power(self, verb: str, check: bool = True) -> str:
        result = self.process.ipmitool("chassis", "power", verb, check=check)
        return (result.stdout + result.stderr).strip()

    def is_on(self) -> bool:
        return self.power("status") == "Chassis Power is on"

    def wait_power(self, on: bool, timeout: float = 15.0) -> None:
        assert wait_until(lambda: self.is_on() == on, timeout, 0.2), \
            f"power did not turn {'on' if on else 'off'}:\n{self.process.log()[-3000:]}"

    @property
    def pid(self) -> int | None:
        pid = pid_from_run_dir(self.run_dir)
        return pid if pid is not None and process_start_time(pid) is not None else None


@pytest.fixture
def qemu_bmc(bmc_factory: Any, tmp_path: Path) -> Iterator[Callable[..., QemuBmc]]:
    made: list[QemuBmc] = []

    def make(args: list[str], extra_args: tuple[str, ...] = ("--stop-vms-on-exit",),
             **sections: Any) -> QemuBmc:
        name = f"vm{len(made) + 1}"
        config = base_config(name, next_address(), tmp_path / name,
                             power={"backend": "qemu", "cycle_interval": 0.5},
                             qemu={"args": args}, **sections)
        process = bmc_factory(configs=[config], extra_args=list(extra_args))
        made.append(QemuBmc(process, config))
        return made[-1]

    yield make
    for bmc in made:
        bmc.process.stop()
        kill_from_run_dir(bmc.run_dir)


@pytest.fixture
def firmware_vm(tmp_path: Path) -> tuple[list[str], DebugConsole]:
    work = Path(os.path.abspath(tmp_path))
    args, debugcon = firmware_vm_args(work)
    return args, DebugConsole(debugcon)


def reset_and_see(bmc: QemuBmc, debugcon: DebugConsole) -> str:
    """Hard reset through IPMI; the device SeaBIOS then tries first."""
    mark = debugcon.mark()
    assert "Reset" in bmc.power("reset")
    return debugcon.first_boot_device(mark)


def test_power_verbs_drive_qemu(qemu_bmc, firmware_vm) -> None:
    args, debugcon = firmware_vm
    bmc = qemu_bmc(args)
    assert bmc.power("status") == "Chassis Power is off" and bmc.pid is None

    assert "Up/On" in bmc.power("on")
    bmc.wait_power(True)
    first = bmc.pid
    assert first is not None
    assert "System Power         : on" in bmc.process.ipmitool("chassis", "status").stdout
    assert debugcon.first_boot_device(0) == "Hard Disk"

    assert "Diag" in bmc.power("diag")
    assert reset_and_see(bmc, debugcon) == "Hard Disk"
    assert bmc.pid == first  # a reset is not a new process

    mark = debugcon.mark()
    assert "Cycle" in bmc.power("cycle")
    assert wait_until(lambda: bmc.pid not in (None, first), 15, 0.1)
    assert debugcon.first_boot_device(mark) == "Hard Disk"
    bmc.wait_power(True)

    assert "Down/Off" in bmc.power("off")
    bmc.wait_power(False)
    assert bmc.pid is None


def test_bootdev_applies_once_or_persistently(qemu_bmc, firmware_vm) -> None:
    args, debugcon = firmware_vm
    bmc = qemu_bmc(args)
    bmc.process.ipmitool("chassis", "bootdev", "pxe")
    bmc.power("on")  # a pending override applies at power-on too
    assert debugcon.first_boot_device(0) == "ROM"
    bmc.wait_power(True)
    assert reset_and_see(bmc, debugcon) == "Hard Disk"  # used up

    bmc.process.ipmitool("chassis", "bootdev", "pxe")
    assert reset_and_see(bmc, debugcon) == "ROM"
    assert reset_and_see(bmc, debugcon) == "Hard Disk"

    bmc.process.ipmitool("chassis", "bootdev", "pxe", "options=persistent")
    assert reset_and_see(bmc, debugcon) == "ROM"
    assert reset_and_see(bmc, debugcon) == "ROM"
    bmc.process.ipmitool("chassis", "bootdev", "cdrom", "options=persistent")
    assert reset_and_see(bmc, debugcon) == "DVD/CD"
    bmc.process.ipmitool("chassis", "bootdev", "none")
    assert reset_and_see(bmc, debugcon) == "Hard Disk"


def test_guest_reboot_applies_a_pending_bootdev(qemu_bmc, tmp_path) -> None:
    """SeaBIOS with nothing to boot reboots by itself every 2 s: guest-initiated resets."""
    args, debugcon_path = firmware_vm_args(Path(os.path.abspath(tmp_path)), nic=False,
                                           reboot_timeout=2000)
    debugcon = DebugConsole(debugcon_path)
    bmc = qemu_bmc(args)
    bmc.power("on")
    assert debugcon.first_boot_device(0) == "Hard Disk"
    mark = debugcon.mark()
    bmc.process.ipmitool("chassis", "bootdev", "cdrom")  # while the guest runs
    assert wait_until(lambda: len(debugcon.boots_since(mark)) >= 2, 30)
    assert debugcon.boots_since(mark)[:2] == ["DVD/CD", "Hard Disk"]
    assert "boot (guest reboot) from cdrom" in bmc.process.log()


def test_qemu_killed_from_outside_reads_off(qemu_bmc) -> None:
    bmc = qemu_bmc(["-machine", "pc", "-m", "32", "-nodefaults", *accel_args()])
    bmc.power("on")
    bmc.wait_power(True)
    os.kill(bmc.pid, signal.SIGKILL)
    killed = time.monotonic()
    bmc.wait_power(False, timeout=5)
    assert time.monotonic() - killed < 3
    assert wait_until(lambda: "without being asked" in bmc.process.log(), 5)
    assert "System Power         : off" in bmc.process.ipmitool("chassis", "status").stdout


def test_restarting_pybmc_keeps_the_vm(qemu_bmc, firmware_vm) -> None:
    args, debugcon = firmware_vm
    bmc = qemu_bmc(args, extra_args=())  # pybmc leaves VMs running when it exits
    bmc.power("on")
    bmc.wait_power(True)
    pid = bmc.pid
    debugcon.first_boot_device(0)
    boots = len(debugcon.boots_since(0))

    bmc.process.restart()
    assert bmc.is_on() and bmc.pid == pid
    # Wait until start-up has re-attached and served a request: whatever pybmc does to a VM
    # it finds running is done by then, so counting boots now cannot come too early.
    assert wait_until(lambda: "re-attached to QEMU pid" in bmc.process.log(), 10)
    assert "System Power         : on" in bmc.process.ipmitool("chassis", "status").stdout
    assert len(debugcon.boots_since(0)) == boots  # not reset, not power-cycled

    bmc.power("off")
    bmc.wait_power(False)
    bmc.process.restart()  # and an off machine stays off
    assert not bmc.is_on() and bmc.pid is None


def test_broken_qemu_args_answer_an_error(qemu_bmc) -> None:
    bmc = qemu_bmc(["-m", "32", *accel_args(), "-device", "no-such-device-pybmc"])
    bmc.power("on")
    assert wait_until(lambda: "QEMU failed to start" in bmc.process.log(), 10)
    assert "no-such-device-pybmc" in bmc.process.log()
    assert not bmc.is_on()
    refused = bmc.power("on", check=False)
    assert "failed: Command not supported in present state" in refused


@pytest.fixture(scope="module")
def guest() -> None:
    require_guest()


def test_soft_off_powers_off_an_acpi_guest(qemu_bmc, guest) -> None:
    bmc = qemu_bmc(tiny_guest_args())
    config = parse_config({"bmc": {"name": "vm1", "address": bmc.process.address,
                                   "state_dir": str(bmc.process.workdir / "vm1")}})
    console = SerialTap(console_socket(config))  # the guest's ttyS0, shared with SOL
    try:
        bmc.power("on")
        console.wait_for("TINYGUEST READY", timeout=90)
        assert "Soft" in bmc.power("soft")
        console.wait_for("TINYGUEST POWER BUTTON", timeout=30)
        bmc.wait_power(False, timeout=30)
        assert bmc.pid is not None  # QEMU waits in run state "shutdown" for the next power-on
        assert "guest power off" in bmc.process.log()

        mark = console.mark()
        bmc.power("on")
        console.wait_for("TINYGUEST READY", since=mark, timeout=90)
        bmc.wait_power(True)
    finally:
        console.close()
