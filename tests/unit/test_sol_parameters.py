"""Transport NetFn: SOL configuration parameters (defaults, set/read-back, errors, the sequences
ipmitool sends, and the payload port)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pybmc.config.bmc import parse_config
from pybmc.core.bmc import Bmc
from pybmc.model import lan
from pybmc.wire.codes import Privilege
from tests.unit.test_transport import OK, REV, get_lan, get_sol, make_config, set_sol


@pytest.fixture
def bmc(tmp_path: Path) -> Bmc:
    return Bmc(make_config(tmp_path))


SOL_DEFAULTS = {0: "00", 1: "01", 2: "02", 3: "0c60", 4: "0732", 5: "0a", 6: "0a", 7: "01",
                8: "6f02"}


@pytest.mark.parametrize(("param", "expected"), sorted(SOL_DEFAULTS.items()))
def test_sol_defaults(bmc: Bmc, param: int, expected: str) -> None:
    assert get_sol(bmc, param).hex() == REV.hex() + expected


def test_sol_enable_default_from_config(tmp_path: Path) -> None:
    bmc = Bmc(make_config(tmp_path, sol={"enabled": False}))
    assert get_sol(bmc, 1) == REV + b"\x00"
    assert not bmc.lan.sol_settings().enabled


SOL_VALUES = [
    (1, "00"), (1, "01"),
    (2, "82"), (2, "c4"), (2, "45"), (2, "03"),
    (3, "0a60"), (3, "ff00"), (3, "01ff"),
    (4, "0000"), (4, "07ff"),
    (5, "00"), (5, "06"), (5, "07"), (5, "08"), (5, "09"), (5, "0a"),
    (6, "00"), (6, "06"), (6, "0a"),
]


@pytest.mark.parametrize(("param", "value"), SOL_VALUES)
def test_sol_set_reads_back_exactly(bmc: Bmc, param: int, value: str) -> None:
    data = bytes.fromhex(value)
    assert set_sol(bmc, param, data) == OK
    assert get_sol(bmc, param) == REV + data


@pytest.mark.parametrize(("param", "value", "cc"), [
    (0, "03", "cc"),
    (1, "02", "cc"),
    (2, "01", "cc"), (2, "00", "cc"), (2, "06", "cc"), (2, "12", "cc"),
    (3, "0060", "cc"),
    (4, "0800", "cc"),
    (5, "05", "cc"), (5, "0b", "cc"), (5, "1a", "cc"),
    (6, "01", "cc"),
    (7, "01", "82"), (8, "6f02", "82"),
    (9, "00", "80"), (0x80, "00", "80"),
    (1, "", "c7"), (1, "0101", "c7"), (3, "0a", "c7"), (4, "07", "c7"),
])
def test_sol_errors(bmc: Bmc, param: int, value: str, cc: str) -> None:
    before = get_sol(bmc, param)
    assert set_sol(bmc, param, bytes.fromhex(value)).hex() == cc
    assert get_sol(bmc, param) == before


@pytest.mark.parametrize("param", [9, 10, 0x80, 0xFF])
def test_unsupported_sol_parameter(bmc: Bmc, param: int) -> None:
    assert get_sol(bmc, param) == b"\x80"


def ipmitool_sol_set(bmc: Bmc, param: int, value: bytes) -> None:
    """`ipmitool sol set` (guarded): in progress, the write, commit-write, set-complete."""
    assert set_sol(bmc, 0, b"\x01") == OK
    assert set_sol(bmc, param, value) == OK
    set_sol(bmc, 0, b"\x02")
    assert set_sol(bmc, 0, b"\x00") == OK


def test_ipmitool_sol_set_sequences(bmc: Bmc) -> None:
    ipmitool_sol_set(bmc, 1, b"\x01")  # enabled true
    auth = get_sol(bmc, 2)[2]
    ipmitool_sol_set(bmc, 2, bytes([0x04 | (auth & 0xC0)]))  # privilege-level admin
    auth = get_sol(bmc, 2)[2]
    ipmitool_sol_set(bmc, 2, bytes([0x80 | (auth & 0x4F)]))  # force-encryption true
    threshold = get_sol(bmc, 3)[3]
    ipmitool_sol_set(bmc, 3, bytes([10, threshold]))  # character-accumulate-level 10
    ipmitool_sol_set(bmc, 5, b"\x0a")  # non-volatile-bit-rate 115.2
    ipmitool_sol_set(bmc, 6, b"\x09")  # volatile-bit-rate 57.6
    retry_interval = get_sol(bmc, 4)[3]
    ipmitool_sol_set(bmc, 4, bytes([3, retry_interval]))  # retry-count 3
    settings_ = bmc.lan.sol_settings()
    assert settings_ == lan.SolSettings(
        enabled=True, force_encryption=True, force_authentication=False,
        privilege=Privilege.ADMINISTRATOR, accumulate_interval_ms=50, send_threshold=96,
        retry_count=3, retry_interval_ms=500, non_volatile_bit_rate=115200,
        volatile_bit_rate=57600, payload_channel=1, payload_port=623)


def test_sol_settings_defaults(bmc: Bmc) -> None:
    assert bmc.lan.sol_settings() == lan.SolSettings(
        enabled=True, force_encryption=False, force_authentication=False,
        privilege=Privilege.USER, accumulate_interval_ms=60, send_threshold=96, retry_count=7,
        retry_interval_ms=500, non_volatile_bit_rate=115200, volatile_bit_rate=115200,
        payload_channel=1, payload_port=623)


def test_volatile_bit_rate_follows_non_volatile_until_set(bmc: Bmc) -> None:
    assert set_sol(bmc, 5, b"\x07") == OK
    assert get_sol(bmc, 6) == REV + b"\x07"
    assert set_sol(bmc, 6, b"\x09") == OK
    assert set_sol(bmc, 5, b"\x06") == OK
    assert get_sol(bmc, 6) == REV + b"\x09"


def test_sol_payload_port_follows_config(tmp_path: Path) -> None:
    data = {"bmc": {"name": "p", "address": "127.0.0.3", "port": 6230,
                    "state_dir": str(tmp_path)}}
    bmc = Bmc(parse_config(data))
    assert get_sol(bmc, 8) == REV + (6230).to_bytes(2, "little")
    assert get_lan(bmc, 8) == REV + (6230).to_bytes(2, "little")


