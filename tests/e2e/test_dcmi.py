"""DCMI with real clients against `pybmc serve`: ipmitool `dcmi`, FreeIPMI `ipmi-dcmi`, and the
raw requests xCAT's rvitals sends."""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Callable

import pytest

from tests.e2e.conftest import BmcProcess

pytestmark = pytest.mark.skipif(not os.path.exists("/usr/bin/ipmitool"),
                                reason="ipmitool is not installed")


def wait_until(predicate: Callable[[], bool], timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.3)
    return predicate()


def test_ipmitool_dcmi_discover_sensors_and_readings(bmc: BmcProcess):
    discover = bmc.ipmitool("dcmi", "discover").stdout
    for line in ("Power management available", "Out-of-band primary LAN channel available",
                 "SOL enabled", "1024 SEL entries", "Asset tag"):
        assert line in discover, discover
    sensors = bmc.ipmitool("dcmi", "sensors").stdout
    assert re.search(r"Record ID 0x\w+: Inlet Temp", sensors), sensors
    assert re.search(r"Record ID 0x\w+: CPU Temp", sensors), sensors
    temps = bmc.ipmitool("dcmi", "get_temp_reading").stdout
    inlet = re.search(r"Inlet air temperature\(40h\)\s+1\s+\+(\d+) C", temps)
    assert inlet and 18 <= int(inlet.group(1)) <= 28, temps
    reading = bmc.ipmitool("dcmi", "power", "reading").stdout
    watts = re.search(r"Instantaneous power reading:\s+(\d+) Watts", reading)
    assert watts and int(watts.group(1)) < 20, reading  # off: standby power
    assert "Power reading state is:                   activated" in reading
    conf = bmc.ipmitool("dcmi", "get_conf_param").stdout
    assert "Server contact timeout interval\t: 120 seconds" in conf, conf


def test_xcat_rvitals_raw_dcmi_requests(bmc: BmcProcess):
    power = bmc.ipmitool("raw", "0x2c", "0x02", "0xdc", "1", "0", "0").stdout.split()
    assert power[0] == "dc" and len(power) == 18 and power[-1] == "40"
    inlet = bmc.ipmitool("raw", "0x2c", "0x10", "0xdc", "0x01", "0x40", "0", "0").stdout.split()
    assert inlet[:3] == ["dc", "01", "01"] and 18 <= int(inlet[3], 16) <= 28


def test_ids_and_asset_tag_set_over_ipmitool_persist(bmc: BmcProcess):
    assert "String: bmc1" in bmc.ipmitool("dcmi", "get_mc_id_string").stdout  # its name
    bmc.ipmitool("dcmi", "set_mc_id_string", "cn1-bmc.cluster")
    bmc.ipmitool("dcmi", "set_asset_tag", "RACK07-U12")
    bmc.restart()
    assert "cn1-bmc.cluster" in bmc.ipmitool("dcmi", "get_mc_id_string").stdout
    assert "RACK07-U12" in bmc.ipmitool("dcmi", "asset_tag").stdout


def test_power_limit_exception_powers_the_machine_off(bmc: BmcProcess):
    for key, value in (("limit", "50"), ("action", "power_off"), ("correction", "1000")):
        bmc.ipmitool("dcmi", "power", "set_limit", key, value)
    assert "No Active Power Limit" in bmc.ipmitool("dcmi", "power", "get_limit").stdout
    assert "successfully activated" in bmc.ipmitool("dcmi", "power", "activate").stdout
    limit = bmc.ipmitool("dcmi", "power", "get_limit").stdout
    assert "Power Limit Active" in limit and "50 Watts" in limit
    bmc.ipmitool("chassis", "power", "on")
    # 50 W is below the machine's idle power: throttling cannot meet it, so after the
    # correction time the exception action is taken.
    assert wait_until(lambda: "is off" in bmc.ipmitool("chassis", "power", "status").stdout)
    assert "Upper Critical going high" in bmc.ipmitool("sel", "list").stdout
    assert "DCMI power limit exception" in bmc.log()


@pytest.mark.skipif(shutil.which("ipmi-dcmi") is None, reason="FreeIPMI is not installed")
def test_freeipmi_ipmi_dcmi_checkout(bmc: BmcProcess):
    for flag in ("--get-dcmi-capability-info", "--get-system-power-statistics",
                 "--get-enhanced-system-power-statistics", "--get-dcmi-sensor-info",
                 "--get-power-limit", "--get-management-controller-identifier-string"):
        result = bmc.freeipmi("ipmi-dcmi", flag)
        assert result.returncode == 0 and result.stderr == "", (flag, result.stderr)
    caps = bmc.freeipmi("ipmi-dcmi", "--get-dcmi-capability-info").stdout
    assert re.search(r"DCMI Specification Conformance\s+: 1.5", caps)
    assert re.search(r"Available Rolling Average Time Period\s+: 5 Minutes", caps)
    bmc.freeipmi("ipmi-dcmi", "--set-asset-tag=ASSET-42")
    assert bmc.freeipmi("ipmi-dcmi", "--get-asset-tag").stdout.strip() == "ASSET-42"
