"""Sensor/Event commands (NetFn 0x04): readings that follow the machine, thresholds and events,
power events in the SEL, Platform Event Message, event receiver and PEF parameters."""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pybmc.core.bmc import Bmc
from pybmc.model.platform.sensors import Reading
from pybmc.model.power import PowerAction
from pybmc.wire.codes import LAN_CHANNEL, Privilege
from tests.unit.conftest import ADMIN, MakeBmc

T0 = 1000.0  # monotonic seconds: the tests' time line


@pytest.fixture
def bmc_sections() -> dict[str, Any]:
    return {"users": [ADMIN], "power": {"soft_off_delay": 0, "cycle_interval": 0}}


@pytest.fixture
def prepare_bmc() -> Callable[[Bmc], None]:
    def pin_clock(bmc: Bmc) -> None:
        bmc.platform.clock = lambda: T0
    return pin_clock


def call(bmc: Bmc, netfn: int, cmd: int, data: bytes = b"", now: float = T0,
         privilege: Privilege = Privilege.ADMINISTRATOR, channel: int = LAN_CHANNEL,
         ) -> tuple[int, bytes]:
    response = bmc.execute(bmc.context(channel, privilege, now=now), netfn, cmd, data)
    return response[0], response[1:]


def ok(bmc: Bmc, netfn: int, cmd: int, data: bytes = b"", now: float = T0,
       privilege: Privilege = Privilege.ADMINISTRATOR, channel: int = LAN_CHANNEL) -> bytes:
    cc, payload = call(bmc, netfn, cmd, data, now, privilege, channel)
    assert cc == 0, f"{netfn:#x}/{cmd:#x} {data.hex()} -> cc {cc:#x}"
    return payload


def number(bmc: Bmc, name: str) -> int:
    sensor = bmc.platform.find_sensor(name)
    assert sensor is not None
    return sensor.number


def reading(bmc: Bmc, name: str, now: float) -> bytes:
    return ok(bmc, 0x04, 0x2D, bytes([number(bmc, name)]), now, Privilege.USER)


def value(bmc: Bmc, name: str, now: float) -> float | None:
    data = reading(bmc, name, now)
    if data[1] & 0x20:
        return None
    linear = bmc.platform.find_sensor(name).linear
    return linear.to_value(data[0])


def power(bmc: Bmc, action: PowerAction, at: float) -> None:
    bmc.platform.clock = lambda: at
    bmc.power.request(action)


def sel_tail(bmc: Bmc, count: int) -> list[bytes]:
    return [entry[10:] for entry in bmc.platform.sel.entries[-count:]]


# ------------------------------------------------------------------------------- readings
def test_readings_while_off_are_at_rest_or_unavailable(bmc: Bmc):
    assert not bmc.power.is_on()
    assert value(bmc, "CPU Temp", T0) == pytest.approx(25.0, abs=1.0)
    assert value(bmc, "Inlet Temp", T0) == pytest.approx(22.0, abs=1.0)
    assert value(bmc, "Pwr Consumption", T0) == pytest.approx(8.0, abs=8.0)
    for name in ("FAN1", "FAN2", "12V", "5VCC", "3.3VCC"):
        assert reading(bmc, name, T0) == bytes([0x00, 0xE0, 0xC0]), name


def test_readings_rise_while_on_and_fall_when_off(bmc: Bmc):
    cold = value(bmc, "CPU Temp", T0)
    power(bmc, PowerAction.ON, T0)
    just_on = {name: value(bmc, name, T0 + 1) for name in ("CPU Temp", "FAN1", "Pwr Consumption")}
    assert just_on["FAN1"] == pytest.approx(3000, abs=300)  # fans spin up at idle speed
    assert just_on["Pwr Consumption"] == pytest.approx(90, abs=12)
    warm = {name: value(bmc, name, T0 + 300) for name in ("CPU Temp", "FAN1", "Pwr Consumption")}
    assert warm["CPU Temp"] == pytest.approx(48.0, abs=1.5)
    assert warm["CPU Temp"] > just_on["CPU Temp"] >= cold - 1
    assert warm["FAN1"] == pytest.approx(5400, abs=300)  # fans follow the temperature
    assert warm["Pwr Consumption"] == pytest.approx(160, abs=12)
    assert value(bmc, "12V", T0 + 300) == pytest.approx(12.0, abs=0.15)
    assert value(bmc, "3.3VCC", T0 + 300) == pytest.approx(3.3, abs=0.05)

    power(bmc, PowerAction.OFF, T0 + 300)
    assert value(bmc, "FAN1", T0 + 301) is None
    assert value(bmc, "12V", T0 + 301) is None
    assert value(bmc, "Pwr Consumption", T0 + 301) == pytest.approx(8, abs=8)
    cooling = value(bmc, "CPU Temp", T0 + 320)
    assert warm["CPU Temp"] - 1 > cooling > 30
    assert value(bmc, "CPU Temp", T0 + 900) == pytest.approx(25.0, abs=1.0)


def test_noise_repeats_within_a_second_and_varies_across_seconds(bmc: Bmc):
    power(bmc, PowerAction.ON, T0)
    later = T0 + 1000
    assert reading(bmc, "FAN1", later) == reading(bmc, "FAN1", later + 0.5)
    raws = {reading(bmc, "FAN1", later + second)[0] for second in range(30)}
    assert len(raws) > 1
    assert all(abs(raw - 54) <= 2 for raw in raws)  # 5400 RPM +- noise, 100 RPM steps


def test_discrete_readings_follow_power(bmc: Bmc):
    assert reading(bmc, "PS1 Status", T0) == bytes([0x00, 0xC0, 0x01, 0x80])  # presence
    assert reading(bmc, "Intrusion", T0) == bytes([0x00, 0xC0, 0x00, 0x80])
    assert reading(bmc, "ACPI State", T0) == bytes([0x00, 0xC0, 0x20, 0x80])  # S5/G2
    assert reading(bmc, "Power Unit", T0) == bytes([0x00, 0xC0, 0x01, 0x80])  # off/down
    power(bmc, PowerAction.ON, T0)
    assert reading(bmc, "ACPI State", T0) == bytes([0x00, 0xC0, 0x01, 0x80])  # S0/G0
    assert reading(bmc, "Power Unit", T0) == bytes([0x00, 0xC0, 0x00, 0x80])


def test_unknown_sensor_and_illegal_requests(bmc: Bmc):
    assert call(bmc, 0x04, 0x2D, b"\x99")[0] == 0xCB
    ps1 = bytes([number(bmc, "PS1 Status")])
    assert call(bmc, 0x04, 0x27, ps1)[0] == 0xCD  # a discrete sensor has no thresholds
    assert call(bmc, 0x04, 0x23, ps1 + b"\x00")[0] == 0xCD
    assert call(bmc, 0x04, 0x2D, b"")[0] == 0xC7


# ------------------------------------------------------------------------------- sensor data
def test_thresholds_hysteresis_factors_enables_and_type(bmc: Bmc):
    cpu = bytes([number(bmc, "CPU Temp")])
    assert ok(bmc, 0x04, 0x27, cpu) == bytes([0x38, 0, 0, 0, 0xAA, 0xBE, 0xD2])
    inlet = bytes([number(bmc, "Inlet Temp")])
    assert ok(bmc, 0x04, 0x27, inlet) == bytes([0x1B, 20, 10, 0, 76, 84, 0])
    assert ok(bmc, 0x04, 0x25, cpu + b"\xff") == b"\x02\x02"
    assert ok(bmc, 0x04, 0x23, cpu + b"\x40") == bytes([0xFF, 0x32, 0x00, 0x00, 0x00, 0x00,
                                                        0xE0])
    assert ok(bmc, 0x04, 0x29, cpu) == bytes([0xC0, 0x80, 0x0A, 0x80, 0x0A])
    assert ok(bmc, 0x04, 0x29, bytes([number(bmc, "PS1 Status")])) == bytes(
        [0xC0, 0x0F, 0x00, 0x0F, 0x00])
    assert ok(bmc, 0x04, 0x2F, cpu) == b"\x01\x01"
    assert ok(bmc, 0x04, 0x2F, bytes([number(bmc, "Watchdog")])) == b"\x23\x6f"


def test_set_thresholds_and_hysteresis_read_back_and_persist(tmp_path: Path, make_bmc: MakeBmc):
    bmc = make_bmc(tmp_path)
    cpu = bytes([number(bmc, "CPU Temp")])
    request = cpu + bytes([0x08, 0, 0, 0, 0x90, 0, 0])  # unc only: 72 degC
    assert call(bmc, 0x04, 0x26, request, privilege=Privilege.USER)[0] == 0xD4
    ok(bmc, 0x04, 0x26, request, privilege=Privilege.OPERATOR)
    assert ok(bmc, 0x04, 0x27, cpu) == bytes([0x38, 0, 0, 0, 0x90, 0xBE, 0xD2])
    assert call(bmc, 0x04, 0x26, cpu + bytes([0x01, 5, 0, 0, 0, 0, 0]))[0] == 0xCC  # no lnc
    ok(bmc, 0x04, 0x24, cpu + bytes([0xFF, 4, 6]))
    record = bmc.platform.sdr.records[0]
    assert record[36:42] == bytes([0xD2, 0xBE, 0x90, 0, 0, 0])  # the SDR shows it too
    assert record[42:44] == bytes([4, 6])
    again = make_bmc(tmp_path)
    assert again.platform.sdr.records[0] == record
    assert again.platform.sdr.info()[5:9] != make_bmc(tmp_path / "fresh").platform.sdr.info()[5:9]
    assert ok(again, 0x04, 0x27, cpu)[4] == 0x90
    assert ok(again, 0x04, 0x25, cpu + b"\xff") == b"\x04\x06"


# ------------------------------------------------------------------------------- threshold events
def test_threshold_crossing_logs_assertion_then_deassertion(bmc: Bmc):
    power(bmc, PowerAction.ON, T0)
    cpu = number(bmc, "CPU Temp")
    warm = reading(bmc, "CPU Temp", T0 + 600)
    assert warm[2] == 0xC0  # reserved bits 7:6 read as 1
    before = len(bmc.platform.sel.entries)
    ok(bmc, 0x04, 0x26, bytes([cpu, 0x08, 0, 0, 0, 80, 0, 0]))  # unc 40 degC, below 48
    hot = reading(bmc, "CPU Temp", T0 + 601)
    assert hot[2] == 0xC8  # at or above upper non-critical
    entries = bmc.platform.sel.entries[before:]
    assert len(entries) == 1
    event = entries[0]
    assert event[7:9] == b"\x20\x00" and event[9] == 0x04
    assert event[10:13] == bytes([0x01, cpu, 0x01])  # temperature, sensor, threshold asserted
    assert event[13] == 0x57 and event[14] == hot[0] and event[15] == 80  # unc going high
    reading(bmc, "CPU Temp", T0 + 602)
    assert len(bmc.platform.sel.entries) == before + 1  # no repeat while it stays hot
    ok(bmc, 0x04, 0x26, bytes([cpu, 0x08, 0, 0, 0, 0xA0, 0, 0]))  # back to 80 degC
    reading(bmc, "CPU Temp", T0 + 603)
    last = bmc.platform.sel.entries[-1]
    assert last[12] == 0x81 and last[13] == 0x57  # deasserted


def test_lower_threshold_crossing_when_a_value_drops(bmc: Bmc):
    power(bmc, PowerAction.ON, T0)
    reading(bmc, "FAN1", T0 + 600)
    bmc.platform.set_value("FAN1", 700.0)  # below lnc 900, above lc 600
    data = reading(bmc, "FAN1", T0 + 601)
    assert data[2] == 0xC1  # reserved bits 7:6 set; at or below lower non-critical
    assert sel_tail(bmc, 1) == [bytes([0x04, number(bmc, "FAN1"), 0x01, 0x50, 7, 9])]
    bmc.platform.set_value("FAN1", None)
    reading(bmc, "FAN1", T0 + 602)
    assert sel_tail(bmc, 1)[0][2] == 0x81


def test_tick_logs_crossings_without_a_client(bmc: Bmc):
    power(bmc, PowerAction.ON, T0)
    bmc.platform.set_value("12V", 13.5)  # above uc 13.2
    bmc.handle_timer(T0 + 5)
    twelve = number(bmc, "12V")
    offsets = [entry[3] & 0x0F for entry in sel_tail(bmc, 2)]
    assert offsets == [0x07, 0x09]  # unc going high, then uc going high
    assert all(entry[:2] == bytes([0x02, twelve]) for entry in sel_tail(bmc, 2))


def test_no_events_while_system_event_logging_is_disabled(bmc: Bmc):
    bmc.state.global_enables &= ~0x08
    count = len(bmc.platform.sel.entries)
    power(bmc, PowerAction.ON, T0)
    assert len(bmc.platform.sel.entries) == count


def test_sensor_event_status_and_rearm(bmc: Bmc):
    power(bmc, PowerAction.ON, T0)
    cpu = number(bmc, "CPU Temp")
    bmc.platform.set_value("CPU Temp", 100.0)  # beyond unc 85 and uc 95
    status = ok(bmc, 0x04, 0x2B, bytes([cpu]), T0 + 1)
    assert status == bytes([0xC0]) + struct.pack("<HH", 0x0280, 0)
    count = len(bmc.platform.sel.entries)
    ok(bmc, 0x04, 0x2A, bytes([cpu, 0x00]))
    reading(bmc, "CPU Temp", T0 + 2)
    assert len(bmc.platform.sel.entries) == count + 2  # re-armed: asserted again


# ------------------------------------------------------------------------------- power events
def test_power_events_are_logged(bmc: Bmc):
    power(bmc, PowerAction.ON, T0)
    assert sel_tail(bmc, 1) == [bytes([0x22, number(bmc, "ACPI State"), 0x6F, 0x00, 0xFF,
                                       0xFF])]
    power(bmc, PowerAction.RESET, T0 + 1)
    assert sel_tail(bmc, 1) == [bytes([0x1D, number(bmc, "System Boot"), 0x6F, 0x01, 0xFF,
                                       0xFF])]
    power(bmc, PowerAction.SOFT_OFF, T0 + 2)
    assert sel_tail(bmc, 1)[0][:4] == bytes([0x22, number(bmc, "ACPI State"), 0x6F, 0x05])
    power(bmc, PowerAction.ON, T0 + 3)
    power(bmc, PowerAction.OFF, T0 + 4)
    assert sel_tail(bmc, 1)[0][:4] == bytes([0x09, number(bmc, "Power Unit"), 0x6F, 0x00])
    count = len(bmc.platform.sel.entries)
    power(bmc, PowerAction.CYCLE, T0 + 5)  # while off: powers on
    assert len(bmc.platform.sel.entries) == count + 1  # S0 only; the boot is the power-on
    power(bmc, PowerAction.CYCLE, T0 + 6)
    assert [entry[3] for entry in sel_tail(bmc, 2)] == [0x01, 0x00]  # power cycle, then S0
    assert sel_tail(bmc, 2)[0][0] == 0x09


def test_watchdog_expiry_event_from_the_watchdog(bmc: Bmc):
    record_id = bmc.platform.add_event(0x23, 0x6F, bytes([0xC1, 0x04, 0xFF]))
    assert record_id is not None
    watchdog = number(bmc, "Watchdog")
    assert sel_tail(bmc, 1) == [bytes([0x23, watchdog, 0x6F, 0xC1, 0x04, 0xFF])]
    assert reading(bmc, "Watchdog", T0) == bytes([0x00, 0xC0, 0x02, 0x80])  # hard reset


# ------------------------------------------------------------------------------- event messages
def test_platform_event_message_in_band_and_over_lan(bmc: Bmc):
    event = bytes([0x04, 0x01, 0x30, 0x01, 0x59, 0x60, 0x55])
    in_band = bmc.execute_in_band(0x04, 0x02, bytes([0x41]) + event)
    assert in_band == b"\x00"
    assert bmc.platform.sel.entries[-1][7:] == bytes([0x41, 0x00]) + event
    ok(bmc, 0x04, 0x02, event, privilege=Privilege.OPERATOR)
    assert bmc.platform.sel.entries[-1][7:] == bytes([0x81, 0x10]) + event
    assert call(bmc, 0x04, 0x02, event, privilege=Privilege.USER)[0] == 0xD4
    assert call(bmc, 0x04, 0x02, event[:6])[0] == 0xC7


def test_event_receiver_reads_back_and_persists(tmp_path: Path, make_bmc: MakeBmc):
    bmc = make_bmc(tmp_path)
    assert ok(bmc, 0x04, 0x01, privilege=Privilege.USER) == b"\x20\x00"
    assert call(bmc, 0x04, 0x00, b"\x22\x01", privilege=Privilege.OPERATOR)[0] == 0xD4
    ok(bmc, 0x04, 0x00, b"\x22\x01")
    assert ok(make_bmc(tmp_path), 0x04, 0x01) == b"\x22\x01"


# ------------------------------------------------------------------------------- PEF
def test_pef_capabilities_and_xcat_alert_policy(tmp_path: Path, make_bmc: MakeBmc):
    bmc = make_bmc(tmp_path)
    assert ok(bmc, 0x04, 0x10, privilege=Privilege.USER) == bytes([0x51, 0x01, 0x08])
    assert ok(bmc, 0x04, 0x13, b"\x09\x01\x00") == bytes([0x11, 0x01, 0x00, 0x00, 0x00])
    ok(bmc, 0x04, 0x12, bytes([0x09, 0x01, 0x18, 0x11, 0x00]))  # rspconfig alert=on
    reply = ok(make_bmc(tmp_path), 0x04, 0x13, b"\x09\x01\x00")
    assert reply == bytes([0x11, 0x01, 0x18, 0x11, 0x00])
    assert reply[2] & 0x08  # what xCAT reads as "enabled"


def test_pef_parameter_errors_and_views(bmc: Bmc):
    assert ok(bmc, 0x04, 0x13, b"\x85\x00\x00") == b"\x11"  # revision only
    assert ok(bmc, 0x04, 0x13, b"\x05\x00\x00") == b"\x11\x08"
    assert call(bmc, 0x04, 0x12, b"\x05\x04")[0] == 0x82  # read-only
    assert call(bmc, 0x04, 0x12, b"\x40\x00")[0] == 0x80  # not supported
    assert call(bmc, 0x04, 0x13, b"\x09\x09\x00")[0] == 0xC9  # no policy entry 9
    assert call(bmc, 0x04, 0x12, b"\x09\x01\x18")[0] == 0xC7
    filter_entry = bytes([0x03, 0xC0, 0x01, 0x01, 0x10, *bytes(16)])
    ok(bmc, 0x04, 0x12, bytes([0x06]) + filter_entry)
    assert ok(bmc, 0x04, 0x13, b"\x07\x03\x00") == bytes([0x11, 0x03, 0xC0])  # data 1 view
    ok(bmc, 0x04, 0x12, b"\x07\x03\x80")
    assert ok(bmc, 0x04, 0x13, b"\x06\x03\x00")[2:4] == bytes([0x80, 0x01])
    ok(bmc, 0x04, 0x12, b"\x00\x01")
    assert call(bmc, 0x04, 0x12, b"\x00\x01")[0] == 0x81  # set already in progress
    ok(bmc, 0x04, 0x12, b"\x00\x00")
    assert ok(bmc, 0x04, 0x13, b"\x00\x00\x00") == b"\x11\x00"
    assert call(bmc, 0x04, 0x12, b"\x09\x01\x18\x11\x00", privilege=Privilege.OPERATOR)[0] \
        == 0xD4


def test_last_processed_event_id(bmc: Bmc):
    reply = ok(bmc, 0x04, 0x15)
    assert len(reply) == 10
    assert reply[4:6] == b"\x01\x00"  # the last SEL record
    ok(bmc, 0x04, 0x14, b"\x00\x01\x00")
    assert ok(bmc, 0x04, 0x15)[6:8] == b"\x01\x00"


def test_reading_encoding():
    assert Reading(raw=0x60, states=0x08, threshold=True).encode() == bytes([0x60, 0xC0, 0xC8])
    assert Reading(available=False, threshold=True).encode() == bytes([0x00, 0xE0, 0xC0])
    assert Reading(states=0x0102).encode() == bytes([0x00, 0xC0, 0x02, 0x81])
    assert Reading(available=False).encode() == bytes([0x00, 0xE0, 0x00, 0x80])
