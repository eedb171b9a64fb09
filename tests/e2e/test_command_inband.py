"""The command backend with the user's own QEMU connected to [in_band] listen, as ipmi_sim users
wire `serial 15 127.0.0.1 PORT codec VM` to `-chardev socket,...,reconnect=N`: the guest sees the
BMC through KCS, and Chassis Control reset, diagnostic interrupt and soft off reach the VM over
that link (reset / NMI / ACPI power button), with the QEMU process kept.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import socket
from pathlib import Path
from typing import Any

import pytest

from pybmc.config.bmc import parse_config
from pybmc.config.paths import run_dir
from pybmc.edge.power.qemu_probe import kvm_works
from tests.e2e.conftest import base_config, next_address
from tests.e2e.guestshell import GuestBmc
from tests.guest.vm import QEMU, guest_files, kill_from_run_dir, require_guest, wait_until

pytestmark = [
    pytest.mark.qemu,
    pytest.mark.skipif(QEMU is None, reason="qemu-system-x86_64 is not installed"),
    pytest.mark.skipif(not os.path.exists("/usr/bin/ipmitool"), reason="no ipmitool"),
]


@pytest.fixture(scope="module")
def guest() -> None:
    require_guest()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def accelerator() -> str:
    forced = os.environ.get("PYBMC_TEST_ACCEL")
    if forced:
        return forced
    return "kvm" if asyncio.run(kvm_works(QEMU or "qemu-system-x86_64")) else "tcg"


def user_launch_command(serial: Path, port: int, boots: Path) -> str:
    """What an ipmi_sim user's startcmd looks like: their QEMU, its in-band chardev pointed at
    the BMC's listener, its serial port a socket the BMC's SOL connects to."""
    built = guest_files()
    assert built is not None
    kernel, initrd = built
    qemu = [QEMU or "qemu-system-x86_64", "-accel", accelerator(), "-machine", "pc",
            "-m", "256", "-nodefaults", "-display", "none",
            "-kernel", str(kernel), "-initrd", str(initrd),
            "-append", "console=ttyS0,115200 panic=-1 quiet",
            "-chardev", f"socket,id=ser0,path={serial},server=on,wait=off",
            "-serial", "chardev:ser0",
            "-chardev", f"socket,id=ipmi0,host=127.0.0.1,port={port},reconnect=1",
            "-device", "ipmi-bmc-extern,id=bmc0,chardev=ipmi0",
            "-device", "isa-ipmi-kcs,bmc=bmc0"]
    return f'echo "$PYBMC_BOOT_DEVICE" >> {shlex.quote(str(boots))}; exec {shlex.join(qemu)}'


@pytest.fixture
def command_bmc(bmc_factory: Any, tmp_path: Path, guest: None) -> Any:
    port = free_port()
    config = base_config("cmd1", next_address(), tmp_path / "cmd1")
    directory = run_dir(parse_config(config))
    boots = tmp_path / "boots.txt"
    config["power"] = {"backend": "command", "command_off_wait": 5.0,
                       "command_on": user_launch_command(directory / "vm-serial.sock", port,
                                                         boots)}
    config["in_band"] = {"listen": f"tcp:127.0.0.1:{port}"}
    config["sol"] = {"serial": f"unix:{directory / 'vm-serial.sock'}"}
    bmc = GuestBmc(bmc_factory(configs=[config], extra_args=["--stop-vms-on-exit"]), config)
    bmc.boots = boots  # type: ignore[attr-defined]
    yield bmc
    bmc.console.close()
    bmc.process.stop()
    kill_from_run_dir(directory)


def command_pid(bmc: GuestBmc) -> int | None:
    from tests.guest.vm import pid_from_run_dir

    return pid_from_run_dir(bmc.run_dir, "command.pid")


def test_reset_nmi_and_soft_off_go_over_the_vm_link(command_bmc: GuestBmc) -> None:
    bmc, console = command_bmc, command_bmc.console
    assert "Up/On" in bmc.process.ipmitool("chassis", "power", "on").stdout
    bmc.shell.boot_and_login()
    status, out = bmc.shell.run("ipmitool mc info")
    assert status == 0 and "IPMI Version              : 2.0" in out, out
    pid = command_pid(bmc)
    assert pid is not None
    assert wait_until(lambda: "VM capabilities 0x3f" in bmc.process.log(), 5)

    mark = console.mark()
    assert "Diag" in bmc.process.ipmitool("chassis", "power", "diag").stdout
    console.wait_for("NMI received", since=mark, timeout=30)

    mark = console.mark()
    assert "Reset" in bmc.process.ipmitool("chassis", "power", "reset").stdout
    bmc.shell.boot_and_login(since=mark)
    assert command_pid(bmc) == pid
    assert "hard reset through the VM link" in bmc.process.log()

    # A boot device the running QEMU cannot take: the reset runs the command again.
    bmc.process.ipmitool("chassis", "bootdev", "pxe")
    mark = console.mark()
    bmc.process.ipmitool("chassis", "power", "reset")
    assert wait_until(lambda: command_pid(bmc) not in (None, pid), 20)
    assert bmc.boots.read_text().split() == ["default", "pxe"]  # type: ignore[attr-defined]
    bmc.shell.boot_and_login(since=mark)
    assert wait_until(lambda: bmc.process.log().count("VM capabilities 0x3f") == 2, 10)

    mark = console.mark()
    assert "Soft" in bmc.process.ipmitool("chassis", "power", "soft").stdout
    console.wait_for("TINYGUEST POWER BUTTON", since=mark, timeout=30)
    bmc.wait_power(False)
    assert "power off (soft off)" in bmc.process.log()
