"""Transport NetFn: LAN and SOL configuration parameters, ARP suspension, statistics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pybmc.config.bmc import parse_config
from pybmc.core.bmc import Bmc
from pybmc.model import lan, lan_params
from pybmc.model.state import fingerprint
from pybmc.wire.codes import Privilege

SET_LAN, GET_LAN, SUSPEND_ARPS, GET_STATS = 0x01, 0x02, 0x03, 0x04
SET_SOL, GET_SOL = 0x21, 0x22
TRANSPORT = 0x0C


def make_config(tmp_path: Path, **sections: Any):
    data: dict[str, Any] = {
        "bmc": {"name": "cn1", "address": "127.0.0.2", "state_dir": str(tmp_path)},
        "users": [{"name": "admin", "password": "secret"}],
    }
    data.update(sections)
    return parse_config(data)


@pytest.fixture
def bmc(tmp_path: Path) -> Bmc:
    return Bmc(make_config(tmp_path))


def lan_ctx(bmc: Bmc, privilege: Privilege = Privilege.ADMINISTRATOR, now: float = 1000.0):
    return bmc.context(1, privilege, now=now)


def run(bmc: Bmc, cmd: int, data: bytes, privilege: Privilege = Privilege.ADMINISTRATOR,
        now: float = 1000.0) -> bytes:
    """One request on the LAN channel (channel 1)."""
    return bmc.execute(lan_ctx(bmc, privilege, now), TRANSPORT, cmd, data)


def get_lan(bmc: Bmc, param: int, selector: int = 0, channel: int = 1, **kw: Any) -> bytes:
    return run(bmc, GET_LAN, bytes([channel, param, selector, 0]), **kw)


def set_lan(bmc: Bmc, param: int, value: bytes, channel: int = 1, **kw: Any) -> bytes:
    return run(bmc, SET_LAN, bytes([channel, param]) + value, **kw)


def get_sol(bmc: Bmc, param: int, channel: int = 1, **kw: Any) -> bytes:
    return run(bmc, GET_SOL, bytes([channel, param, 0, 0]), **kw)


def set_sol(bmc: Bmc, param: int, value: bytes, channel: int = 1, **kw: Any) -> bytes:
    return run(bmc, SET_SOL, bytes([channel, param]) + value, **kw)


OK = b"\x00"
REV = b"\x00\x11"  # completion code + parameter revision


# --------------------------------------------------------------------------- LAN defaults
CONFIGURED_LAN = {
    "ip_address": "10.1.2.3",
    "netmask": "255.255.0.0",
    "gateway": "10.1.0.254",
    "gateway_mac": "52:54:00:aa:bb:cc",
    "mac": "52:54:00:12:34:56",
    "vlan": 0x123,
}

LAN_DEFAULTS = {
    0: "00",
    1: "04",  # MD5 (the config's default auth types)
    2: "0404040404",
    3: "0a010203",
    4: "01",
    5: "525400123456",
    6: "ffff0000",
    7: "404010",
    8: "6f02",  # 623
    9: "9802",  # 664
    10: "02",
    11: "04",
    12: "0a0100fe",
    13: "525400aabbcc",
    14: "00000000",
    15: "000000000000",
    16: "7075626c6963" + "00" * 12,
    17: "04",
    18: "00000000",
    19: "00" * 13,
    20: "2381",  # VLAN 0x123, enabled
    21: "00",
    22: "10",  # suites 0-15 listed, enabled or not (17 does not fit parameter 23)
    23: "00000102030405060708090a0b0c0d0e0f",
    24: "000040000000000000",  # suite 3 (nibble 3) Administrator, the others unused
    25: "00000000",
    26: "000000000000",
}


@pytest.mark.parametrize(("param", "expected"), sorted(LAN_DEFAULTS.items()))
def test_lan_defaults_come_from_config(tmp_path: Path, param: int, expected: str) -> None:
    bmc = Bmc(make_config(tmp_path, lan=CONFIGURED_LAN))
    assert get_lan(bmc, param).hex() == REV.hex() + expected


def test_lan_defaults_without_lan_section(bmc: Bmc) -> None:
    assert get_lan(bmc, 3) == REV + bytes([127, 0, 0, 2])
    assert get_lan(bmc, 6) == REV + bytes([255, 255, 255, 0])
    assert get_lan(bmc, 12) == REV + bytes(4)
    assert get_lan(bmc, 20) == REV + b"\x00\x00"
    assert get_lan(bmc, 5) == REV + lan_params.derived_mac("cn1")


def test_derived_mac_is_stable_local_unicast_and_per_name() -> None:
    mac = lan_params.derived_mac("cn1")
    assert len(mac) == 6
    assert mac[0] & 0x03 == 0x02  # locally administered, unicast
    assert mac == lan_params.derived_mac("cn1")
    assert mac != lan_params.derived_mac("cn2")


def test_dhcp_source_and_configured_auth_types(tmp_path: Path) -> None:
    bmc = Bmc(make_config(tmp_path, lan={"ip_source": "dhcp"},
                          security={"auth_types": ["none", "md5"]}))
    assert get_lan(bmc, 4) == REV + b"\x02"
    assert get_lan(bmc, 1) == REV + b"\x05"
    assert get_lan(bmc, 2) == REV + b"\x05" * 5


def test_cipher_suite_parameters_follow_config(tmp_path: Path) -> None:
    bmc = Bmc(make_config(tmp_path, security={"cipher_suites": [3, 17]}))
    assert get_lan(bmc, 22) == REV + b"\x10"
    assert get_lan(bmc, 23) == REV + bytes([0, *range(16)])
    assert get_lan(bmc, 24) == REV + bytes([0, 0, 0x40, 0, 0, 0, 0, 0, 0])
    wide = Bmc(make_config(tmp_path / "wide", security={"cipher_suites": [0, 1, 15, 17]}))
    assert get_lan(wide, 23) == REV + bytes([0, *range(16)])
    assert get_lan(wide, 24) == REV + bytes([0, 0x44, 0, 0, 0, 0, 0, 0, 0x40])


# --------------------------------------------------------------------------- LAN set / get
LAN_VALUES = [
    (2, "0004040404"),
    (2, "0000000000"),
    (3, "c0a87b04"),
    (4, "00"),
    (4, "02"),
    (4, "04"),
    (5, "020000abcdef"),
    (6, "ffffff00"),
    (6, "00000000"),
    (6, "ffffffff"),
    (7, "40400a"),
    (10, "03"),
    (10, "00"),
    (11, "0a"),
    (12, "c0a87b01"),
    (13, "525400000001"),
    (14, "c0a87b02"),
    (15, "525400000002"),
    (16, "707269766174650000000000000000000000"),
    (20, "0580"),  # VLAN 5 on
    (20, "0500"),  # ipmitool `vlan id off` keeps the ID and clears the enable bit
    (20, "0000"),
    (20, "fe8f"),  # VLAN 4094
    (21, "07"),
    (24, "000444000000000000"),  # ipmitool cipher_privs XaaaXXXXXXXXXXX
    (24, "005555555555555555"),
    (26, "010306000900"),
]


@pytest.mark.parametrize(("param", "value"), LAN_VALUES)
def test_lan_set_reads_back_exactly(bmc: Bmc, param: int, value: str) -> None:
    data = bytes.fromhex(value)
    assert set_lan(bmc, param, data) == OK
    assert get_lan(bmc, param) == REV + data


@pytest.mark.parametrize("param", [18, 19, 25])
@pytest.mark.parametrize("selector", [0, 1, 4])
def test_destination_parameters_are_per_selector(bmc: Bmc, param: int, selector: int) -> None:
    bodies = {18: "0603", 19: "0001c0a80001525400000009", 25: "100580"}
    body = bytes.fromhex(bodies[param])
    body = body + bytes(lan_params.LAN_PARAMETERS.spec(param).length - 1 - len(body))
    data = bytes([selector]) + body
    assert set_lan(bmc, param, data) == OK
    assert get_lan(bmc, param, selector) == REV + data
    other = 2 if selector != 2 else 3
    default = bytes([other]) + bytes(len(body))
    assert get_lan(bmc, param, other) == REV + default


def test_destination_selector_out_of_range(bmc: Bmc) -> None:
    assert get_lan(bmc, 19, 5) == b"\xcc"
    assert set_lan(bmc, 19, bytes([5]) + bytes(12)) == b"\xcc"
    assert set_lan(bmc, 18, bytes([0x11, 0, 0, 0])) == b"\xcc"  # reserved selector bits


def test_revision_only(bmc: Bmc) -> None:
    assert run(bmc, GET_LAN, bytes([0x81, 3, 0, 0])) == REV
    assert run(bmc, GET_LAN, bytes([0x8E, 24, 0, 0])) == REV
    assert run(bmc, GET_SOL, bytes([0x81, 1, 0, 0])) == REV


@pytest.mark.parametrize("param", [27, 49, 63, 74, 80, 96, 0xC0, 0xFF])
def test_unsupported_lan_parameter(bmc: Bmc, param: int) -> None:
    assert get_lan(bmc, param) == b"\x80"
    assert set_lan(bmc, param, b"\x00") == b"\x80"


@pytest.mark.parametrize("param", [1, 8, 9, 17, 22, 23])
def test_read_only_lan_parameters(bmc: Bmc, param: int) -> None:
    before = get_lan(bmc, param)
    assert set_lan(bmc, param, before[2:]) == b"\x82"
    assert get_lan(bmc, param) == before


@pytest.mark.parametrize(("param", "value"), [
    (0, ""), (0, "0000"), (2, "16161616"), (3, "0a0000"), (3, "0a00000001"), (5, "0011223344"),
    (16, "70" * 17), (16, "70" * 19), (19, "01" + "00" * 11), (20, "05"), (24, "00" * 8),
    (26, "00" * 5),
])
def test_lan_bad_length(bmc: Bmc, param: int, value: str) -> None:
    assert set_lan(bmc, param, bytes.fromhex(value)) == b"\xc7"


@pytest.mark.parametrize(("param", "value"), [
    (0, "03"), (0, "05"),
    (2, "0104040404"),  # auth type "none" is not enabled in the config
    (2, "0020000000"),  # OEM auth type
    (4, "05"), (4, "11"),
    (5, "010000000001"),  # multicast MAC
    (6, "ff00ff00"),  # not a netmask
    (10, "04"),
    (18, "01010000"),  # destination type 1 is reserved
    (19, "0110" + "00" * 11),  # address format 1
    (20, "0080"), (20, "ff8f"), (20, "0510"),  # enabled ID 0, enabled 4095, reserved bit
    (21, "08"),
    (24, "000600000000000000"),  # privilege nibble 6
    (25, "01200000"),
    (26, "020000000000"),
])
def test_lan_bad_values(bmc: Bmc, param: int, value: str) -> None:
    before = get_lan(bmc, param, 1 if param in (18, 19, 25) else 0)
    assert set_lan(bmc, param, bytes.fromhex(value)) == b"\xcc"
    assert get_lan(bmc, param, 1 if param in (18, 19, 25) else 0) == before


def test_only_the_lan_channel_has_lan_parameters(bmc: Bmc) -> None:
    for channel in (0, 2, 7, 0x0F):
        assert get_lan(bmc, 3, channel=channel) == b"\xcc"
        assert set_lan(bmc, 3, bytes(4), channel=channel) == b"\xcc"
        assert get_sol(bmc, 1, channel=channel) == b"\xcc"
    assert get_lan(bmc, 3, channel=0x0E)[:2] == REV  # "this channel" on the LAN channel


def test_current_channel_in_band_means_the_lan_channel(bmc: Bmc) -> None:
    """xCAT's genesis runs `sol info` and `lan print` with channel 0x0E over /dev/ipmi0."""
    assert bmc.execute_in_band(TRANSPORT, GET_LAN, bytes([0x0E, 3, 0, 0])) == REV + bytes(
        [127, 0, 0, 2])
    assert bmc.execute_in_band(TRANSPORT, GET_SOL, bytes([0x0E, 7, 0, 0])) == REV + b"\x01"
    assert bmc.execute_in_band(TRANSPORT, GET_LAN, bytes([1, 5, 0, 0]))[:1] == OK  # getipmi


def test_request_lengths(bmc: Bmc) -> None:
    assert run(bmc, GET_LAN, bytes([1, 3, 0])) == b"\xc7"
    assert run(bmc, GET_LAN, bytes([1, 3, 0, 0, 0])) == b"\xc7"
    assert run(bmc, SET_LAN, bytes([1])) == b"\xc7"
    assert run(bmc, GET_SOL, bytes([1, 1])) == b"\xc7"
    assert run(bmc, SUSPEND_ARPS, bytes([1])) == b"\xc7"
    assert run(bmc, GET_STATS, bytes([1])) == b"\xc7"


def test_privileges(bmc: Bmc) -> None:
    assert get_lan(bmc, 3, privilege=Privilege.USER) == b"\xd4"
    assert get_lan(bmc, 3, privilege=Privilege.OPERATOR)[:2] == REV
    assert set_lan(bmc, 3, bytes(4), privilege=Privilege.OPERATOR) == b"\xd4"
    assert get_sol(bmc, 1, privilege=Privilege.USER)[:2] == REV
    assert set_sol(bmc, 1, b"\x00", privilege=Privilege.OPERATOR) == b"\xd4"
    assert run(bmc, SUSPEND_ARPS, bytes([1, 0]), privilege=Privilege.OPERATOR) == b"\xd4"
    assert run(bmc, GET_STATS, bytes([1, 0]), privilege=Privilege.USER)[:1] == OK


# --------------------------------------------------------------------------- set in progress
def test_set_in_progress_lock(bmc: Bmc) -> None:
    assert get_lan(bmc, 0) == REV + b"\x00"
    assert set_lan(bmc, 0, b"\x01") == OK
    assert get_lan(bmc, 0) == REV + b"\x01"
    assert set_lan(bmc, 0, b"\x01") == b"\x81"
    assert set_lan(bmc, 3, bytes([10, 0, 0, 9])) == OK  # values apply while locked
    assert get_lan(bmc, 3) == REV + bytes([10, 0, 0, 9])
    assert set_lan(bmc, 0, b"\x02") == OK  # commit: the holder still holds it
    assert get_lan(bmc, 0) == REV + b"\x01"
    assert set_lan(bmc, 0, b"\x00") == OK
    assert get_lan(bmc, 0) == REV + b"\x00"
    assert set_lan(bmc, 0, b"\x01") == OK


def test_lan_and_sol_locks_are_separate(bmc: Bmc) -> None:
    assert set_lan(bmc, 0, b"\x01") == OK
    assert get_sol(bmc, 0) == REV + b"\x00"
    assert set_sol(bmc, 0, b"\x01") == OK
    assert set_sol(bmc, 0, b"\x01") == b"\x81"


def test_abandoned_lock_expires(bmc: Bmc) -> None:
    assert set_lan(bmc, 0, b"\x01", now=100.0) == OK
    assert set_lan(bmc, 0, b"\x01", now=100.0 + lan_params.SET_IN_PROGRESS_TIMEOUT - 1) == b"\x81"
    assert get_lan(bmc, 0, now=100.0 + lan_params.SET_IN_PROGRESS_TIMEOUT + 1) == REV + b"\x00"
    assert set_lan(bmc, 0, b"\x01", now=100.0 + lan_params.SET_IN_PROGRESS_TIMEOUT + 1) == OK


def test_lock_is_not_persisted(tmp_path: Path) -> None:
    cfg = make_config(tmp_path)
    first = Bmc(cfg)
    assert set_lan(first, 0, b"\x01") == OK
    assert set_sol(first, 0, b"\x01") == OK
    second = Bmc(cfg)
    assert get_lan(second, 0) == REV + b"\x00"
    assert get_sol(second, 0) == REV + b"\x00"


# --------------------------------------------------------------------------- persistence
def test_settings_survive_a_restart(tmp_path: Path) -> None:
    cfg = make_config(tmp_path)
    first = Bmc(cfg)
    writes = {
        3: bytes([192, 168, 5, 5]),
        16: b"secret".ljust(18, b"\x00"),
        24: bytes.fromhex("000444000000000000"),
    }
    for param, value in writes.items():
        assert set_lan(first, param, value) == OK
    assert set_lan(first, 19, bytes([2, 0, 0, 10, 0, 0, 1]) + bytes(6)) == OK
    assert set_sol(first, 5, b"\x07") == OK
    assert set_sol(first, 2, b"\xc4") == OK
    second = Bmc(cfg)
    for param, value in writes.items():
        assert get_lan(second, param) == REV + value
    assert get_lan(second, 19, 2) == REV + bytes([2, 0, 0, 10, 0, 0, 1]) + bytes(6)
    assert get_sol(second, 5) == REV + b"\x07"
    assert get_sol(second, 2) == REV + b"\xc4"
    assert second.state.lan["19.2"] == bytes([2, 0, 0, 10, 0, 0, 1]) + bytes(6)


def test_auth_type_enables_take_only_the_configured_types(tmp_path: Path, bmc: Bmc) -> None:
    assert set_lan(bmc, 2, bytes.fromhex("1616161616"))[0] == 0xCC  # MD2, password: not on
    wide = Bmc(make_config(tmp_path / "wide",
                           security={"auth_types": ["md2", "md5", "password"]}))
    assert set_lan(wide, 2, bytes.fromhex("1616161616")) == OK
    assert get_lan(wide, 2) == REV + bytes.fromhex("1616161616")


def test_stored_auth_enables_beyond_the_config_are_not_served(tmp_path: Path) -> None:
    """State from a BMC that ran with MD2/password on: the config now names MD5 only."""
    wide = Bmc(make_config(tmp_path, security={"auth_types": ["md2", "md5", "password"]}))
    assert set_lan(wide, 2, bytes.fromhex("1616161616")) == OK
    narrow = Bmc(make_config(tmp_path))
    assert narrow.state.lan["2"] == bytes.fromhex("1616161616")
    assert narrow.lan.auth_types_enabled(Privilege.ADMINISTRATOR) == 0x04


def test_cipher_privileges_reset_when_the_suite_list_changes(tmp_path: Path,
                                                             caplog: pytest.LogCaptureFixture
                                                             ) -> None:
    old = Bmc(make_config(tmp_path, security={"cipher_suites": [1, 2, 3, 17]}))
    assert get_lan(old, 24) == REV + bytes.fromhex("004044000000000000")
    assert set_lan(old, 24, bytes.fromhex("000044000000000000")) == OK  # suite 1 off
    again = Bmc(make_config(tmp_path, security={"cipher_suites": [1, 2, 3, 17]}))
    assert again.lan.cipher_suite_max_privilege(1) == Privilege.NONE  # kept across restarts
    new = Bmc(make_config(tmp_path, security={"cipher_suites": [1, 3, 17]}))
    assert new.lan.cipher_suite_max_privilege(1) == Privilege.ADMINISTRATOR
    assert get_lan(new, 24) == REV + bytes.fromhex("004040000000000000")
    assert "cipher suite privilege levels (LAN parameter 24) reset" in caplog.text


def test_cipher_privileges_stored_per_list_entry_are_reset_once(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """State from when nibble n capped entry n of the enabled list (3, 17: nibbles 0, 1)."""
    bmc = Bmc(make_config(tmp_path))
    bmc.state.seeded["cipher_suites"] = fingerprint([3, 17])
    bmc.state.lan["24"] = bytes.fromhex("004400000000000000")
    bmc.save()
    again = Bmc(make_config(tmp_path))
    assert again.lan.cipher_suite_max_privilege(3) == Privilege.ADMINISTRATOR
    assert get_lan(again, 24) == REV + bytes.fromhex("000040000000000000")
    assert "cipher suite privilege levels (LAN parameter 24) reset" in caplog.text


# --------------------------------------------------------------------------- session layer
def test_auth_type_enables_feed_the_session_layer(tmp_path: Path) -> None:
    bmc = Bmc(make_config(tmp_path, security={"auth_types": ["md2", "md5", "password"]}))
    assert bmc.lan.auth_types_enabled(Privilege.ADMINISTRATOR) == 0x16
    # `ipmitool lan set 1 auth admin md5` (bmcsetup): read, change the admin byte, write.
    current = bytearray(get_lan(bmc, 2)[2:])
    current[3] = 0x04
    assert set_lan(bmc, 2, bytes(current)) == OK
    assert bmc.lan.auth_types_enabled(Privilege.ADMINISTRATOR) == 0x04
    assert bmc.lan.auth_types_enabled(Privilege.USER) == 0x16


def test_cipher_privileges_feed_the_session_layer(tmp_path: Path) -> None:
    bmc = Bmc(make_config(tmp_path, security={"cipher_suites": [1, 2, 3, 17]}))
    assert bmc.lan.cipher_suite_max_privilege(1) == Privilege.ADMINISTRATOR
    assert bmc.lan.cipher_suite_max_privilege(17) == Privilege.ADMINISTRATOR
    assert bmc.lan.cipher_suite_max_privilege(0) == Privilege.NONE  # not enabled
    # ipmitool cipher_privs XXaaXXXXXXXXXXX: suite 1 (nibble 1) off.
    assert set_lan(bmc, 24, bytes.fromhex("000044000000000000")) == OK
    assert bmc.lan.cipher_suite_max_privilege(1) == Privilege.NONE
    assert bmc.lan.cipher_suite_max_privilege(2) == Privilege.ADMINISTRATOR
    assert bmc.lan.cipher_suite_max_privilege(3) == Privilege.ADMINISTRATOR
    # bmc-config Maximum_Privilege_Cipher_Suite_Id_3 User: nibble 3, the same suite.
    assert set_lan(bmc, 24, bytes.fromhex("000024000000000000")) == OK
    assert bmc.lan.cipher_suite_max_privilege(3) == Privilege.USER
    assert bmc.lan.cipher_suite_max_privilege(17) == Privilege.ADMINISTRATOR  # no nibble


def test_a_level_for_a_suite_not_enabled_reads_back_but_the_suite_stays_refused(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    bmc = Bmc(make_config(tmp_path, security={"cipher_suites": [3, 17]}))
    assert set_lan(bmc, 24, bytes.fromhex("000040000000000000")) == OK
    assert bmc.lan.idle_cipher_privilege_nibbles() == []
    assert "stay refused" not in caplog.text
    # xCAT's bmcsetup gives every listed suite administrator: suite 0 (no authentication!)
    assert set_lan(bmc, 24, bytes.fromhex("004444444444444444")) == OK
    assert get_lan(bmc, 24) == REV + bytes.fromhex("004444444444444444")
    assert bmc.lan.idle_cipher_privilege_nibbles() == [n for n in range(16) if n != 3]
    assert bmc.lan.cipher_suite_max_privilege(0) == Privilege.NONE
    assert bmc.lan.cipher_suite_max_privilege(3) == Privilege.ADMINISTRATOR
    assert "cipher suites [0, 1, 2, 4," in caplog.text and "stay refused" in caplog.text


# --------------------------------------------------------------------------- client sequences
def ipmitool_lan_set(bmc: Bmc, param: int, value: bytes, channel: int = 1) -> None:
    """What `ipmitool lan set` sends (lib/ipmi_lanp.c): lock, write, read back, commit, unlock."""
    if get_lan(bmc, 0, channel=channel)[2] & 3 != 1:
        set_lan(bmc, 0, b"\x01", channel=channel)
    assert set_lan(bmc, param, value, channel=channel) == OK
    assert get_lan(bmc, param, channel=channel) == REV + value  # else: 10 x sleep 3
    set_lan(bmc, 0, b"\x02", channel=channel)
    set_lan(bmc, 0, b"\x00", channel=channel)


def test_bmcsetup_network_sequence(bmc: Bmc) -> None:
    ipmitool_lan_set(bmc, 4, b"\x01")  # ipsrc static
    ipmitool_lan_set(bmc, 3, bytes([172, 30, 0, 7]))  # ipaddr
    ipmitool_lan_set(bmc, 6, bytes([255, 255, 0, 0]))  # netmask
    ipmitool_lan_set(bmc, 12, bytes([172, 30, 0, 1]))  # defgw ipaddr
    assert set_lan(bmc, 20, b"\x00\x00") == OK  # raw 0xc 1 C 0x14 0 0
    arp = get_lan(bmc, 10)[2] | 0x02  # arp respond on
    ipmitool_lan_set(bmc, 10, bytes([arp]))
    ipmitool_lan_set(bmc, 24, bytes.fromhex("000040000000000000"))  # cipher_privs
    assert set_sol(bmc, 1, b"\x01") == OK  # raw 0xc 0x21 C 0x1 0x1
    assert bmc.lan.address() == ("172.30.0.7", "255.255.0.0", "172.30.0.1", "static")
    assert get_lan(bmc, 0) == REV + b"\x00"
    assert get_sol(bmc, 1) == REV + b"\x01"


def xcat_rspconfig(bmc: Bmc, *writes: tuple[int, bytes]) -> None:
    """IPMI.pm's netinfo_set: set in progress, the writes, set complete."""
    assert set_lan(bmc, 0, b"\x01") == OK
    for param, value in writes:
        assert set_lan(bmc, param, value) == OK
    assert set_lan(bmc, 0, b"\x00") == OK


def test_xcat_rspconfig_sequences(bmc: Bmc) -> None:
    xcat_rspconfig(bmc, (4, b"\x01"), (3, bytes([10, 9, 8, 7])))
    assert get_lan(bmc, 3) == REV + bytes([10, 9, 8, 7])
    xcat_rspconfig(bmc, (6, bytes([255, 255, 255, 128])))
    assert get_lan(bmc, 6) == REV + bytes([255, 255, 255, 128])
    xcat_rspconfig(bmc, (12, bytes([10, 9, 8, 1])))
    xcat_rspconfig(bmc, (14, bytes([10, 9, 8, 2])))
    assert get_lan(bmc, 14) == REV + bytes([10, 9, 8, 2])
    vlan = 300
    xcat_rspconfig(bmc, (20, bytes([vlan & 0xFF, 0x80 | vlan >> 8])))
    reply = get_lan(bmc, 20)
    assert reply[3] & 0x80 and ((reply[3] & 0x0F) << 8 | reply[2]) == vlan
    xcat_rspconfig(bmc, (20, b"\x00\x00"))
    assert get_lan(bmc, 20) == REV + b"\x00\x00"
    xcat_rspconfig(bmc, (11, bytes([5 * 2])))  # garp=5
    assert get_lan(bmc, 11)[2] // 2 == 5
    xcat_rspconfig(bmc, (16, b"xcat".ljust(18, b"\x00")))
    assert get_lan(bmc, 16)[2:].split(b"\x00")[0] == b"xcat"
    xcat_rspconfig(bmc, (19, bytes([1, 0, 0, 10, 0, 0, 100]) + bytes(6)))  # snmpdest1
    assert get_lan(bmc, 19, 1)[5:9] == bytes([10, 0, 0, 100])  # data[4..7] after rev
    xcat_rspconfig(bmc, (4, b"\x02"))  # ip=dhcp
    assert bmc.lan.address().source == "dhcp"


def test_xcat_after_an_interrupted_run_still_gets_through(bmc: Bmc) -> None:
    assert set_lan(bmc, 0, b"\x01") == OK  # a run that died before "set complete"
    assert set_lan(bmc, 0, b"\x01") == b"\x81"  # xCAT prints this and carries on
    assert set_lan(bmc, 3, bytes([10, 0, 0, 1])) == OK
    assert set_lan(bmc, 0, b"\x00") == OK


# --------------------------------------------------------------------------- address listener
def test_address_listener_runs_at_once_or_when_the_lock_is_released(bmc: Bmc) -> None:
    seen: list[lan.LanAddress] = []
    bmc.lan.on_address_change(lambda address: seen.append(address))
    assert set_lan(bmc, 16, b"x".ljust(18, b"\x00")) == OK
    assert seen == []  # not an address parameter
    assert set_lan(bmc, 3, bytes([10, 0, 0, 5])) == OK
    assert seen == [("10.0.0.5", "255.255.255.0", "0.0.0.0", "static")]
    assert set_lan(bmc, 0, b"\x01") == OK
    assert set_lan(bmc, 3, bytes([10, 0, 0, 6])) == OK
    assert set_lan(bmc, 6, bytes([255, 0, 0, 0])) == OK
    assert len(seen) == 1
    assert set_lan(bmc, 0, b"\x02") == OK  # commit
    assert seen[-1] == ("10.0.0.6", "255.0.0.0", "0.0.0.0", "static")
    assert set_lan(bmc, 0, b"\x00") == OK
    assert len(seen) == 2  # nothing new changed since the commit


def test_failing_listener_does_not_fail_the_command(bmc: Bmc) -> None:
    def broken(_address: lan.LanAddress) -> None:
        raise RuntimeError("boom")

    bmc.lan.on_address_change(broken)
    assert set_lan(bmc, 3, bytes([10, 0, 0, 5])) == OK


# --------------------------------------------------------------------------- ARPs, statistics
def test_suspend_bmc_arps(bmc: Bmc) -> None:
    assert run(bmc, SUSPEND_ARPS, bytes([1, 0])) == OK + b"\x02"  # responses on by default
    assert run(bmc, SUSPEND_ARPS, bytes([1, 2])) == OK + b"\x00"
    assert set_lan(bmc, 10, b"\x03") == OK
    assert run(bmc, SUSPEND_ARPS, bytes([1, 1])) == OK + b"\x02"
    assert run(bmc, SUSPEND_ARPS, bytes([1, 0])) == OK + b"\x03"
    assert run(bmc, SUSPEND_ARPS, bytes([1, 4])) == b"\xcc"
    assert run(bmc, SUSPEND_ARPS, bytes([3, 0])) == b"\xcc"


def test_statistics(bmc: Bmc) -> None:
    assert run(bmc, GET_STATS, bytes([1, 0])) == OK + bytes(18)
    peer = ("127.0.0.1", 40000)
    ping = bytes.fromhex("0600ff06000011be80000000")  # an ASF presence ping: one pong back
    bmc.receive_datagram(ping, peer, 1000.0)
    bmc.receive_datagram(b"not rmcp", peer, 1000.0)  # counted as IP/UDP, not RMCP
    assert len(bmc.datagrams_to_send()) == 1
    expected = OK + bytes([2, 0, 0, 0, 0, 0, 0, 0, 1, 0, 2, 0, 1, 0, 0, 0, 0, 0])
    assert run(bmc, GET_STATS, bytes([1, 0])) == expected
    assert run(bmc, GET_STATS, bytes([1, 1])) == expected  # reports, then clears
    assert run(bmc, GET_STATS, bytes([0x0E, 0])) == OK + bytes(18)


def test_statistics_hold_at_ffff() -> None:
    stats = lan.LanStatistics(ip_packets_transmitted=0xFFFF)
    stats.count_transmitted()
    assert stats.encode()[8:10] == b"\xff\xff"


# --------------------------------------------------------------------------- robustness
@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cmd=st.sampled_from([SET_LAN, GET_LAN, SUSPEND_ARPS, GET_STATS, SET_SOL, GET_SOL]),
       data=st.binary(max_size=24))
def test_no_request_ends_in_an_internal_error(bmc: Bmc, cmd: int, data: bytes) -> None:
    reply = run(bmc, cmd, data)
    assert reply[0] != 0xFF
    if reply[0] == 0 and cmd in (GET_LAN, GET_SOL):
        assert reply[1] == lan_params.PARAMETER_REVISION


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(param=st.integers(0, 30), value=st.binary(min_size=1, max_size=20))
def test_every_accepted_set_reads_back(bmc: Bmc, param: int, value: bytes) -> None:
    if set_lan(bmc, param, value) != OK:
        return
    selector = value[0] if param in (18, 19, 25) else 0
    if param == 0:
        set_lan(bmc, 0, b"\x00")
        return
    assert get_lan(bmc, param, selector) == REV + value
