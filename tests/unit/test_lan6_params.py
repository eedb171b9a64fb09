"""IPv6 LAN configuration parameters 50-80: defaults, set/read back, selectors, persistence."""

from __future__ import annotations

from pathlib import Path

import pytest

from pybmc.core.bmc import Bmc
from pybmc.model.lan6_params import link_local
from tests.unit.test_transport import OK, REV, make_config, run, set_lan

GET_LAN = 0x02


def get(bmc: Bmc, param: int, selector: int = 0, block: int = 0) -> bytes:
    return run(bmc, GET_LAN, bytes([1, param, selector, block]))


@pytest.fixture
def bmc(tmp_path: Path) -> Bmc:
    return Bmc(make_config(tmp_path))


@pytest.mark.parametrize(("param", "expected"), [
    (50, "02"),  # dual stack supported only
    (51, "00"),  # IPv4 only until a client enables IPv6
    (52, "00"), (53, "40"), (54, "000000"),
    (55, "020100"),  # 2 static, 1 dynamic, neither DHCPv6 nor SLAAC
    (57, "02"), (60, "02"), (62, "00"),
    (64, "02"),
    (65, "00" * 16), (66, "00" * 6), (67, "00"), (68, "00" * 16), (72, "00" * 16),
    (73, "00"), (78, "40"), (79, "00"),
])
def test_defaults(bmc: Bmc, param: int, expected: str) -> None:
    assert get(bmc, param) == REV + bytes.fromhex(expected)


def test_static_address_default_per_selector(bmc: Bmc) -> None:
    assert get(bmc, 56, 1) == REV + bytes.fromhex("0100" + "00" * 16 + "4001")
    assert get(bmc, 56, 2) == b"\xcc"  # two addresses: clients walk selectors until this


@pytest.mark.parametrize(("param", "value"), [
    (51, "02"), (52, "b8"), (53, "ff"), (54, "0abcde"), (64, "03"),
    (65, "20010db8000000000000000000000001"), (66, "02aabbccddee"), (67, "40"),
    (68, "20010db8000000000000000000000000"), (69, "fe800000000000000000000000000001"),
])
def test_set_reads_back(bmc: Bmc, param: int, value: str) -> None:
    assert set_lan(bmc, param, bytes.fromhex(value)) == OK
    assert get(bmc, param) == REV + bytes.fromhex(value)


def test_static_address_status_follows_enable_and_addressing(bmc: Bmc) -> None:
    address = bytes.fromhex("20010db8000000000000000000000010")
    # The client's status byte (03 "failed") is not stored as status: the BMC reports it.
    assert set_lan(bmc, 56, b"\x01\x80" + address + b"\x40\x03") == OK
    assert get(bmc, 56, 1) == REV + b"\x01\x80" + address + b"\x40\x01"  # IPv4 only: disabled
    assert set_lan(bmc, 51, b"\x02") == OK
    assert get(bmc, 56, 1) == REV + b"\x01\x80" + address + b"\x40\x00"  # active
    assert get(bmc, 56, 0)[-1] == 1  # selector 0 untouched, nothing enabled


@pytest.mark.parametrize(("param", "value"), [
    (51, "03"),  # addressing enables 0..2
    (54, "100000"),  # flow label is 20 bits
    (56, "0090" + "20" * 16 + "4000"),  # reserved bit 4 of the source byte
    (56, "0081" + "20" * 16 + "4000"),  # source 1 (SLAAC) is not a static address
    (56, "0080" + "20" * 16 + "8100"),  # prefix over 128
    (56, "0080ff" + "00" * 15 + "4000"),  # multicast
    (56, "0280" + "20" * 16 + "4000"),  # selector 2 of 0..1
    (58, "0002" + "00" * 16),  # block 2 of 0..1
    (58, "0100" + "00" * 16),  # one DUID only
    (64, "04"), (66, "01aabbccddee"), (67, "81"),
])
def test_bad_values(bmc: Bmc, param: int, value: str) -> None:
    assert set_lan(bmc, param, bytes.fromhex(value)) == b"\xcc"


@pytest.mark.parametrize("param", [50, 55, 57, 59, 60, 61, 62, 73, 78, 79])
def test_read_only(bmc: Bmc, param: int) -> None:
    assert set_lan(bmc, param, b"\x00") == b"\x82"


@pytest.mark.parametrize(("param", "value"), [(51, ""), (54, "0000"), (56, "00" * 19),
                                              (58, "00" * 17), (65, "00" * 15)])
def test_bad_lengths(bmc: Bmc, param: int, value: str) -> None:
    assert set_lan(bmc, param, bytes.fromhex(value)) == b"\xc7"


def test_static_duid_blocks(bmc: Bmc) -> None:
    block0 = bytes.fromhex("000e00010001") + bytes(range(10))
    block1 = bytes(range(16, 32))
    assert set_lan(bmc, 58, b"\x00\x00" + block0) == OK
    assert set_lan(bmc, 58, b"\x00\x01" + block1) == OK
    assert get(bmc, 58, 0, 0) == REV + b"\x00\x00" + block0
    assert get(bmc, 58, 0, 1) == REV + b"\x00\x01" + block1
    assert get(bmc, 58, 0, 2) == b"\xcc"
    assert get(bmc, 61, 0, 1) == REV + b"\x00\x01" + bytes(16)


def test_dynamic_address_is_the_link_local_of_the_mac(bmc: Bmc) -> None:
    mac = bytes.fromhex("5254000a0b0c")
    assert set_lan(bmc, 5, mac) == OK
    expected = bytes.fromhex("fe80000000000000" + "505400fffe0a0b0c")
    assert link_local(mac) == expected
    assert get(bmc, 59) == REV + b"\x00\x01" + expected + b"\x40\x01"
    assert set_lan(bmc, 51, b"\x01") == OK
    assert get(bmc, 59)[-1] == 0
    assert get(bmc, 59, 1) == b"\xcc"


def test_unsupported_timing_and_dynamic_router_parameters(bmc: Bmc) -> None:
    for param in (63, 74, 75, 76, 77, 80):
        assert get(bmc, param) == b"\x80"


def test_values_survive_a_restart(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    first = Bmc(config)
    address = bytes.fromhex("20010db8000000000000000000000020")
    assert set_lan(first, 56, b"\x00\x80" + address + b"\x30\x00") == OK
    assert set_lan(first, 51, b"\x02") == OK
    second = Bmc(config)
    assert get(second, 56, 0) == REV + b"\x00\x80" + address + b"\x30\x00"
    assert get(second, 51) == REV + b"\x02"
