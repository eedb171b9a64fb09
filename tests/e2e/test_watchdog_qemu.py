"""The BMC watchdog with a real guest: armed in-band with ipmitool, left to expire, and the VM
resets, through `pybmc serve` and the QEMU backend. The in-band device is a BT interface here
([qemu] in_band_interface = "bt"); the discovery test covers KCS, the default.
"""

from __future__ import annotations

import os
import re

import pytest

from tests.e2e.guestshell import guest_bmc, guest_qemu_args
from tests.guest.vm import QEMU, require_guest

pytestmark = [
    pytest.mark.qemu,
    pytest.mark.skipif(QEMU is None, reason="qemu-system-x86_64 is not installed"),
    pytest.mark.skipif(not os.path.exists("/usr/bin/ipmitool"), reason="no ipmitool"),
]
__all__ = ["guest_bmc"]  # the fixture

# Set Watchdog Timer: SMS/OS (don't log off), hard reset, no pre-timeout, clear no flags,
# initial countdown 5.0 s (50 x 100 ms).
ARM_HARD_RESET_5S = "ipmitool raw 0x06 0x24 0x04 0x01 0x00 0x00 0x32 0x00"


@pytest.fixture(scope="module")
def guest() -> None:
    require_guest()


def test_watchdog_expiry_resets_the_guest(guest, guest_bmc) -> None:
    bmc = guest_bmc(guest_qemu_args(), qemu={"in_band_interface": "bt"})
    assert "Up/On" in bmc.process.ipmitool("chassis", "power", "on").stdout
    bmc.shell.boot_and_login()
    pid = bmc.pid
    status, dmesg = bmc.shell.run("dmesg | grep -i ipmi")
    assert status == 0 and "IPMI bt interface initialized" in dmesg, dmesg

    status, out = bmc.shell.run("ipmitool mc watchdog get")
    assert status == 0 and re.search(r"Watchdog Timer Is:\s+Stopped", out), out
    status, out = bmc.shell.run(f"{ARM_HARD_RESET_5S} && ipmitool mc watchdog reset "
                                "&& ipmitool mc watchdog get")
    assert status == 0, out
    assert re.search(r"Watchdog Timer Is:\s+Started/Running", out), out
    assert re.search(r"Watchdog Timer Action:\s+Hard Reset", out), out
    armed = bmc.console.mark()

    # Nobody resets the countdown: 5 s later the BMC resets the VM (the same QEMU process).
    rebooted = bmc.shell.boot_and_login(since=armed, timeout=90)
    assert bmc.pid == pid
    assert "boot (watchdog (hard reset))" in bmc.process.log()
    cause = bmc.process.ipmitool("chassis", "restart_cause").stdout
    assert "System restart cause: watchdog" in cause, cause
    status, out = bmc.shell.run("ipmitool mc watchdog get")
    assert status == 0, out
    assert re.search(r"Watchdog Timer Is:\s+Stopped", out), out
    assert re.search(r"\* SMS/OS", out), f"the SMS/OS expiration flag is gone:\n{out}"
    assert rebooted > armed

    sel = bmc.process.ipmitool("sel", "elist").stdout
    assert re.search(r"Watchdog.*Hard reset", sel, re.IGNORECASE), sel
    assert "Chassis Power is on" in bmc.process.ipmitool("chassis", "power", "status").stdout
