"""Redfish SEL log services, Chassis sensors and Manager settings on a real `pybmc serve`,
each read back (or made) over IPMI with ipmitool."""

from __future__ import annotations

import datetime as dt
import re
import time
from types import SimpleNamespace
from typing import Any

import pytest

from tests.e2e.conftest import AUTH_CAP_PING, IPMITOOL, BmcProcess, next_address, udp_roundtrip
from tests.e2e.test_redfish import bmc as redfish_bmc  # noqa: F401  (the fixture)
from tests.e2e.test_redfish import https, open_sushy, wait_power

sushy = pytest.importorskip("sushy")
pytestmark = pytest.mark.skipif(IPMITOOL is None, reason="ipmitool not installed")

SYSTEM_SEL = "/redfish/v1/Systems/{name}/LogServices/SEL"
MANAGER_SEL = "/redfish/v1/Managers/BMC/LogServices/SEL"
MANAGER = "/redfish/v1/Managers/BMC"
NIC = f"{MANAGER}/EthernetInterfaces/eth0"


def _name(bmc: BmcProcess) -> str:
    return str(bmc.configs[0]["bmc"]["name"])


def _entries(bmc: BmcProcess, base: str) -> list[dict[str, Any]]:
    status, body = https(bmc, "GET", f"{base}/Entries")
    assert status == 200, body
    return list(body["Members"])


def _sel_ids(bmc: BmcProcess) -> list[int]:
    """Record IDs as `ipmitool sel list` shows them (hex, first column)."""
    lines = bmc.ipmitool("sel", "list").stdout.splitlines()
    return [int(line.split("|")[0], 16) for line in lines if "|" in line]


def _answers_https(bmc: Any) -> bool:
    try:
        return https(bmc, "GET", "/redfish/v1", user=None)[0] == 200
    except OSError:
        return False


def _until(predicate: Any, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_sel_entries_over_redfish_are_the_ipmi_sel_both_ways(
        redfish_bmc: BmcProcess) -> None:  # noqa: F811
    bmc = redfish_bmc
    system_sel = SYSTEM_SEL.format(name=_name(bmc))
    status, service = https(bmc, "GET", system_sel)
    assert status == 200 and service["LogEntryType"] == "SEL"
    assert service["Actions"]["#LogService.ClearLog"]["target"].endswith("ClearLog")
    # An event logged by an IPMI power on is an entry over Redfish at once, under both.
    bmc.ipmitool("chassis", "power", "on")
    wait_power(bmc, "Chassis Power is on")
    ids = _sel_ids(bmc)
    entries = _entries(bmc, system_sel)
    assert [int(e["Id"]) for e in entries] == ids
    assert entries == [{**e, "@odata.id": e["@odata.id"].replace(MANAGER_SEL, system_sel)}
                       for e in _entries(bmc, MANAGER_SEL)]
    powered = entries[-1]
    assert powered["EntryType"] == "SEL"
    assert powered["SensorType"] == "System ACPI PowerState"
    assert "S0/G0 working" in powered["Message"] and powered["EntryCode"] == "Assert"
    assert re.fullmatch(r"0x[0-9A-F]{8}", powered["MessageId"])
    created = dt.datetime.fromisoformat(powered["Created"])
    assert abs(created.timestamp() - time.time()) < 120
    assert "S0/G0: working" in bmc.ipmitool("sel", "list").stdout
    status, one = https(bmc, "GET", f"{system_sel}/Entries/{powered['Id']}")
    assert status == 200 and one["Message"] == powered["Message"]
    assert https(bmc, "GET", f"{system_sel}/Entries/65000")[0] == 404
    # ClearLog is IPMI's clear: ipmitool sees only the "log area reset/cleared" record.
    clear = f"{system_sel}/Actions/LogService.ClearLog"
    assert https(bmc, "POST", clear, {})[0] == 204
    listed = bmc.ipmitool("sel", "list").stdout
    assert len(_sel_ids(bmc)) == 1 and "Log area reset/cleared" in listed
    assert "SEL" in bmc.log() and "log area reset/cleared" in bmc.log()
    # And the other way: `ipmitool sel clear` empties what Redfish shows.
    bmc.ipmitool("chassis", "power", "off")
    wait_power(bmc, "Chassis Power is off")
    assert len(_entries(bmc, MANAGER_SEL)) == 2
    bmc.ipmitool("sel", "clear")
    assert _until(lambda: len(_entries(bmc, MANAGER_SEL)) == 1)
    (cleared,) = _entries(bmc, MANAGER_SEL)
    assert cleared["SensorType"] == "Event Logging Disabled"
    assert "log area reset/cleared" in cleared["Message"]


def _ipmi_reading(bmc: BmcProcess, sensor: str) -> float | None:
    shown = bmc.ipmitool("sensor", "reading", sensor, check=False).stdout
    value = shown.split("|")[-1].strip() if "|" in shown else ""
    try:
        return float(value)
    except ValueError:
        return None  # "na": no reading


def test_sensors_and_thermal_follow_power_as_ipmi_reads_them(
        redfish_bmc: BmcProcess) -> None:  # noqa: F811
    bmc = redfish_bmc
    name = _name(bmc)
    root = open_sushy(bmc.address, "admin", "secret")
    chassis = root.get_chassis(f"/redfish/v1/Chassis/{name}")
    bmc.ipmitool("chassis", "power", "off")
    wait_power(bmc, "Chassis Power is off")
    fans = {fan.name: fan for fan in chassis.thermal.fans}
    assert set(fans) == {"FAN1", "FAN2"}
    assert fans["FAN1"].reading is None and _ipmi_reading(bmc, "FAN1") is None
    temps = {t.name: t for t in chassis.thermal.temperatures}
    cpu_ipmi = _ipmi_reading(bmc, "CPU Temp")
    assert cpu_ipmi is not None and abs(temps["CPU Temp"].reading_celsius - cpu_ipmi) < 3
    assert temps["CPU Temp"].upper_threshold_critical == pytest.approx(95, abs=1)
    bmc.ipmitool("chassis", "power", "on")
    wait_power(bmc, "Chassis Power is on")
    chassis.thermal.refresh()
    fan = next(f for f in chassis.thermal.fans if f.name == "FAN1")
    ipmi_fan = _ipmi_reading(bmc, "FAN1")
    assert fan.reading is not None and ipmi_fan is not None
    assert abs(fan.reading - ipmi_fan) < 500  # both near idle, climbing the same curve
    # The Sensor resources carry the same reading, units and thresholds.
    status, sensors = https(bmc, "GET", f"/redfish/v1/Chassis/{name}/Sensors")
    assert status == 200 and sensors["Members@odata.count"] == 8
    status, cpu = https(bmc, "GET", f"/redfish/v1/Chassis/{name}/Sensors/CPU_Temp")
    assert status == 200 and cpu["ReadingType"] == "Temperature"
    assert cpu["ReadingUnits"] == "Cel" and cpu["Status"]["State"] == "Enabled"
    assert abs(cpu["Reading"] - _ipmi_reading(bmc, "CPU Temp")) < 3
    assert cpu["Thresholds"]["UpperCritical"]["Reading"] == pytest.approx(95, abs=1)
    # A threshold set over IPMI is the Redfish threshold at once.
    bmc.ipmitool("sensor", "thresh", "CPU Temp", "ucr", "90")
    status, cpu = https(bmc, "GET", f"/redfish/v1/Chassis/{name}/Sensors/CPU_Temp")
    assert cpu["Thresholds"]["UpperCritical"]["Reading"] == pytest.approx(90, abs=1)
    status, power = https(bmc, "GET", f"/redfish/v1/Chassis/{name}/Power")
    assert power["PowerControl"][0]["PowerConsumedWatts"] > 50  # idle draw or more
    assert [ps["Name"] for ps in power["PowerSupplies"]] == ["PS1 Status"]
    # The newer ThermalSubsystem/PowerSubsystem carry the same sensors.
    status, fan1 = https(bmc, "GET", f"/redfish/v1/Chassis/{name}/ThermalSubsystem/Fans/FAN1")
    assert status == 200 and fan1["SpeedPercent"]["SpeedRPM"] > 1000
    status, metrics = https(bmc, "GET",
                            f"/redfish/v1/Chassis/{name}/ThermalSubsystem/ThermalMetrics")
    assert status == 200 and len(metrics["TemperatureReadingsCelsius"]) == 2
    supplies = f"/redfish/v1/Chassis/{name}/PowerSubsystem/PowerSupplies"
    assert https(bmc, "GET", f"{supplies}/PS1_Status")[1]["Status"]["State"] == "Enabled"
    bmc.ipmitool("chassis", "power", "off")
    wait_power(bmc, "Chassis Power is off")
    status, fan1 = https(bmc, "GET", f"/redfish/v1/Chassis/{name}/ThermalSubsystem/Fans/FAN1")
    assert fan1["Status"]["State"] == "UnavailableOffline"
    assert fan1["SpeedPercent"]["SpeedRPM"] is None and _ipmi_reading(bmc, "FAN1") is None


def test_datetime_is_the_sel_clock_both_ways(redfish_bmc: BmcProcess) -> None:  # noqa: F811
    bmc = redfish_bmc
    assert https(bmc, "PATCH", MANAGER, {"DateTime": "2031-05-06T07:08:09+00:00"})[0] == 204
    shown = bmc.ipmitool("sel", "time", "get").stdout.strip()
    assert shown.startswith("05/06/31 07:08:09"), shown
    bmc.ipmitool("sel", "time", "set", "01/02/25 03:04:05")
    status, manager = https(bmc, "GET", MANAGER)
    assert status == 200 and manager["DateTime"].startswith("2025-01-02T03:04")
    assert manager["DateTimeLocalOffset"] == "+00:00"
    status, body = https(bmc, "PATCH", MANAGER, {"DateTime": "yesterday"})
    assert status == 400 and body["error"]["@Message.ExtendedInfo"][0]["MessageId"].endswith(
        "PropertyValueFormatError")
    assert https(bmc, "PATCH", MANAGER, {"ManagerType": "BMC"})[0] == 400


def test_manager_reset_is_the_ipmi_bmc_reset(redfish_bmc: BmcProcess) -> None:  # noqa: F811
    bmc = redfish_bmc
    status, manager = https(bmc, "GET", MANAGER)
    assert status == 200
    action = manager["Actions"]["#Manager.Reset"]
    assert action["ResetType@Redfish.AllowableValues"] == ["GracefulRestart", "ForceRestart"]
    assert https(bmc, "POST", action["target"], {"ResetType": "ForceRestart"})[0] == 204
    assert "cold reset" in bmc.log()
    assert https(bmc, "POST", action["target"], {"ResetType": "GracefulRestart"})[0] == 204
    assert "warm reset" in bmc.log()
    assert https(bmc, "POST", action["target"], {"ResetType": "On"})[0] == 400
    assert https(bmc, "POST", action["target"], {})[0] == 400
    # The host's power is not the BMC's reset to touch.
    assert "Chassis Power is off" in bmc.ipmitool("chassis", "power", "status").stdout


def test_nic_patch_moves_the_bmc_as_lan_set_does(redfish_bmc: BmcProcess) -> None:  # noqa: F811
    bmc = redfish_bmc
    old, new = bmc.address, next_address()
    status, body = https(bmc, "PATCH", NIC, {"IPv4StaticAddresses": [
        {"Address": new, "SubnetMask": "255.0.0.0", "Gateway": "127.0.0.1"}],
        "VLAN": {"VLANEnable": True, "VLANId": 42}})
    assert status == 204, body
    assert _until(lambda: udp_roundtrip(new, 623, AUTH_CAP_PING, 0.3) is not None)
    shown = bmc.ipmitool("lan", "print", "1", address=new).stdout
    assert re.search(rf"IP Address\s+:\s+{re.escape(new)}$", shown, re.MULTILINE)
    assert re.search(r"Subnet Mask\s+:\s+255\.0\.0\.0$", shown, re.MULTILINE)
    assert re.search(r"IP Address Source\s+:\s+Static Address", shown)
    assert re.search(r"802\.1q VLAN ID\s+:\s+42$", shown, re.MULTILINE)
    assert "moved to" in bmc.log()
    assert _until(lambda: udp_roundtrip(old, 623, AUTH_CAP_PING, 0.2) is None)
    # Redfish moves with it: it answers at the new address, and no longer at the old one.
    moved = SimpleNamespace(address=new)
    assert _until(lambda: _answers_https(moved))
    assert https(moved, "GET", NIC)[1]["IPv4Addresses"][0]["Address"] == new
    assert not _answers_https(bmc)
    assert "Redfish moved to" in bmc.log()
    bmc = moved  # type: ignore[assignment]  # Redfish from here on; ipmitool is told the address
    # The other way: `lan set` over IPMI is what the EthernetInterface shows.
    redfish_bmc.ipmitool("lan", "set", "1", "vlan", "id", "off", address=new)
    status, nic = https(bmc, "GET", NIC)
    assert status == 200 and nic["IPv4Addresses"][0]["Address"] == new
    assert nic["VLAN"]["VLANEnable"] is False
    assert nic["DHCPv4"] == {"DHCPEnabled": False}
    # Bad values change nothing.
    status, body = https(bmc, "PATCH", NIC, {"IPv4StaticAddresses": [{"Address": "1.2.3"}]})
    assert status == 400
    status, body = https(bmc, "PATCH", NIC, {"MACAddress": "02:00:00:00:00:01"})
    assert status == 400 and body["error"]["@Message.ExtendedInfo"][0]["MessageId"].endswith(
        "PropertyNotWritable")
    assert https(bmc, "GET", NIC)[1]["IPv4Addresses"][0]["Address"] == new
