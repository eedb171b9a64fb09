"""System interface commands: message flags, Get Message, event buffer, Send Message."""

from __future__ import annotations

from pathlib import Path

import pytest

from pybmc.config.bmc import parse_config
from pybmc.core.bmc import Bmc
from pybmc.model.system_interface import SystemInterface
from pybmc.wire.codes import LAN_CHANNEL, Privilege

EVENT = bytes(range(0x10, 0x20))


@pytest.fixture
def bmc(tmp_path: Path) -> Bmc:
    return Bmc(parse_config({"bmc": {"name": "t", "address": "127.0.0.2",
                                     "state_dir": str(tmp_path)}}))


@pytest.fixture
def sysif(bmc: Bmc) -> SystemInterface:
    return bmc.system_interface


def inband(bmc: Bmc, cmd: int, data: bytes = b"") -> bytes:
    return bmc.execute_in_band(0x06, cmd, data)


def test_one_system_interface_per_bmc(bmc: Bmc, sysif: SystemInterface):
    assert bmc.system_interface is sysif
    assert bmc.system_interface is sysif


def test_idle_interface_has_no_flags(bmc: Bmc):
    assert inband(bmc, 0x31).hex() == "0000"


def test_empty_queue_and_buffer_answer_80(bmc: Bmc):
    assert inband(bmc, 0x33).hex() == "80"
    assert inband(bmc, 0x35).hex() == "80"


def test_event_buffer_full_flag_and_read(bmc: Bmc, sysif: SystemInterface):
    assert bmc.state.global_enables & 0x04  # the default enables the buffer
    assert sysif.post_event(EVENT)
    assert inband(bmc, 0x31).hex() == "0002"
    assert not sysif.post_event(bytes(16)), "a full buffer takes no second event"
    assert inband(bmc, 0x35) == b"\x00" + EVENT
    assert inband(bmc, 0x31).hex() == "0000"
    assert inband(bmc, 0x35).hex() == "80"


def test_disabled_event_buffer_takes_nothing(bmc: Bmc, sysif: SystemInterface):
    bmc.state.global_enables = 0x08
    assert not sysif.post_event(EVENT)
    assert inband(bmc, 0x31).hex() == "0000"


def test_event_must_be_16_bytes(sysif: SystemInterface):
    with pytest.raises(ValueError):
        sysif.post_event(b"\x01\x02")


def test_receive_queue_is_fifo(bmc: Bmc, sysif: SystemInterface):
    sysif.queue_message(0x01, b"\xaa")
    sysif.queue_message(0x21, b"\xbb\xcc")
    assert inband(bmc, 0x31).hex() == "0001"
    assert inband(bmc, 0x33).hex() == "0001aa"
    assert inband(bmc, 0x33).hex() == "0021bbcc"
    assert inband(bmc, 0x31).hex() == "0000"


def test_clear_message_flags_by_bit(bmc: Bmc, sysif: SystemInterface):
    sysif.queue_message(0x01, b"\xaa")
    sysif.post_event(EVENT)
    sysif.set_watchdog_pretimeout()
    assert inband(bmc, 0x31).hex() == "000b"
    assert inband(bmc, 0x30, b"\x08").hex() == "00"
    assert inband(bmc, 0x31).hex() == "0003"
    assert inband(bmc, 0x30, b"\x03").hex() == "00"
    assert inband(bmc, 0x31).hex() == "0000"
    assert inband(bmc, 0x33).hex() == "80"


def test_clear_message_flags_needs_one_byte(bmc: Bmc):
    assert inband(bmc, 0x30).hex() == "c7"


def test_commands_belong_to_the_system_interface(bmc: Bmc, sysif: SystemInterface):
    sysif.queue_message(0x01, b"\xaa")
    lan = bmc.context(LAN_CHANNEL, Privilege.ADMINISTRATOR)
    for cmd, data in ((0x30, b"\x01"), (0x31, b""), (0x33, b""), (0x35, b"")):
        assert bmc.execute(lan, 0x06, cmd, data).hex() == "d4"
    assert inband(bmc, 0x31).hex() == "0001", "the LAN request drained nothing"


def test_attention_follows_flags_and_global_enables(bmc: Bmc, sysif: SystemInterface):
    assert sysif.attention() == (False, False)
    sysif.queue_message(0x01, b"\xaa")
    assert sysif.attention() == (True, False)
    bmc.state.global_enables |= 0x01
    assert sysif.attention() == (True, True)
    sysif.take_message()
    sysif.post_event(EVENT)
    assert sysif.attention() == (True, False), "event buffer interrupt (bit 1) is off"
    bmc.state.global_enables |= 0x02
    assert sysif.attention() == (True, True)


def test_listeners_hear_every_change(sysif: SystemInterface):
    calls: list[int] = []
    sysif.add_listener(lambda: calls.append(sysif.flags))
    sysif.queue_message(0x01, b"\xaa")
    sysif.set_watchdog_pretimeout()
    sysif.take_message()
    sysif.clear(0x08)
    assert calls == [0x01, 0x09, 0x08, 0x00]


def test_host_reset_clears_everything(sysif: SystemInterface):
    sysif.queue_message(0x01, b"\xaa")
    sysif.post_event(EVENT)
    sysif.set_watchdog_pretimeout()
    sysif.host_reset()
    assert sysif.flags == 0


def test_full_queue_drops_the_oldest(sysif: SystemInterface):
    for n in range(20):
        sysif.queue_message(0, bytes([n]))
    assert len(sysif.messages) == 16
    assert sysif.take_message() == bytes([0, 4])


# IPMB Get Watchdog Timer to the BMC itself: rsSA 20, netFn 06/LUN 0, chk, rqSA 81, seq 5, cmd 25
SEND_TO_SELF = bytes.fromhex("00" "2018c8" "811425" "46")


def test_send_message_to_the_bmc_queues_its_response(bmc: Bmc):
    assert inband(bmc, 0x34, SEND_TO_SELF).hex() == "00"
    assert inband(bmc, 0x31).hex() == "0001"
    # channel 0, then the IPMB response without the requester's address:
    # netFn 07/LUN 0, chk1 (81+1C), rsSA 20, seq 5/LUN 0, cmd 25, cc 00, 8 data bytes, chk2
    assert inband(bmc, 0x33).hex() == "00" "00" "1c63" "201425" "00" "0000000000000000" "a7"


def test_send_message_to_another_ipmb_address_is_nak(bmc: Bmc):
    message = bytes.fromhex("00" "4018a8" "811425" "46")
    assert inband(bmc, 0x34, message).hex() == "83"
    assert inband(bmc, 0x31).hex() == "0000"


def test_send_message_with_bad_checksum_is_cc(bmc: Bmc):
    assert inband(bmc, 0x34, bytes.fromhex("00" "2018c9" "811425" "46")).hex() == "cc"
    assert inband(bmc, 0x34, bytes.fromhex("00" "2018c8" "811425" "47")).hex() == "cc"


def test_send_message_to_lan_or_unknown_channels(bmc: Bmc):
    assert inband(bmc, 0x34, bytes.fromhex("01" "2018c8" "811425" "46")).hex() == "d3"
    assert inband(bmc, 0x34, bytes.fromhex("05" "2018c8" "811425" "46")).hex() == "cc"
    assert inband(bmc, 0x34, b"\x00").hex() == "c7"


def test_send_message_from_lan_is_not_bridged_to_the_host_queue(bmc: Bmc):
    lan = bmc.context(LAN_CHANNEL, Privilege.USER)
    assert bmc.execute(lan, 0x06, 0x34, SEND_TO_SELF).hex() == "83"
    assert inband(bmc, 0x31).hex() == "0000"
