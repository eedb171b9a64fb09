"""The watchdog over LAN with real clients, against `pybmc serve` and a simulated machine."""

from __future__ import annotations

import os
import re
import time
from typing import Any

import pytest

from tests.e2e.conftest import BmcProcess

pytestmark = pytest.mark.skipif(not os.path.exists("/usr/bin/ipmitool"),
                                reason="ipmitool is not installed")


def test_ipmitool_watchdog_get_reset_off(bmc: BmcProcess):
    failed = bmc.ipmitool("mc", "watchdog", "reset", check=False)
    assert failed.returncode != 0
    assert "uninitialized" in (failed.stdout + failed.stderr).lower()
    assert "Shutoff successful" in bmc.ipmitool("mc", "watchdog", "off").stdout
    out = bmc.ipmitool("mc", "watchdog", "get").stdout
    assert re.search(r"Watchdog Timer Use:\s+SMS/OS \(0x04\)", out)
    assert re.search(r"Watchdog Timer Is:\s+Stopped", out)
    assert re.search(r"Initial Countdown:\s+300\.0 sec", out)
    assert re.search(r"Present Countdown:\s+300\.0 sec", out)
    assert "countdown restarted" in bmc.ipmitool("mc", "watchdog", "reset").stdout
    out = bmc.ipmitool("mc", "watchdog", "get").stdout
    assert re.search(r"Watchdog Timer Is:\s+Started/Running", out)
    present = re.search(r"Present Countdown:\s+([\d.]+) sec", out)
    assert present is not None and 290 < float(present.group(1)) <= 300


def test_operator_may_reset_user_may_only_read(bmc: BmcProcess):
    bmc.ipmitool("mc", "watchdog", "off")
    viewer = bmc.ipmitool("mc", "watchdog", "reset", user="viewer", password="viewerpw",
                          privilege="USER", check=False)
    assert viewer.returncode != 0
    assert "Stopped" in bmc.ipmitool("mc", "watchdog", "get", user="viewer",
                                     password="viewerpw", privilege="USER").stdout
    bmc.ipmitool("mc", "watchdog", "reset", user="oper", password="operpw",
                 privilege="OPERATOR")


def test_expiry_power_cycles_the_machine_and_logs_it(bmc_factory: Any):
    bmc: BmcProcess = bmc_factory(power={"initial_state": "on"})
    assert "on" in bmc.ipmitool("chassis", "power", "status").stdout
    # SMS/OS, power cycle, no pre-timeout, clear nothing, 1.0 s
    bmc.ipmitool("raw", "0x06", "0x24", "0x04", "0x03", "0x00", "0x00", "0x0a", "0x00")
    bmc.ipmitool("mc", "watchdog", "reset")
    deadline = time.monotonic() + 10
    while True:
        out = bmc.ipmitool("mc", "watchdog", "get").stdout
        if "* SMS/OS" in out or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert re.search(r"Watchdog Timer Is:\s+Stopped", out), out
    assert "* SMS/OS" in out, out
    assert re.search(r"Present Countdown:\s+0\.0 sec", out)
    sel = bmc.ipmitool("sel", "elist").stdout
    assert re.search(r"Watchdog.*Power cycle", sel, re.IGNORECASE), sel
    # The simulated machine came back on after the cycle.
    deadline = time.monotonic() + 5
    while "on" not in bmc.ipmitool("chassis", "power", "status").stdout:
        assert time.monotonic() < deadline
        time.sleep(0.2)
