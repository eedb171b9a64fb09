"""Set Channel Security Keys (App 0x56), `[security] kg` and the K_G bit of Get Channel
Authentication Capabilities, with byte vectors."""

from __future__ import annotations

from typing import Any

import pytest

from pybmc.config.bmc import ConfigError, parse_config
from pybmc.core.bmc import Bmc
from pybmc.wire.codes import LAN_CHANNEL, Privilege
from tests.unit.conftest import ADMIN, MakeBmc


@pytest.fixture
def bmc_sections() -> dict[str, Any]:
    return {"users": [ADMIN]}


def call(bmc: Bmc, cmd: int, data: str, privilege: Privilege = Privilege.ADMINISTRATOR) -> bytes:
    ctx = bmc.context(LAN_CHANNEL, privilege)
    return bmc.execute(ctx, 0x06, cmd, bytes.fromhex(data))


def test_kg_reads_sets_and_persists(make_bmc: MakeBmc):
    bmc = make_bmc()
    assert call(bmc, 0x56, "01 00 01") == bytes(22)  # cc, not lockable, all-zero K_G
    assert call(bmc, 0x38, "8e 04")[3] & 0x20 == 0
    key = bytes(range(1, 21))
    assert call(bmc, 0x56, "01 01 01 " + key.hex()) == b"\x00\x00"
    assert call(bmc, 0x56, "0e 00 01") == b"\x00\x00" + key  # 0Eh: this channel
    assert bmc.lan.bmc_key() == key
    assert call(bmc, 0x38, "8e 04")[3] & 0x20  # K_G is not the default any more
    again = make_bmc(state_dir=bmc.config.state_dir)
    assert again.lan.bmc_key() == key


def test_kr_is_stored_but_kg_only_is_used(bmc: Bmc):
    kr = b"\x55" * 20
    assert call(bmc, 0x56, "01 01 00 " + kr.hex()) == b"\x00\x00"
    assert call(bmc, 0x56, "01 00 00") == b"\x00\x00" + kr
    assert bmc.lan.bmc_key() is None


def test_key_errors(bmc: Bmc):
    assert call(bmc, 0x56, "01 01 01 " + "11" * 19) == b"\x81"  # insufficient key bytes
    assert call(bmc, 0x56, "01 01 01 " + "11" * 21) == b"\x82"  # too many
    assert call(bmc, 0x56, "01 02 01")[0] == 0xCC  # lock: not supported
    assert call(bmc, 0x56, "01 00 02")[0] == 0xCC  # no such key
    assert call(bmc, 0x56, "0f 00 01")[0] == 0xCC  # not a LAN channel
    assert call(bmc, 0x56, "01 00 01", Privilege.OPERATOR) == b"\xd4"


def test_kg_config_text_or_hex(make_bmc: MakeBmc):
    bmc = make_bmc(security={"kg": "lab-key"})
    assert bmc.lan.bmc_key() == b"lab-key".ljust(20, b"\0")
    hexed = make_bmc(security={"kg": "0x0102"})
    assert hexed.lan.bmc_key() == b"\x01\x02".ljust(20, b"\0")
    base = {"bmc": {"name": "b", "address": "127.0.0.1"}}
    for bad in ("0xzz", "x" * 21):
        with pytest.raises(ConfigError, match="kg"):
            parse_config({**base, "security": {"kg": bad}})


def test_a_kg_set_over_the_lan_gives_way_when_the_config_changes(make_bmc: MakeBmc):
    bmc = make_bmc(security={"kg": "one"})
    call(bmc, 0x56, "01 01 01 " + (b"set-by-client".ljust(20, b"\0")).hex())
    same = make_bmc(state_dir=bmc.config.state_dir, security={"kg": "one"})
    assert same.lan.bmc_key() == b"set-by-client".ljust(20, b"\0")
    changed = make_bmc(state_dir=bmc.config.state_dir, security={"kg": "two"})
    assert changed.lan.bmc_key() == b"two".ljust(20, b"\0")
