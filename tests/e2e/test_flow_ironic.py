"""OpenStack Ironic's ipmitool driver, replayed: its exact command lines and what it parses.

Facts from ironic/drivers/modules/ipmitool.py: every call is
`ipmitool -I lanplus -H <addr> -L ADMINISTRATOR -U <user> -R <retries> -N <interval>
-f <password file> <command>`; power state is read from "Chassis Power is on|off"; before a
boot device it disables the 60 s boot-flag timeout (`raw 0x00 0x08 0x03 0x08`), then sets
UEFI devices with `raw 0x00 0x08 0x05 0xe0|0xa0 <dev> 0 0 0` and legacy ones with
`chassis bootdev X [options=persistent]`; get_boot_device parses `chassis bootparam get 5`
("Boot Device Selector : ..." and "Options apply to all future boots"). The console runs
`sol deactivate` before `sol activate`.
"""

from __future__ import annotations

import contextlib
import re
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import ADMIN_PASSWORD, ADMIN_USER, BmcProcess
from tests.e2e.fakeguest import FakeGuestSerial
from tests.e2e.ptyproc import PtyProcess

# Ironic's UEFI device bytes (ipmitool.py BOOT_DEVICE_UEFI map).
UEFI_DEVICES = {"pxe": 0x04, "disk": 0x08, "cdrom": 0x14, "bios": 0x18, "safe": 0x0C}


@pytest.fixture
def guest() -> Iterator[FakeGuestSerial]:
    with tempfile.TemporaryDirectory(prefix="pbiro", dir="/tmp") as tmp:
        serial = FakeGuestSerial(str(Path(tmp) / "serial"))
        yield serial
        serial.close()


@pytest.fixture
def node(bmc_factory, guest: FakeGuestSerial) -> BmcProcess:
    return bmc_factory(sol={"serial": f"unix:{guest.path}"}, redfish={"enabled": False})


def ironic_cmd(bmc: BmcProcess) -> list[str]:
    password_file = bmc.workdir / "ironic-password"
    password_file.write_text(ADMIN_PASSWORD)
    return ["ipmitool", "-I", "lanplus", "-H", bmc.address, "-L", "ADMINISTRATOR",
            "-U", ADMIN_USER, "-R", "1", "-N", "5", "-f", str(password_file)]


def ironic(bmc: BmcProcess, *command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([*ironic_cmd(bmc), *command], capture_output=True, text=True,
                            timeout=60, stdin=subprocess.DEVNULL)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed ({result.returncode}):\n"
                             f"{result.stdout}{result.stderr}")
    return result


def power_state(bmc: BmcProcess) -> str:
    """What Ironic's _power_status reads."""
    out = ironic(bmc, "power", "status").stdout
    match = re.search(r"Chassis Power is (on|off)", out)
    assert match, out
    return match.group(1)


def wait_power(bmc: BmcProcess, state: str, timeout: float = 30.0) -> None:
    """Ironic polls `power status` until the state it asked for (_set_and_wait)."""
    deadline = time.monotonic() + timeout
    while power_state(bmc) != state:
        assert time.monotonic() < deadline, f"power never became {state}"
        time.sleep(0.2)


def boot_device(bmc: BmcProcess) -> tuple[str | None, bool]:
    """Ironic's get_boot_device: the selector line and the persistence line."""
    out = ironic(bmc, "chassis", "bootparam", "get", "5").stdout
    persistent = "Options apply to all future boots" in out
    match = re.search(r"Boot Device Selector : (.+)?\n", out)
    selector = match.group(1) if match else ""
    if "PXE" in selector:
        return "pxe", persistent
    if "Hard-Drive" in selector:
        return ("safe" if "Safe-Mode" in selector else "disk"), persistent
    if "BIOS" in selector:
        return "bios", persistent
    if "CD/DVD" in selector:
        return "cdrom", persistent
    return None, persistent


def test_ironic_power_flow(node: BmcProcess):
    assert power_state(node) == "off"
    ironic(node, "power", "on")
    wait_power(node, "on")
    ironic(node, "power", "reset")
    wait_power(node, "on")
    ironic(node, "power", "diag")
    wait_power(node, "on")
    ironic(node, "power", "soft")
    wait_power(node, "off")
    ironic(node, "power", "on")
    wait_power(node, "on")
    ironic(node, "power", "off")
    wait_power(node, "off")


@pytest.mark.parametrize("device", sorted(UEFI_DEVICES))
@pytest.mark.parametrize("persistent", [True, False])
def test_ironic_uefi_boot_device_read_back(node: BmcProcess, device: str, persistent: bool):
    ironic(node, "raw", "0x00", "0x08", "0x03", "0x08")
    flags = "0xe0" if persistent else "0xa0"
    ironic(node, "raw", "0x00", "0x08", "0x05", flags, f"0x{UEFI_DEVICES[device]:02x}",
           "0x00", "0x00", "0x00")
    assert boot_device(node) == (device, persistent)
    out = ironic(node, "chassis", "bootparam", "get", "5").stdout
    assert "BIOS EFI boot" in out


@pytest.mark.parametrize("device,ironic_name", [("pxe", "pxe"), ("disk", "disk"),
                                                 ("cdrom", "cdrom"), ("bios", "bios"),
                                                 ("safe", "safe")])
def test_ironic_legacy_bootdev_read_back(node: BmcProcess, device: str, ironic_name: str):
    ironic(node, "raw", "0x00", "0x08", "0x03", "0x08")
    ironic(node, "chassis", "bootdev", device, "options=persistent")
    assert boot_device(node) == (ironic_name, True)
    ironic(node, "chassis", "bootdev", device)
    assert boot_device(node) == (ironic_name, False)


def test_ironic_management_commands(node: BmcProcess):
    info = ironic(node, "mc", "info").stdout
    assert re.search(r"IPMI Version\s+: 2\.0", info)
    assert re.search(r"Device ID\s+: \d+", info)
    sdr = ironic(node, "sdr", "-v").stdout
    assert "Sensor ID" in sdr and "Sensor Reading" in sdr
    dump = node.workdir / "sdr.bin"
    ironic(node, "sdr", "dump", str(dump))
    # The dump is the raw SDR records back to back: each a 5-byte header, byte 4 the length.
    data = dump.read_bytes()
    offset = records = 0
    while offset < len(data):
        assert data[offset + 2] == 0x51, f"record {records} is not SDR version 51h"
        offset += 5 + data[offset + 4]
        records += 1
    assert offset == len(data) and records >= 3
    assert "Sent warm reset command to MC" in ironic(node, "bmc", "reset", "warm").stdout
    assert power_state(node) == "off"  # a BMC reset leaves the host alone


def test_ironic_console_deactivate_then_activate(node: BmcProcess, guest: FakeGuestSerial):
    first = PtyProcess([*ironic_cmd(node), "sol", "activate"])
    second: PtyProcess | None = None
    try:
        first.read_until(b"SOL Session operational")
        # Ironic's start_console: a fresh session deactivates the old payload first ...
        ironic(node, "sol", "deactivate")
        # (the old session may live on: Deactivate Payload does not end a session) ...
        # ... then activates its own, which would fail with "SOL payload already active".
        second = PtyProcess([*ironic_cmd(node), "sol", "activate"])
        second.read_until(b"SOL Session operational")
        second.write(b"ironic\r")
        second.read_until(b"IRONIC")
        assert b"ironic\r" in guest.received
        with contextlib.suppress(AssertionError):  # the deactivated console gets nothing
            first.read_until(b"IRONIC", timeout=1.0)
        assert b"IRONIC" not in first.output
        second.write(b"\r~.")
        assert second.wait(timeout=20) == 0
    finally:
        first.close()
        if second is not None:
            second.close()
