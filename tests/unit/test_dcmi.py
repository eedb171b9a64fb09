"""DCMI 1.5 (NetFn 0x2C, group 0xDC) with the byte sequences ipmitool, FreeIPMI and xCAT send,
on a fake clock."""

from __future__ import annotations

import struct
from typing import Any

import pytest

from pybmc.core.bmc import Bmc
from pybmc.model.dcmi import PowerMeter
from pybmc.wire.codes import LAN_CHANNEL, Privilege
from tests.unit.clock import FakeClock, run_timers
from tests.unit.conftest import ADMIN, MakeBmc


@pytest.fixture
def bmc_sections() -> dict[str, Any]:
    return {"users": [ADMIN]}


@pytest.fixture
def bmc_clock() -> FakeClock:
    return FakeClock()


def call(bmc: Bmc, request: str, privilege: Privilege = Privilege.ADMINISTRATOR) -> bytes:
    """`cmd data...` (hex) to NetFn 0x2C over the LAN; returns cc + data."""
    raw = bytes.fromhex(request)
    ctx = bmc.context(LAN_CHANNEL, privilege)
    return bmc.execute(ctx, 0x2C, raw[0], raw[1:])


def ok(bmc: Bmc, request: str, privilege: Privilege = Privilege.ADMINISTRATOR) -> bytes:
    reply = call(bmc, request, privilege)
    assert reply[:2] == b"\x00\xdc", reply.hex(" ")
    return reply[2:]


def wait(bmc: Bmc, seconds: float) -> None:
    assert isinstance(bmc.clock, FakeClock)
    run_timers(bmc, bmc.clock, seconds)


def power_on(bmc: Bmc) -> None:
    ctx = bmc.context(LAN_CHANNEL, Privilege.ADMINISTRATOR)
    assert bmc.execute(ctx, 0x00, 0x02, b"\x01") == b"\x00"


# ----------------------------------------------------------------- discovery
def test_capabilities_announce_dcmi_1_5_and_each_parameter(bmc: Bmc):
    assert ok(bmc, "01 dc 01") == bytes([0x01, 0x05, 0x02, 0x0F, 0x01, 0x39])
    mandatory = ok(bmc, "01 dc 02")
    assert mandatory[:3] == bytes([0x01, 0x05, 0x02])
    entries = struct.unpack("<H", mandatory[3:5])[0]
    assert entries == bmc.platform.sel.capacity
    assert mandatory[5] == 0x07  # GUID, host name (controller ID string), asset tag
    assert mandatory[6] == 0x03  # inlet and CPU temperatures; no baseboard sensor
    assert ok(bmc, "01 dc 03")[3:] == bytes([0x40, 0x00])  # power managed by the BMC (20h)
    assert ok(bmc, "01 dc 04")[3:] == bytes([0x01, 0xFF, 0xFF])
    assert ok(bmc, "01 dc 05")[3:] == bytes([3, 0x0A, 0x41, 0x45])  # 10 s, 1 min, 5 min
    assert call(bmc, "01 dc 06")[0] == 0x80  # parameter not supported


def test_other_groups_are_invalid_commands_and_lengths_are_checked(bmc: Bmc):
    assert call(bmc, "01 00 01") == b"\xc1"  # a PICMG request: no PICMG here
    assert call(bmc, "01 dc") == b"\xc7"
    assert call(bmc, "99 dc") == b"\xc1"


# ----------------------------------------------------------------- power
def test_power_reading_follows_the_machine(bmc: Bmc):
    off = ok(bmc, "02 dc 01 00 00")
    current, low, high, average, stamp, period, state = struct.unpack("<HHHHIIB", off)
    assert 6 <= current <= 10 and state == 0x40  # standby watts (8 +- noise); active
    assert stamp == bmc.platform.sel.now()
    power_on(bmc)
    wait(bmc, 120)  # the load settles (time constant 30 s)
    current, low, high, average, _, period, _ = struct.unpack(
        "<HHHHIIB", ok(bmc, "02 dc 01 00 00"))
    assert 150 <= current <= 165
    assert low <= average <= high and high >= 150 and low < 100  # from idle, after on
    assert 119_000 <= period <= 121_000  # every sample since power-on (one a second)
    ten = struct.unpack("<HHHHIIB", ok(bmc, "02 dc 02 0a 00"))  # 10 s rolling average
    assert ten[1] >= 150 and ten[5] == 10_000
    assert call(bmc, "02 dc 02 07 00")[0] == 0xCC  # 7 s is not an announced period
    assert call(bmc, "02 dc 03 00 00")[0] == 0xCC


def test_power_meter_keeps_a_bounded_window():
    meter = PowerMeter()
    for watts in range(1000):
        meter.sample(watts)
    stats = meter.statistics(999, 10_000)
    assert stats.period_seconds == 300 and stats.minimum == 700 and stats.maximum == 999


def test_power_limit_set_reads_back_with_80h_until_activated(make_bmc: MakeBmc):
    bmc = make_bmc()
    request = "04 dc 00 00 00 01 " + struct.pack("<HIHH", 120, 2000, 0, 5).hex(" ")
    assert ok(bmc, request) == b""
    reply = call(bmc, "03 dc 00 00")
    assert reply[0] == 0x80 and reply[1] == 0xDC  # no active limit, values still there
    action, watts, correction, _, sampling = struct.unpack("<BHIHH", reply[4:])
    assert (action, watts, correction, sampling) == (0x01, 120, 2000, 5)
    assert ok(bmc, "05 dc 01 00 00") == b""
    assert call(bmc, "03 dc 00 00")[0] == 0x00
    again = make_bmc(state_dir=bmc.config.state_dir)  # persisted
    assert call(again, "03 dc 00 00")[0] == 0x00
    assert call(again, "03 dc 00 00")[5:7] == struct.pack("<H", 120)


def test_power_limit_checks_its_ranges_and_privilege(bmc: Bmc):
    def set_limit(action: int, watts: int, ms: int, seconds: int) -> int:
        data = struct.pack("<BHIHH", action, watts, ms, 0, seconds).hex(" ")
        return call(bmc, "04 dc 00 00 00 " + data)[0]

    # 0 W ("no limit", what Get Power Limit reports until one is set) is accepted while no
    # limit is active, so that FreeIPMI's DCMI_Conf checkout commits back; it cannot be activated.
    assert set_limit(0x00, 0, 1000, 1) == 0x00
    assert call(bmc, "05 dc 01 00 00")[0] == 0x84
    assert set_limit(0x00, 100, 1000, 1) == 0x00
    assert call(bmc, "05 dc 01 00 00")[0] == 0x00
    assert set_limit(0x00, 0, 1000, 1) == 0x84  # not while a limit is active
    assert set_limit(0x00, 5000, 1000, 1) == 0x84  # above the power sensor's range
    assert set_limit(0x00, 100, 700_000, 1) == 0x85
    assert set_limit(0x00, 100, 1000, 0) == 0x89
    assert set_limit(0x05, 100, 1000, 1) == 0xCC
    data = struct.pack("<BHIHH", 0, 100, 1000, 0, 1).hex(" ")
    assert call(bmc, "04 dc 00 00 00 " + data, Privilege.USER)[0] == 0xD4


def test_an_active_limit_above_idle_throttles_without_an_exception(bmc: Bmc):
    ok(bmc, "04 dc 00 00 00 " + struct.pack("<BHIHH", 0x01, 120, 1000, 0, 1).hex(" "))
    ok(bmc, "05 dc 01 00 00")
    power_on(bmc)
    wait(bmc, 120)
    current = struct.unpack("<H", ok(bmc, "02 dc 01 00 00")[:2])[0]
    assert current <= 120  # capped by throttling
    assert bmc.power.is_on()  # the limit holds: no exception


def test_a_limit_below_idle_takes_the_exception_action(bmc: Bmc):
    ok(bmc, "04 dc 00 00 00 " + struct.pack("<BHIHH", 0x01, 50, 3000, 0, 1).hex(" "))
    ok(bmc, "05 dc 01 00 00")
    power_on(bmc)
    before = len(bmc.platform.sel.entries)
    wait(bmc, 2)
    assert bmc.power.is_on()  # still within the correction time
    wait(bmc, 3)
    assert not bmc.power.is_on()  # hard power off
    new = bmc.platform.sel.entries[before:]
    over = [e for e in new if e[13] == 0x59]  # upper critical going high, reading + limit
    sensor = bmc.platform.find_sensor("Pwr Consumption")
    assert sensor is not None and sensor.linear is not None
    assert len(over) == 1
    assert over[0][10:13] == bytes([sensor.spec.sensor_type, sensor.number, 0x01])
    assert over[0][15] == sensor.linear.to_raw(50)  # the limit


def test_log_only_action_keeps_the_machine_on(bmc: Bmc):
    ok(bmc, "04 dc 00 00 00 " + struct.pack("<BHIHH", 0x11, 50, 1000, 0, 1).hex(" "))
    ok(bmc, "05 dc 01 00 00")
    power_on(bmc)
    before = len(bmc.platform.sel.entries)
    wait(bmc, 5)
    assert bmc.power.is_on()
    assert sum(1 for e in bmc.platform.sel.entries[before:] if e[13] == 0x59) == 1


# ----------------------------------------------------------------- identity
def test_asset_tag_and_controller_id_write_in_chunks_and_persist(make_bmc: MakeBmc):
    bmc = make_bmc()
    assert ok(bmc, "09 dc 00 10")[0] == len(bmc.name)  # the default ID: the BMC's name
    tag = b"RACK-07-SLOT-12-NODE-CN1"
    assert ok(bmc, "08 dc 00 10 " + tag[:16].hex(" ")) == b"\x10"
    assert ok(bmc, "08 dc 10 08 " + tag[16:].hex(" ")) == bytes([len(tag)])
    assert ok(bmc, "06 dc 00 10") == bytes([len(tag)]) + tag[:16]
    assert ok(bmc, "06 dc 10 10") == bytes([len(tag)]) + tag[16:]
    name = b"cn1.cluster\x00"
    assert ok(bmc, "0a dc 00 0c " + name.hex(" ")) == bytes([12])  # offset + bytes written
    again = make_bmc(state_dir=bmc.config.state_dir)
    assert ok(again, "09 dc 00 10") == bytes([11]) + b"cn1.cluster"
    assert ok(again, "06 dc 00 10")[0] == len(tag)
    assert call(bmc, "06 dc 00 11")[0] == 0xCC  # at most 16 bytes a read
    assert call(bmc, "08 dc 00 10 41", Privilege.OPERATOR)[0] == 0xD4


def test_clearing_the_asset_tag_answers_offset_plus_bytes_written(make_bmc: MakeBmc):
    """FreeIPMI's DCMI_Conf commit of an empty Asset_Tag writes 16 NULs and moves its offset by
    the answer: 0 would repeat the write forever (DCMI 1.5: offset + bytes to write)."""
    bmc = make_bmc()
    ok(bmc, "08 dc 00 04 41 42 43 44")
    assert ok(bmc, "08 dc 00 10 " + " ".join(["00"] * 16)) == b"\x10"
    assert ok(bmc, "06 dc 00 10") == b"\x00"
    assert ok(bmc, "08 dc 10 10 " + " ".join(["00"] * 16)) == b"\x20"
    assert ok(bmc, "06 dc 00 10") == b"\x00"  # still empty, not 16 spaces
    assert ok(bmc, "0a dc 00 01 00") == b"\x01"  # an empty controller ID: just its NUL
    assert ok(bmc, "09 dc 00 10") == b"\x00"


# ----------------------------------------------------------------- temperatures
def test_sensor_info_and_temperatures_by_dcmi_and_ipmi_entity(bmc: Bmc):
    inlet = ok(bmc, "07 dc 01 40 00 00")
    assert inlet[:2] == b"\x01\x01"
    record_id = struct.unpack("<H", inlet[2:4])[0]
    assert record_id == bmc.platform.sensors.index(bmc.platform.find_sensor("Inlet Temp")) + 1
    assert ok(bmc, "07 dc 01 37 00 00") == inlet  # the IPMI air-inlet entity too
    assert ok(bmc, "07 dc 01 42 00 00") == b"\x00\x00"  # no baseboard sensor
    reading = ok(bmc, "10 dc 01 40 00 00")  # xCAT rvitals' inlet temperature read
    assert reading[:2] == b"\x01\x01" and 20 <= reading[2] <= 26 and reading[3] == 1
    cpu = ok(bmc, "10 dc 01 41 00 00")
    assert cpu[:2] == b"\x01\x01" and cpu[3] == 1 and 20 <= cpu[2] <= 30
    assert call(bmc, "10 dc 02 40 00 00")[0] == 0xCC  # only temperature sensors


def test_thermal_limit_reads_back_and_acts(bmc: Bmc):
    assert ok(bmc, "0c dc 40 00") == b"\x00\x00\x00\x00"
    ok(bmc, "0b dc 40 00 14 40 02 00")  # 20 C, hard power off, after 2 s
    assert ok(bmc, "0c dc 40 00") == bytes([20, 0x40, 2, 0])
    power_on(bmc)
    wait(bmc, 1.5)
    assert bmc.power.is_on()
    wait(bmc, 2)
    assert not bmc.power.is_on()  # inlet 22-24 C is over 20 C for 2 s
    assert call(bmc, "0c dc 41 00")[0] == 0xCC  # the inlet only


# ----------------------------------------------------------------- configuration
def test_configuration_parameters_read_back(bmc: Bmc):
    assert ok(bmc, "13 dc 02 00") == bytes([0x01, 0x05, 0x01, 0x01])
    assert ok(bmc, "13 dc 04 00")[3:] == struct.pack("<H", 120)
    assert ok(bmc, "12 dc 04 00 3c 00") == b""
    assert ok(bmc, "13 dc 04 00")[3:] == struct.pack("<H", 60)
    assert ok(bmc, "12 dc 01 00 01") == b""  # activate DHCP: accepted
    assert call(bmc, "13 dc 09 00")[0] == 0x80
    assert call(bmc, "12 dc 03 00 01 02")[0] == 0xC7
