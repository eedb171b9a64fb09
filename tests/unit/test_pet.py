"""PET traps (SNMPv1 Trap-PDU, BER) and LAN alert destinations, byte for byte."""

from __future__ import annotations

from typing import Any

import pytest

from pybmc.core.bmc import Bmc
from pybmc.model.alerts import sendable
from pybmc.model.pet import (
    PetEvent,
    PetSource,
    ber_integer,
    ber_oid,
    pet_data,
    specific_trap,
    tlv,
    trap_pdu,
)
from pybmc.wire.codes import LAN_CHANNEL, Privilege
from tests.unit.clock import FakeClock
from tests.unit.conftest import ADMIN, MakeBmc

T0 = 1000.0
# SEL record 0005 at 2026-01-01 00:00 UTC (1767225600), BMC, Power Unit 0xd1, 6F, offset 0.
RECORD = bytes.fromhex("0500 02 00b95569 2000 04 09 d1 6f 00 ff ff")
SOURCE = PetSource(bytes(range(16)), "127.0.0.9", 0xBEEF, 0x0001)


def test_ber_primitives():
    assert ber_integer(0) == b"\x02\x01\x00"
    assert ber_integer(127) == b"\x02\x01\x7f"
    assert ber_integer(128) == b"\x02\x02\x00\x80"  # a leading zero keeps it positive
    assert ber_integer(0x096F00) == b"\x02\x03\x09\x6f\x00"
    assert ber_oid((1, 3, 6, 1, 4, 1, 3183, 1, 1)) == bytes.fromhex("06 09 2b06010401 986f 01 01")
    assert tlv(0x04, bytes(200))[:3] == b"\x04\x81\xc8"  # long-form length


def test_specific_trap_and_pet_data_layout():
    assert specific_trap(RECORD) == 0x096F00
    deasserted = RECORD[:12] + b"\xef\x03" + RECORD[14:]
    assert specific_trap(deasserted) == 0x096F83
    data = pet_data(SOURCE, PetEvent(RECORD, severity=0x10, entity=0x13, entity_instance=1,
                                     sequence=2))
    assert data == (bytes(range(16)) + bytes.fromhex(
        "0002"          # sequence number
        "34aadc80"      # local time stamp: seconds since 1998-01-01
        "ffff"          # UTC offset unspecified
        "20 20 10"      # trap source, event source (IPMI), severity critical
        "20 d1 13 01"   # sensor device, sensor number, entity, instance
        "00ffff ffffffffff"  # event data 1-8
        "19"            # language: English
        "0000beef 0001"  # manufacturer ID, system ID
        "c1"))          # no OEM custom fields
    assert len(data) == 47


def test_trap_pdu_encoding():
    event = PetEvent(RECORD, severity=0x10)
    message = trap_pdu(b"public", SOURCE, event, uptime=2.5)
    pet = pet_data(SOURCE, event)
    varbind = bytes.fromhex("30 3d 06 0a 2b06010401986f010101 04 2f") + pet
    pdu_body = (bytes.fromhex("06 09 2b06010401986f0101"  # enterprise
                              "40 04 7f000009"  # agent address
                              "02 01 06"  # generic trap: enterprise specific
                              "02 03 096f00"  # specific trap
                              "43 02 00fa"  # time stamp: 250 hundredths, kept positive
                              "30 3f") + varbind)
    expected_body = bytes.fromhex("02 01 00 04 06") + b"public" + b"\xa4" + \
        bytes([len(pdu_body)]) + pdu_body
    assert message == b"\x30" + bytes([len(expected_body)]) + expected_body


def test_only_unicast_configured_destinations():
    for address in ("0.0.0.0", "255.255.255.255", "224.0.0.1", "240.0.0.1", "", "x"):
        assert not sendable(address), address
    assert sendable("127.0.0.9")


# ------------------------------------------------------------------------------- core
@pytest.fixture
def bmc_clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def bmc_sections() -> dict[str, Any]:
    return {"users": [ADMIN], "lan": {"alert_port": 16200},
            "power": {"initial_state": "on", "soft_off_delay": 0, "cycle_interval": 0}}


def cmd(bmc: Bmc, netfn: int, command: int, data: bytes) -> bytes:
    reply = bmc.execute(bmc.context(LAN_CHANNEL, Privilege.ADMINISTRATOR), netfn, command,
                        data)
    assert reply[0] == 0, f"{netfn:#x}/{command:#x} {data.hex()} -> {reply.hex()}"
    return reply[1:]


def configure_alert(bmc: Bmc, address: bytes = bytes([127, 0, 0, 9])) -> None:
    cmd(bmc, 0x0C, 0x01, bytes([1, 18, 1, 0x00, 0, 0]))  # destination 1: PET trap
    cmd(bmc, 0x0C, 0x01, bytes([1, 19, 1, 0x00, 0x00]) + address + bytes(6))
    cmd(bmc, 0x0C, 0x01, bytes([1, 16]) + b"s3cret".ljust(18, b"\0"))
    cmd(bmc, 0x04, 0x12, bytes([1, 0x01]))  # PEF on
    cmd(bmc, 0x04, 0x12, bytes([2, 0x01]))  # alert action on
    cmd(bmc, 0x04, 0x12, bytes([9, 1, 0x18, 0x11, 0x00]))  # policy 1 -> LAN destination 1
    cmd(bmc, 0x04, 0x12, bytes.fromhex("06 01 80 01 01 10 ff ff 09 ff 6f 0100") + bytes(9))


def test_power_off_event_queues_one_trap_for_the_edge(make_bmc: MakeBmc,
                                                     caplog: pytest.LogCaptureFixture):
    bmc = make_bmc()
    configure_alert(bmc)
    assert bmc.alerts_to_send() == []
    cmd(bmc, 0x00, 0x02, b"\x00")  # power down: the Power Unit event matches filter 1
    alerts = bmc.alerts_to_send()
    assert [(a.address, a.port) for a in alerts] == [("127.0.0.9", 16200)]
    assert b"s3cret" in alerts[0].payload
    assert b"\x02\x03\x09\x6f\x00" in alerts[0].payload  # Power Unit, 6F, power off
    assert bmc.alerts_to_send() == []
    assert "s3cret" not in caplog.text  # the community string is never logged


def test_no_trap_to_unset_destination_or_when_alerting_disabled(make_bmc: MakeBmc):
    bmc = make_bmc()
    configure_alert(bmc, address=bytes(4))  # 0.0.0.0
    cmd(bmc, 0x00, 0x02, b"\x00")
    assert bmc.alerts_to_send() == []
    configure_alert(bmc)
    cmd(bmc, 0x06, 0x40, bytes([0x01, 0x80 | 0x20 | 0x02, 0x00]))  # volatile: alerting off
    cmd(bmc, 0x00, 0x02, b"\x01")
    cmd(bmc, 0x00, 0x02, b"\x00")
    assert bmc.alerts_to_send() == []
