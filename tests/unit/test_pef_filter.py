"""PEF event filters and actions: byte-vector matching, action priority, startup delay, and
the core carrying out the power action after the request that logged the event."""

from __future__ import annotations

from typing import Any

import pytest

from pybmc.core.bmc import Bmc
from pybmc.model.platform.pef_filter import filter_matches
from pybmc.model.power import PowerAction
from pybmc.wire.codes import LAN_CHANNEL, Privilege
from tests.unit.clock import FakeClock, run_timers
from tests.unit.conftest import ADMIN, MakeBmc

T0 = 1000.0
# SEL record: ID 0001, type 02, time, generator 0x0020 (BMC), EvM 04, Power Unit (09) sensor
# 0x10, sensor-specific (6F) assertion, offset 0 (power off), data 2/3 unspecified.
POWER_OFF_RECORD = bytes.fromhex("01 00 02 00000000 2000 04 09 10 6f 00 ff ff")
# Any generator/sensor, Power Unit type, sensor-specific trigger, offset 0, data bytes free.
POWER_UNIT_FILTER = bytes.fromhex("80 02 01 02 ff ff 09 ff 6f 0100 000000 000000 000000")


@pytest.fixture
def bmc_clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def bmc_sections() -> dict[str, Any]:
    return {"users": [ADMIN],
            "power": {"initial_state": "on", "soft_off_delay": 0, "cycle_interval": 1}}


def cmd(bmc: Bmc, netfn: int, command: int, data: bytes) -> bytes:
    reply = bmc.execute(bmc.context(LAN_CHANNEL, Privilege.ADMINISTRATOR), netfn, command,
                        data)
    assert reply[0] == 0, f"{netfn:#x}/{command:#x} {data.hex()} -> {reply.hex()}"
    return reply[1:]


def set_pef(bmc: Bmc, parameter: int, data: bytes) -> None:
    cmd(bmc, 0x04, 0x12, bytes([parameter]) + data)


def power_unit_event(bmc: Bmc, offset: int = 0) -> None:
    """Platform Event Message: EvMRev 04, Power Unit, sensor 0x10, sensor-specific, offset."""
    cmd(bmc, 0x04, 0x02, bytes([0x04, 0x09, 0x10, 0x6F, offset, 0xFF, 0xFF]))


def with_filter(bmc: Bmc, actions: int, number: int = 1, global_actions: int = 0x2F) -> None:
    set_pef(bmc, 1, b"\x01")  # PEF on, no startup delay
    set_pef(bmc, 2, bytes([global_actions]))
    entry = bytearray(POWER_UNIT_FILTER)
    entry[1] = actions
    set_pef(bmc, 6, bytes([number]) + entry)


# ------------------------------------------------------------------------------- matching
def test_filter_fields_and_dont_care():
    assert filter_matches(POWER_UNIT_FILTER, POWER_OFF_RECORD)
    cycle = POWER_OFF_RECORD[:13] + b"\x01\xff\xff"
    assert not filter_matches(POWER_UNIT_FILTER, cycle)  # offset 1 not in the mask
    assert filter_matches(POWER_UNIT_FILTER[:9] + b"\xff\xff" + POWER_UNIT_FILTER[11:], cycle)
    for index, value in ((4, 0x81), (5, 0x01), (6, 0x01), (7, 0x11), (8, 0x01)):
        entry = bytearray(POWER_UNIT_FILTER)
        entry[index] = value
        assert not filter_matches(bytes(entry), POWER_OFF_RECORD), index
        entry[index] = 0xFF  # don't care
        assert filter_matches(bytes(entry), POWER_OFF_RECORD), index
    deasserted = POWER_OFF_RECORD[:12] + b"\xef" + POWER_OFF_RECORD[13:]
    assert filter_matches(POWER_UNIT_FILTER, deasserted)  # the trigger is the event type


def test_event_data_masks_exact_and_any_bit():
    record = bytearray(POWER_OFF_RECORD)
    record[14] = 0x5A  # event data 2
    entry = bytearray(POWER_UNIT_FILTER)
    entry[14:17] = bytes([0xF0, 0xF0, 0x50])  # high nibble must be exactly 5
    assert filter_matches(bytes(entry), bytes(record))
    entry[16] = 0x40
    assert not filter_matches(bytes(entry), bytes(record))
    entry[14:17] = bytes([0x0F, 0x00, 0x01])  # loose bits: at least one of them equal
    assert filter_matches(bytes(entry), bytes(record))  # bit 2: 0 in both
    entry[14:17] = bytes([0x05, 0x00, 0x05])  # bits 0 and 2 are 0 in 0x5A, both set in cmp2
    assert not filter_matches(bytes(entry), bytes(record))


# ------------------------------------------------------------------------------- actions
def test_power_off_action_is_taken_after_the_request(make_bmc: MakeBmc, bmc_clock: FakeClock):
    bmc = make_bmc()
    assert bmc.power.is_on()
    with_filter(bmc, actions=0x02)
    power_unit_event(bmc)
    assert not bmc.power.is_on()
    sel = [entry for entry in bmc.platform.sel.entries if entry[10] == 0x09]
    assert sel and sel[0][13] == 0x00  # the event that caused it is in the SEL
    cmd(bmc, 0x00, 0x02, b"\x01")  # power on: its own Power Unit event is long handled
    run_timers(bmc, bmc_clock, 2)
    assert bmc.power.is_on()


def test_power_cycle_action_sets_restart_cause_pef(make_bmc: MakeBmc, bmc_clock: FakeClock):
    bmc = make_bmc()
    with_filter(bmc, actions=0x08)
    power_unit_event(bmc, offset=0)
    run_timers(bmc, bmc_clock, 3)  # off, the cycle interval, on
    assert bmc.power.is_on()
    assert cmd(bmc, 0x00, 0x07, b"")[0] & 0x0F == 0x09  # power cycle via PEF


def test_highest_priority_power_action_wins(make_bmc: MakeBmc):
    bmc = make_bmc()
    with_filter(bmc, actions=0x04, number=1)  # reset
    with_filter(bmc, actions=0x08, number=2)  # power cycle
    taken: list[PowerAction] = []
    bmc.power.request = lambda action, cause=None: taken.append(action)  # type: ignore
    power_unit_event(bmc)
    assert taken == [PowerAction.CYCLE]
    with_filter(bmc, actions=0x22, number=3)  # power off (and diagnostic interrupt)
    power_unit_event(bmc)
    assert taken == [PowerAction.CYCLE, PowerAction.OFF]


def test_disabled_pef_filter_or_action_does_nothing(make_bmc: MakeBmc):
    bmc = make_bmc()
    with_filter(bmc, actions=0x02, global_actions=0x01)  # power down not globally enabled
    power_unit_event(bmc)
    assert bmc.power.is_on()
    with_filter(bmc, actions=0x02)
    set_pef(bmc, 1, b"\x00")  # PEF off
    power_unit_event(bmc)
    assert bmc.power.is_on()
    set_pef(bmc, 1, b"\x01")
    set_pef(bmc, 7, b"\x01\x00")  # filter 1 disabled
    power_unit_event(bmc)
    assert bmc.power.is_on()
    assert cmd(bmc, 0x04, 0x10, b"") == bytes([0x51, 0x2F, 0x08])  # actions announced


def test_startup_delay_drops_actions_after_power_up(make_bmc: MakeBmc, bmc_clock: FakeClock):
    bmc = make_bmc()
    with_filter(bmc, actions=0x02)
    set_pef(bmc, 1, b"\x05")  # PEF on, startup delay enabled
    set_pef(bmc, 3, b"\x1e")  # 30 s
    cmd(bmc, 0x00, 0x02, b"\x03")  # hard reset: the delay starts
    run_timers(bmc, bmc_clock, 1)
    power_unit_event(bmc)
    assert bmc.power.is_on()  # dropped, not postponed:
    run_timers(bmc, bmc_clock, 30)
    assert bmc.power.is_on()
    power_unit_event(bmc)  # a new event after the delay is acted on
    assert not bmc.power.is_on()
