"""Sensor event enables, Set Sensor Reading/Type, ACPI power state, Partial Add SEL Entry,
interface capabilities, the firmware firewall and Master Write-Read, with byte vectors."""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pybmc.core.bmc import Bmc
from pybmc.model.power import PowerAction
from pybmc.wire.codes import Privilege
from tests.unit.conftest import ADMIN, MakeBmc
from tests.unit.test_platform_sensors import T0, call, number, ok, power, reading

APP, SENSOR, STORAGE = 0x06, 0x04, 0x0A


@pytest.fixture
def bmc_sections() -> dict[str, Any]:
    return {"users": [ADMIN], "power": {"soft_off_delay": 0, "cycle_interval": 0}}


@pytest.fixture
def prepare_bmc() -> Callable[[Bmc], None]:
    def pin_clock(bmc: Bmc) -> None:
        bmc.platform.clock = lambda: T0
    return pin_clock


# ------------------------------------------------------------------------------- sensor enables
def test_set_sensor_event_enable_reads_back_and_persists(tmp_path: Path, make_bmc: MakeBmc):
    bmc = make_bmc(tmp_path)
    cpu = bytes([number(bmc, "CPU Temp")])
    assert ok(bmc, SENSOR, 0x29, cpu) == bytes([0xC0, 0x80, 0x0A, 0x80, 0x0A])
    assert call(bmc, SENSOR, 0x28, cpu + b"\xc0", privilege=Privilege.USER)[0] == 0xD4
    ok(bmc, SENSOR, 0x28, cpu + b"\xe0" + struct.pack("<HH", 0x0800, 0x0080))  # disable some
    assert ok(bmc, SENSOR, 0x29, cpu) == bytes([0xC0, 0x80, 0x02, 0x00, 0x0A])
    ok(bmc, SENSOR, 0x28, cpu + b"\x40")  # event messages off, masks unchanged
    assert ok(bmc, SENSOR, 0x29, cpu) == bytes([0x40, 0x80, 0x02, 0x00, 0x0A])
    assert reading(bmc, "CPU Temp", T0)[1] & 0xC0 == 0x40  # Get Sensor Reading shows it
    ok(bmc, SENSOR, 0x28, cpu + b"\xd0" + struct.pack("<HH", 0xFFFF, 0x0080))  # enable all
    # Only the events the sensor can generate become enabled.
    assert ok(bmc, SENSOR, 0x29, cpu) == bytes([0xC0, 0x80, 0x0A, 0x80, 0x0A])
    ok(bmc, SENSOR, 0x28, cpu + b"\xa0" + struct.pack("<H", 0x0080))
    again = make_bmc(tmp_path)
    assert ok(again, SENSOR, 0x29, cpu) == bytes([0x80, 0x00, 0x0A, 0x80, 0x0A])


def test_set_sensor_event_enable_bad_requests(bmc: Bmc):
    cpu = bytes([number(bmc, "CPU Temp")])
    assert call(bmc, SENSOR, 0x28, cpu + b"\xf0")[0] == 0xCC  # action 11b is reserved
    assert call(bmc, SENSOR, 0x28, cpu + b"\xc1")[0] == 0xCC  # reserved bits
    assert call(bmc, SENSOR, 0x28, b"\xee\xc0")[0] == 0xCB  # no such sensor
    assert call(bmc, SENSOR, 0x28, cpu)[0] == 0xC7


def test_disabled_assertion_is_not_logged(bmc: Bmc):
    power(bmc, PowerAction.ON, T0)
    cpu = number(bmc, "CPU Temp")
    reading(bmc, "CPU Temp", T0 + 600)
    ok(bmc, SENSOR, 0x28, bytes([cpu, 0xE0]) + struct.pack("<H", 0x0080))  # unc going high
    before = len(bmc.platform.sel.entries)
    ok(bmc, SENSOR, 0x26, bytes([cpu, 0x08, 0, 0, 0, 80, 0, 0]))
    assert reading(bmc, "CPU Temp", T0 + 601)[2] == 0xC8  # asserted all the same
    assert len(bmc.platform.sel.entries) == before


def test_set_sensor_reading_and_event_status(bmc: Bmc):
    power(bmc, PowerAction.ON, T0)
    fan = number(bmc, "FAN1")
    ok(bmc, SENSOR, 0x30, bytes([fan, 0x01, 0x20]))  # write the reading only
    assert reading(bmc, "FAN1", T0 + 5)[0] == 0x20
    status = number(bmc, "PS1 Status")
    ok(bmc, SENSOR, 0x30, bytes([status, 0x30, 0, 0x02, 0x00]))  # assertion bits exactly
    assert ok(bmc, SENSOR, 0x2B, bytes([status]))[1:3] == b"\x02\x00"
    ok(bmc, SENSOR, 0x30, bytes([status, 0x10, 0, 0x01, 0x00]))  # set bit 0 as well
    assert ok(bmc, SENSOR, 0x2B, bytes([status]))[1:3] == b"\x03\x00"
    ok(bmc, SENSOR, 0x30, bytes([status, 0x20, 0, 0x02, 0x00]))  # clear bit 1
    assert ok(bmc, SENSOR, 0x2B, bytes([status]))[1:3] == b"\x01\x00"
    assert call(bmc, SENSOR, 0x30, bytes([status, 0x04, 0, 0, 0, 1, 0]))[0] == 0x80  # deassert
    assert call(bmc, SENSOR, 0x30, bytes([status, 0x01, 5]))[0] == 0x80  # no analog reading
    cpu = number(bmc, "CPU Temp")
    assert call(bmc, SENSOR, 0x30, bytes([cpu, 0x30, 0, 0x00, 0x01]))[0] == 0x80  # no such event
    acpi = number(bmc, "ACPI State")  # its states are the machine's: not settable
    assert call(bmc, SENSOR, 0x30, bytes([acpi, 0x30, 0, 0x01, 0x00]))[0] == 0x80


def test_set_sensor_type_only_confirms(bmc: Bmc):
    cpu = bytes([number(bmc, "CPU Temp")])
    assert ok(bmc, SENSOR, 0x2E, cpu + b"\x01\x01") == b""
    assert call(bmc, SENSOR, 0x2E, cpu + b"\x02\x01")[0] == 0xCD


# ------------------------------------------------------------------------------- ACPI
def test_acpi_power_state_follows_power_until_set(bmc: Bmc):
    assert ok(bmc, APP, 0x07, privilege=Privilege.USER) == b"\x05\x03"  # S5/G2, D3: off
    power(bmc, PowerAction.ON, T0)
    assert ok(bmc, APP, 0x07) == b"\x00\x00"  # S0/G0, D0
    ok(bmc, APP, 0x06, b"\x81\x7f")  # system software: S1, device unchanged
    assert ok(bmc, APP, 0x07) == b"\x01\x00"
    ok(bmc, APP, 0x06, b"\x00\x83")  # device D3 only
    assert ok(bmc, APP, 0x07) == b"\x01\x03"
    power(bmc, PowerAction.OFF, T0 + 1)
    assert ok(bmc, APP, 0x07) == b"\x05\x03"  # the power changed: the set state is over
    assert call(bmc, APP, 0x06, b"\x8b\x00")[0] == 0xCC  # 0Bh is reserved
    assert call(bmc, APP, 0x06, b"\x00\x84")[0] == 0xCC
    assert call(bmc, APP, 0x06, b"\x81\x00", privilege=Privilege.OPERATOR)[0] == 0xD4


def test_acpi_power_state_persists(tmp_path: Path, make_bmc: MakeBmc):
    ok(make_bmc(tmp_path), APP, 0x06, b"\x84\x00")  # S4 while off
    assert ok(make_bmc(tmp_path), APP, 0x07) == b"\x04\x03"


# ------------------------------------------------------------------------------- SEL
def test_partial_add_sel_entry(bmc: Bmc):
    record = bytes.fromhex("0000" "02" "00000000" "4100" "04" "01" "30" "01" "57" "ff" "ff")
    reservation = ok(bmc, STORAGE, 0x42)
    start = reservation + b"\x00\x00" + b"\x00\x00"
    assert ok(bmc, STORAGE, 0x45, start + record[:8]) == b"\x00\x00"
    middle = reservation + b"\x00\x00" + b"\x08\x00"
    assert ok(bmc, STORAGE, 0x45, middle + record[8:12]) == b"\x00\x00"
    last = reservation + b"\x00\x00" + b"\x0c\x01"
    record_id = ok(bmc, STORAGE, 0x45, last + record[12:])
    entry = bmc.platform.sel.entries[-1]
    assert struct.unpack("<H", record_id)[0] == struct.unpack("<H", entry[:2])[0]
    assert entry[2] == 0x02 and entry[7:] == record[7:]
    assert ok(bmc, STORAGE, 0x40)[13] & 0x04  # Get SEL Info: partial add supported


def test_partial_add_sel_entry_errors(bmc: Bmc):
    reservation = ok(bmc, STORAGE, 0x42)
    assert call(bmc, STORAGE, 0x45, b"\x99\x99\x00\x00\x00\x01" + bytes(16))[0] == 0xC5
    assert call(bmc, STORAGE, 0x45, reservation + b"\x00\x00\x00\x02" + bytes(4))[0] == 0xCC
    assert call(bmc, STORAGE, 0x45, reservation + b"\x05\x00\x00\x01" + bytes(16))[0] == 0xCC
    ok(bmc, STORAGE, 0x45, reservation + b"\x00\x00\x00\x00" + bytes(4))
    assert call(bmc, STORAGE, 0x45, reservation + b"\x00\x00\x09\x00" + bytes(4))[0] == 0xC9
    assert call(bmc, STORAGE, 0x45, reservation + b"\x00\x00\x04\x01" + bytes(4))[0] == 0xC7
    before = len(bmc.platform.sel.entries)
    assert call(bmc, STORAGE, 0x45, reservation + b"\x00\x00\x00\x00" + bytes(17))[0] == 0xC7
    assert len(bmc.platform.sel.entries) == before


# ------------------------------------------------------------------------------- interfaces
def test_system_interface_capabilities_kcs(bmc: Bmc):
    assert ok(bmc, APP, 0x57, b"\x01") == b"\x00\x00\xff"
    assert call(bmc, APP, 0x57, b"\x00")[0] == 0xCC  # no SSIF
    assert call(bmc, APP, 0x57, b"\x02")[0] == 0xCC  # no SMIC
    assert call(bmc, APP, 0x36)[0] == 0xC1  # no BT either


def test_bt_interface_capabilities(make_bmc: MakeBmc, tmp_path: Path):
    bmc = make_bmc(tmp_path, qemu={"in_band_interface": "bt"})
    assert ok(bmc, APP, 0x36) == bytes([1, 0xFF, 0xFF, 5, 2])
    assert call(bmc, APP, 0x57, b"\x01")[0] == 0xCC


# ------------------------------------------------------------------------------- firewall
def test_get_netfn_support_lists_the_served_netfns(bmc: Bmc):
    reply = ok(bmc, APP, 0x09, b"\x0e", privilege=Privilege.USER)
    assert reply[0] == 0x01 and len(reply) == 17
    bitmap = int.from_bytes(reply[1:], "little")
    pairs = {pair for pair in range(128) if bitmap & (1 << pair)}
    # chassis, sensor/event, app, storage, transport, group extension (DCMI)
    assert pairs == {0x00, 0x02, 0x03, 0x05, 0x06, 0x16}


def test_get_command_support_and_enables(bmc: Bmc):
    support = ok(bmc, APP, 0x0A, b"\x0e\x06\x00")  # App, commands 00-7F
    supported = {c for c in range(128) if not support[c // 8] & (1 << (c % 8))}
    assert {0x01, 0x09, 0x0A, 0x38, 0x52} <= supported and 0x05 not in supported
    enables = ok(bmc, APP, 0x61, b"\x0e\x06\x00")
    assert bytes(~b & 0xFF for b in enables) == support
    assert ok(bmc, APP, 0x0A, b"\x0e\x46\x00") == b"\xff" * 16  # no App command 80-FF
    assert ok(bmc, APP, 0x0C, b"\x0e\x06\x00") == bytes(16)  # none configurable
    assert ok(bmc, APP, 0x0A, b"\x0e\x2c\x00\xdc")  # DCMI: a defining body code byte
    assert call(bmc, APP, 0x0A, b"\x0e\x2c\x00")[0] == 0x00  # ... or none
    assert call(bmc, APP, 0x0A, b"\x0e\x07\x00")[0] == 0xCC  # a response NetFn
    assert call(bmc, APP, 0x0A, b"\x0e\x86\x00")[0] == 0xCC  # operation 10b
    assert call(bmc, APP, 0x0A, b"\x0e\x06\x01")[0] == 0xCC  # LUN 1
    assert call(bmc, APP, 0x0A, b"\x0e\x06\x00\x00")[0] == 0xC7
    ok(bmc, APP, 0x60, b"\x0e\x06\x00" + enables)  # as they are: accepted
    changed = bytes([enables[0] ^ 0x02]) + enables[1:]
    assert call(bmc, APP, 0x60, b"\x0e\x06\x00" + changed)[0] == 0xCC


def test_subfunction_support(bmc: Bmc):
    assert ok(bmc, APP, 0x0B, b"\x0e\x06\x00\x01") == b"\xfe\xff\xff\xff"
    assert ok(bmc, APP, 0x0D, b"\x0e\x06\x00\x01") == bytes(4)
    assert ok(bmc, APP, 0x63, b"\x0e\x06\x00\x01") == b"\x01\x00\x00\x00"
    assert call(bmc, APP, 0x0B, b"\x0e\x06\x00\x05")[0] == 0xCC  # not served


# ------------------------------------------------------------------------------- I2C
def test_master_write_read_reads_the_fru_eeprom(bmc: Bmc):
    fru = bytes(bmc.platform.fru.device(0).data)
    width = bmc.platform.fru_eeprom.address_width()
    offset = (0).to_bytes(width, "big")
    assert ok(bmc, APP, 0x52, b"\x01\xa0\x08" + offset, privilege=Privilege.OPERATOR) == fru[:8]
    assert ok(bmc, APP, 0x52, b"\x01\xa0\x08") == fru[8:16]  # current address read goes on
    at = (len(fru) - 2).to_bytes(width, "big")
    assert ok(bmc, APP, 0x52, b"\x01\xa0\x04" + at) == fru[-2:] + fru[:2]  # wraps
    assert call(bmc, APP, 0x52, b"\x01\xa0\x01", privilege=Privilege.USER)[0] == 0xD4
    assert call(bmc, APP, 0x52, b"\x00\xa0\x01")[0] == 0x83  # public IPMB: nobody there
    assert call(bmc, APP, 0x52, b"\x01\xa2\x01")[0] == 0x83  # no device A2h
    assert call(bmc, APP, 0x52, b"\x03\xa0\x01")[0] == 0x83  # private bus 1
    assert call(bmc, APP, 0x52, b"\x01\xa0\x41")[0] == 0xC9


def test_master_write_read_writes_reach_read_fru_data(tmp_path: Path, make_bmc: MakeBmc):
    bmc = make_bmc(tmp_path)
    width = bmc.platform.fru_eeprom.address_width()
    ok(bmc, APP, 0x52, b"\x01\xa0\x00" + (0x10).to_bytes(width, "big") + b"\xde\xad")
    assert ok(bmc, STORAGE, 0x11, b"\x00\x10\x00\x02") == b"\x02\xde\xad"
    again = make_bmc(tmp_path)
    assert ok(again, APP, 0x52, b"\x01\xa0\x02" + (0x10).to_bytes(width, "big")) == b"\xde\xad"
