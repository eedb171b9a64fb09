"""The sans-IO Redfish SEL log services, Chassis sensors and Manager settings over a Bmc."""

from __future__ import annotations

from pathlib import Path

import pytest

from pybmc.config.bmc import parse_config
from pybmc.core.bmc import Bmc
from pybmc.model.lan import LanAddress
from pybmc.model.lan_params import LAN_PARAMETERS
from pybmc.redfish.log_services import THRESHOLD_CODES
from pybmc.redfish.service import RedfishService
from tests.unit.clock import FakeClock
from tests.unit.test_redfish_service import message_id, send

SEL = "/redfish/v1/Managers/BMC/LogServices/SEL"
NIC = "/redfish/v1/Managers/BMC/EthernetInterfaces/eth0"


@pytest.fixture
def bmc(tmp_path: Path) -> Bmc:
    config = parse_config({
        "bmc": {"name": "t", "address": "127.0.0.2", "state_dir": str(tmp_path)},
        "users": [{"name": "admin", "password": "secret"},
                  {"name": "op", "password": "oppw", "privilege": "operator"}],
    })
    return Bmc(config, clock=FakeClock())


@pytest.fixture
def service(bmc: Bmc) -> RedfishService:
    return RedfishService(bmc.parts, "t")


def test_threshold_entry_codes_follow_the_event_offsets() -> None:
    assert THRESHOLD_CODES[0] == "Lower Non-critical - going low"
    assert THRESHOLD_CODES[9] == "Upper Critical - going high"
    assert len(THRESHOLD_CODES) == 12


def test_threshold_event_decodes_to_a_critical_log_entry(service: RedfishService,
                                                         bmc: Bmc) -> None:
    cpu = bmc.parts.platform.find_sensor("CPU Temp")
    assert cpu is not None
    # Upper critical going high (offset 9), trigger reading and threshold in bytes 2 and 3.
    bmc.parts.platform.add_event(0x01, 0x01, bytes([0x59, 0xC0, 0xB0]),
                                 sensor_number=cpu.number)
    entries = send(service, "GET", f"{SEL}/Entries").body
    assert entries is not None
    entry = entries["Members"][-1]
    assert entry["EntryCode"] == "Upper Critical - going high"
    assert entry["Severity"] == "Critical" and entry["SensorType"] == "Temperature"
    assert entry["MessageId"] == "0x0159C0B0" and entry["SensorNumber"] == cpu.number
    assert entry["Message"] == "CPU Temp: upper critical going high (asserted)"


def test_clear_log_needs_an_operator_and_logs_the_clear(service: RedfishService,
                                                        bmc: Bmc) -> None:
    bmc.parts.platform.log_start()
    bmc.parts.platform.log_start()
    clear = f"{SEL}/Actions/LogService.ClearLog"
    assert send(service, "POST", clear, {}, user=("op", "oppw")).status == 204
    entries = bmc.parts.platform.sel.entries
    assert len(entries) == 1 and entries[0][10] == 0x10  # Event Logging Disabled
    assert send(service, "GET", f"{SEL}/Entries/7").status == 404


def test_sensor_reading_is_the_ipmi_reading(service: RedfishService, bmc: Bmc) -> None:
    platform = bmc.parts.platform
    platform.set_value("Inlet Temp", 40.0)  # beyond upper non-critical (38), below uc (42)
    sensor = send(service, "GET", "/redfish/v1/Chassis/t/Sensors/Inlet_Temp").body
    assert sensor is not None
    inlet = platform.find_sensor("Inlet Temp")
    assert inlet is not None and inlet.linear is not None
    raw = platform.read(inlet, 0.0).raw
    assert sensor["Reading"] == round(inlet.linear.to_value(raw), 3)
    assert sensor["Status"] == {"State": "Enabled", "Health": "Warning"}
    assert sensor["PhysicalContext"] == "Intake"
    assert send(service, "GET", "/redfish/v1/Chassis/t/Sensors/PS1_Status").status == 404


def test_nic_patch_sets_lan_parameters_as_one_change(service: RedfishService,
                                                     bmc: Bmc) -> None:
    heard: list[LanAddress] = []
    bmc.parts.lan.on_address_change(heard.append)
    answer = send(service, "PATCH", NIC, {"IPv4StaticAddresses": [
        {"Address": "127.0.0.9", "SubnetMask": "255.0.0.0", "Gateway": "127.0.0.1"}],
        "VLAN": {"VLANEnable": True, "VLANId": 300}})
    assert answer.status == 204
    assert heard == [LanAddress("127.0.0.9", "255.0.0.0", "127.0.0.1", "static")]
    assert LAN_PARAMETERS.get(bmc.parts.lan, 20) == bytes([300 & 0xFF, 0x80 | 300 >> 8])
    refused = send(service, "PATCH", NIC, {"VLAN": {"VLANEnable": True, "VLANId": 5000}})
    assert refused.status == 400 and message_id(refused).endswith("PropertyValueFormatError")
    assert send(service, "PATCH", NIC, {"DHCPv4": {"DHCPEnabled": True}}).status == 204
    assert heard[-1].source == "dhcp"
    # Set LAN parameters needs an administrator over IPMI, and so here.
    assert send(service, "PATCH", NIC, {"DHCPv4": {"DHCPEnabled": False}},
                user=("op", "oppw")).status == 403


def test_datetime_patch_is_set_sel_time(service: RedfishService, bmc: Bmc) -> None:
    answer = send(service, "PATCH", "/redfish/v1/Managers/BMC",
                  {"DateTime": "2030-01-02T03:04:05Z", "DateTimeLocalOffset": "-05:00"})
    assert answer.status == 204
    sel = bmc.parts.platform.sel
    assert abs(sel.now() - 1893553445) <= 2 and sel.utc_offset == -300
    manager = send(service, "GET", "/redfish/v1/Managers/BMC").body
    assert manager is not None and manager["DateTimeLocalOffset"] == "-05:00"
    assert manager["DateTime"].startswith("2030-01-01T22:04")
    naive = send(service, "PATCH", "/redfish/v1/Managers/BMC", {"DateTime": "2030-01-02"})
    assert naive.status == 400


def test_fan_and_power_supply_follow_their_sensors(service: RedfishService, bmc: Bmc) -> None:
    base = "/redfish/v1/Chassis/t"
    fan = send(service, "GET", f"{base}/ThermalSubsystem/Fans/FAN1").body
    assert fan is not None and fan["Status"] == {"State": "UnavailableOffline"}  # machine off
    bmc.parts.platform.powered = lambda: True  # the machine is on, as the backend would say
    bmc.parts.platform.set_value("FAN1", 5100.0)
    fan = send(service, "GET", f"{base}/ThermalSubsystem/Fans/FAN1").body
    assert fan is not None and abs(fan["SpeedPercent"]["SpeedRPM"] - 5100) < 200
    assert send(service, "GET", f"{base}/ThermalSubsystem/Fans/CPU_Temp").status == 404
    supply = f"{base}/PowerSubsystem/PowerSupplies/PS1_Status"
    assert send(service, "GET", supply).body["Status"]["State"] == "Enabled"  # type: ignore[index]
    bmc.parts.platform.set_states("PS1 Status", [])  # presence gone
    assert send(service, "GET", supply).body["Status"]["State"] == "Absent"  # type: ignore[index]
