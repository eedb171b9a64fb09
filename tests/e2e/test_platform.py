"""SDR, sensors, SEL and FRU through real ipmitool, FreeIPMI and pyghmi against `pybmc serve`."""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import BmcProcess

pytestmark = pytest.mark.skipif(not os.path.exists("/usr/bin/ipmitool"),
                                reason="ipmitool is not installed")

FRU = {
    "chassis": {"serial_number": "E2E-CHASSIS"},
    "board": {"manufacturer": "E2E Boards", "manufacture_date": "2023-06-15 08:30"},
    "product": {"manufacturer": "E2E Systems", "product_name": "Test Server",
                "serial_number": "E2E-SERIAL-1", "asset_tag": "ASSET-0042"},
}


@pytest.fixture
def platform_bmc(bmc_factory: Callable[..., BmcProcess]) -> BmcProcess:
    return bmc_factory(fru=FRU)


def sdr_rows(text: str) -> dict[str, list[str]]:
    """`ipmitool sdr list` / `sdr elist` / `sensor list`: name -> the other columns."""
    rows = {}
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.split("|")]
        if len(cells) >= 3:
            rows[cells[0]] = cells[1:]
    return rows


def fields(text: str) -> dict[str, str]:
    result = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            result.setdefault(key.strip(), value.strip())
    return result


def number_in(cell: str) -> float:
    match = re.search(r"-?\d+(\.\d+)?", cell)
    assert match, cell
    return float(match.group())


def wait_for(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.3)


def cache_dir(tmp_path: Path) -> str:
    path = tmp_path / "freeipmi-sdr"
    path.mkdir(mode=0o700, exist_ok=True)
    return f"--sdr-cache-directory={path}"


# ------------------------------------------------------------------------------- ipmitool
def test_ipmitool_sdr_list_elist_and_sensor_list(bmc: BmcProcess):
    sdr = sdr_rows(bmc.ipmitool("sdr", "list").stdout)
    assert {"CPU Temp", "Inlet Temp", "FAN1", "12V", "Pwr Consumption", "PS1 Status",
            "Intrusion", "Watchdog"} <= set(sdr)
    assert "degrees C" in sdr["CPU Temp"][0] and sdr["CPU Temp"][1] == "ok"
    assert sdr["PS1 Status"][1] == "ok"
    elist = sdr_rows(bmc.ipmitool("sdr", "elist").stdout)
    assert elist["PS1 Status"][-1] == "Presence detected"
    assert elist["CPU Temp"][0] == "01h" and elist["CPU Temp"][2] == "3.1"  # processor 1
    sensors = sdr_rows(bmc.ipmitool("sensor", "list").stdout)
    assert sensors["CPU Temp"][1] == "degrees C"
    assert [number_in(cell) for cell in sensors["CPU Temp"][6:9]] == [85, 95, 105]
    assert sensors["12V"][1] == "Volts"


def test_ipmitool_sensor_get(bmc: BmcProcess):
    output = bmc.ipmitool("sensor", "get", "Inlet Temp").stdout
    values = fields(output)
    assert values["Sensor Type (Threshold)"] == "Temperature"
    assert number_in(values["Sensor Reading"]) == pytest.approx(22, abs=2)
    assert values["Lower Critical"] == "5.000" and values["Upper Critical"] == "42.000"
    assert values["Status"] == "ok"


def test_get_sensor_reading_bytes_follow_the_sensor_kind(bmc: BmcProcess):
    """Threshold sensors answer 3 bytes (bits 7:6 of the comparison byte set), discrete 4."""
    def raw_reading(name: str) -> list[int]:
        number = int(fields(bmc.ipmitool("sensor", "get", name).stdout)["Sensor ID"]
                     .split("(")[1].rstrip(")"), 16)
        reply = bmc.ipmitool("raw", "0x04", "0x2d", hex(number)).stdout.split()
        return [int(byte, 16) for byte in reply]

    threshold = raw_reading("Inlet Temp")
    assert len(threshold) == 3 and threshold[2] & 0xC0 == 0xC0, threshold
    discrete = raw_reading("PS1 Status")
    assert len(discrete) == 4 and discrete[3] & 0x80, discrete


def test_readings_follow_the_power_state(bmc: BmcProcess):
    off = sdr_rows(bmc.ipmitool("sdr", "list").stdout)
    assert off["FAN1"][0] == "no reading" and off["12V"][0] == "no reading"
    bmc.ipmitool("chassis", "power", "on")
    on = sdr_rows(bmc.ipmitool("sdr", "list").stdout)
    assert "RPM" in on["FAN1"][0] and number_in(on["FAN1"][0]) >= 2500
    assert number_in(on["12V"][0]) == pytest.approx(12.0, abs=0.2)
    assert number_in(on["Pwr Consumption"][0]) > number_in(off["Pwr Consumption"][0]) + 40
    bmc.ipmitool("chassis", "power", "off")
    again = sdr_rows(bmc.ipmitool("sdr", "list").stdout)
    assert again["FAN1"][0] == "no reading"
    assert number_in(again["Pwr Consumption"][0]) < 30


def test_ipmitool_sel_shows_power_events_and_clears(bmc: BmcProcess):
    bmc.ipmitool("chassis", "power", "on")
    bmc.ipmitool("chassis", "power", "reset")
    bmc.ipmitool("chassis", "power", "off")
    info = fields(bmc.ipmitool("sel", "info").stdout)
    assert info["Version"].startswith("1.5") and int(info["Entries"]) >= 4
    assert "'Reserve'" in info["Supported Cmds"]
    listing = bmc.ipmitool("sel", "list").stdout
    assert "System ACPI Power State" in listing
    elist = bmc.ipmitool("sel", "elist").stdout
    assert "ACPI State | S0/G0: working | Asserted" in elist
    assert "System Boot | Initiated by hard reset | Asserted" in elist
    assert "Power Unit | Power off/down | Asserted" in elist
    assert "BMC Health | Management controller off-line | Deasserted" in elist
    assert "Clearing SEL" in bmc.ipmitool("sel", "clear").stdout
    after = bmc.ipmitool("sel", "elist").stdout.strip().splitlines()
    assert len(after) == 1 and "Log area reset/cleared" in after[0]


def test_ipmitool_sel_time_set_and_get(bmc: BmcProcess, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TZ", "UTC")
    monkeypatch.setenv("LC_ALL", "C")
    bmc.ipmitool("sel", "time", "set", "01/02/25 03:04:05")
    got = bmc.ipmitool("sel", "time", "get").stdout
    assert got.startswith("01/02/25 03:04:0"), got
    bmc.ipmitool("chassis", "power", "on")
    assert "01/02/25" in bmc.ipmitool("sel", "list", "last", "1").stdout  # stamped with it


def test_threshold_set_with_ipmitool_logs_an_event(bmc: BmcProcess):
    bmc.ipmitool("sensor", "thresh", "CPU Temp", "unc", "20")
    assert fields(bmc.ipmitool("sensor", "get", "CPU Temp").stdout)["Upper Non-Critical"] \
        == "20.000"

    def logged() -> bool:
        return "Upper Non-critical going high" in bmc.ipmitool("sel", "elist").stdout

    assert wait_for(logged), bmc.ipmitool("sel", "elist").stdout  # the 1 s tick finds it


def test_ipmitool_fru_print_shows_the_configured_values(platform_bmc: BmcProcess):
    output = platform_bmc.ipmitool("fru", "print").stdout
    builtin, _, psu = output.partition("PS1 FRU (ID 1)")
    values = fields(builtin)
    assert values["FRU Device Description"] == "Builtin FRU Device (ID 0)"
    assert values["Chassis Type"] == "Rack Mount Chassis"
    assert values["Chassis Serial"] == "E2E-CHASSIS"
    assert values["Board Mfg"] == "E2E Boards"
    assert values["Board Mfg Date"].startswith("Thu Jun 15 08:30:00 2023")
    assert values["Product Manufacturer"] == "E2E Systems"
    assert values["Product Name"] == "Test Server"
    assert values["Product Serial"] == "E2E-SERIAL-1"
    assert values["Product Asset Tag"] == "ASSET-0042"
    assert fields(psu)["Board Product"] == "Power Supply"


# ------------------------------------------------------------------------------- FreeIPMI
@pytest.mark.skipif(shutil.which("ipmi-sensors") is None, reason="FreeIPMI is not installed")
def test_freeipmi_sensors_sel_and_fru(platform_bmc: BmcProcess, tmp_path: Path):
    cache = cache_dir(tmp_path)
    sensors = platform_bmc.freeipmi("ipmi-sensors", cache).stdout
    rows = {cells[1]: cells for cells in (
        [cell.strip() for cell in line.split("|")] for line in sensors.splitlines()[1:])}
    assert rows["CPU Temp"][2] == "Temperature" and rows["CPU Temp"][4] == "C"
    assert rows["PS1 Status"][5] == "'Presence detected'"
    assert rows["FAN1"][3] == "N/A"  # off
    platform_bmc.ipmitool("chassis", "power", "on")
    sel = platform_bmc.freeipmi("ipmi-sel", cache).stdout
    assert "ACPI State" in sel and "S0/G0" in sel
    fru = fields(platform_bmc.freeipmi("ipmi-fru", cache).stdout)
    assert fru["FRU Product Serial Number"] == "E2E-SERIAL-1"
    assert fru["FRU Product Asset Tag"] == "ASSET-0042"
    assert fru["FRU Board Manufacturer"] == "E2E Boards"
    platform_bmc.freeipmi("ipmi-sel", cache, "--clear")
    assert "Log Area Reset/Cleared" in platform_bmc.freeipmi("ipmi-sel", cache).stdout


# ------------------------------------------------------------------------------- pyghmi
def test_pyghmi_sensor_data_inventory_health_and_events(platform_bmc: BmcProcess):
    platform_bmc.ipmitool("chassis", "power", "on")
    ipmi = platform_bmc.pyghmi()
    try:
        readings = {reading.name: reading for reading in ipmi.get_sensor_data()}
        assert readings["CPU Temp"].units == "°C" and readings["CPU Temp"].value > 15
        assert readings["FAN1"].units == "RPM" and readings["FAN1"].value >= 2500
        assert readings["Pwr Consumption"].type == "Power"
        assert readings["PS1 Status"].states == ["Present"]
        inventory = dict(ipmi.get_inventory())
        system = inventory["System"]
        assert system["Serial Number"] == "E2E-SERIAL-1"
        assert system["Product name"] == "Test Server"
        assert system["Board manufacture date"] == "2023-06-15T08:30"
        assert inventory["PS1 FRU"]["Product name"] == "550W Power Supply"
        health = ipmi.get_health()
        assert health["health"] == 0 and health["badreadings"] == []
        events = list(ipmi.get_event_log())
        assert any(event["component"] == "ACPI State" and event["event"] == "Online"
                   for event in events)
    finally:
        ipmi.ipmi_session.logout()


# ------------------------------------------------------------------------------- persistence
def test_sel_survives_a_restart(bmc: BmcProcess):
    bmc.ipmitool("chassis", "power", "on")
    before = bmc.ipmitool("sel", "elist").stdout.strip().splitlines()
    assert any("S0/G0: working" in line for line in before)
    bmc.restart()
    after = bmc.ipmitool("sel", "elist").stdout.strip().splitlines()
    assert after[:len(before)] == before
    assert "Management controller off-line | Deasserted" in after[len(before)]
