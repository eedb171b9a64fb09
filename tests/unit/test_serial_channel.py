"""The serial/modem channel (2): Get/Set Serial/Modem Configuration (Transport 10h/11h) and
channel/user access on it, as FreeIPMI's bmc-config (Serial_Conf, Serial_Channel, UserN
Serial_*) and ipmitool `channel info 2` / `channel getaccess 2` send them."""

from __future__ import annotations

from pathlib import Path

import pytest

from pybmc.config.bmc import parse_config
from pybmc.core.bmc import Bmc
from pybmc.wire.codes import NetFn, Privilege

SET_SERIAL, GET_SERIAL = 0x10, 0x11
OK = b"\x00"
REV = b"\x00\x11"


def make(tmp_path: Path) -> Bmc:
    return Bmc(parse_config({
        "bmc": {"name": "cn1", "address": "127.0.0.2", "state_dir": str(tmp_path)},
        "users": [{"name": "admin", "password": "secret"}],
    }))


@pytest.fixture
def bmc(tmp_path: Path) -> Bmc:
    return make(tmp_path)


def run(bmc: Bmc, netfn: int, cmd: int, data: str,
        privilege: Privilege = Privilege.ADMINISTRATOR) -> bytes:
    return bmc.execute(bmc.context(1, privilege, now=1000.0), netfn, cmd, bytes.fromhex(data))


def get_serial(bmc: Bmc, data: str, **kw) -> bytes:
    return run(bmc, NetFn.TRANSPORT, GET_SERIAL, data, **kw)


def set_serial(bmc: Bmc, data: str, **kw) -> bytes:
    return run(bmc, NetFn.TRANSPORT, SET_SERIAL, data, **kw)


@pytest.mark.parametrize(("param", "expected"), [
    (0, "00"), (1, "04"), (2, "0404040404"), (3, "81"), (4, "00"), (6, "02"), (7, "000a"),
    (9, "3f08"), (14, "00"), (15, "7075626c6963" + "00" * 12), (16, "00"), (18, "00"),
    (20, "00"), (22, "00"), (29, "2611"),
])
def test_serial_defaults(bmc: Bmc, param: int, expected: str) -> None:
    assert get_serial(bmc, f"02 {param:02x} 00 00").hex() == REV.hex() + expected


@pytest.mark.parametrize(("param", "value"), [
    (3, "85"),  # basic + terminal mode, direct connect (bmc-config Enable_Terminal_Mode Yes)
    (3, "01"),  # modem connect
    (4, "0a"), (6, "01"),
    (7, "6009"),  # RTS/CTS (01b in [7:6]), DTR hang-up, 57.6 kbps
    (7, "0006"), (9, "1004"), (14, "05"), (18, "1e"),
    (15, "707269766174650000000000000000000000"), (29, "0511"),
])
def test_serial_set_reads_back_and_survives_a_restart(tmp_path: Path, param: int,
                                                     value: str) -> None:
    bmc = make(tmp_path)
    assert set_serial(bmc, f"02 {param:02x} {value}") == OK
    assert get_serial(bmc, f"02 {param:02x} 00 00") == REV + bytes.fromhex(value)
    assert get_serial(make(tmp_path), f"02 {param:02x} 00 00") == REV + bytes.fromhex(value)


@pytest.mark.parametrize(("data", "cc"), [
    ("02 03 08", "cc"),  # reserved connection mode bit
    ("02 07 c00a", "cc"),  # flow control 11b is reserved
    ("02 07 0005", "cc"),  # bit rate code 5 is reserved
    ("02 07 000a00", "c7"),  # too long
    ("02 01 04", "82"),  # auth type support is read-only
    ("02 02 1010101010", "cc"),  # straight password is not offered by the config
    ("02 0a 00", "80"),  # modem init string: not supported
    ("01 03 81", "cc"),  # channel 1 is LAN, not serial
    ("0e 03 81", "cc"),  # "this channel" over the LAN is channel 1
])
def test_serial_set_refusals(bmc: Bmc, data: str, cc: str) -> None:
    assert set_serial(bmc, data) == bytes.fromhex(cc)
    assert get_serial(bmc, "02 03 00 00") == REV + b"\x81"


def test_serial_get_refusals_and_revision_only(bmc: Bmc) -> None:
    assert get_serial(bmc, "01 03 00 00") == b"\xcc"
    assert get_serial(bmc, "02 0a 00 00") == b"\x80"
    assert get_serial(bmc, "82 03 00 00") == REV  # revision only
    assert get_serial(bmc, "02 03 00", privilege=Privilege.OPERATOR) == b"\xc7"
    assert get_serial(bmc, "02 03 00 00", privilege=Privilege.USER) == b"\xd4"
    assert set_serial(bmc, "02 03 81", privilege=Privilege.OPERATOR) == b"\xd4"


def test_serial_set_in_progress_is_its_own_lock(bmc: Bmc) -> None:
    assert set_serial(bmc, "02 00 01") == OK
    assert set_serial(bmc, "02 00 01") == b"\x81"  # already held
    assert get_serial(bmc, "02 00 00 00") == REV + b"\x01"
    assert run(bmc, NetFn.TRANSPORT, 0x01, "01 00 01") == OK  # the LAN lock is free
    assert set_serial(bmc, "02 00 00") == OK


def test_community_string_is_not_logged(bmc: Bmc, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    assert set_serial(bmc, "02 0f " + b"sekrit".ljust(18, b"\0").hex()) == OK
    assert "sekrit" not in caplog.text and b"sekrit".hex() not in caplog.text


# ------------------------------------------------------------------ channel and user access
def test_channel_info_of_the_serial_channel(bmc: Bmc) -> None:
    # channel 2, RS-232 (05h), IPMB-1.0 protocol (Basic Mode), single-session, no session.
    assert run(bmc, NetFn.APP, 0x42, "02") == bytes.fromhex("00 02 05 01 40 f21b00 0000")


def test_serial_channel_access_defaults_disabled_and_reads_back(tmp_path: Path) -> None:
    bmc = make(tmp_path)
    for which in ("40", "80"):
        assert run(bmc, NetFn.APP, 0x41, "02" + which) == bytes.fromhex("00 00 04")
    # bmc-config Serial_Channel: volatile always available, non-volatile privilege operator.
    assert run(bmc, NetFn.APP, 0x40, "02 82 00") == OK
    assert run(bmc, NetFn.APP, 0x40, "02 00 43") == OK
    again = make(tmp_path)
    assert run(again, NetFn.APP, 0x41, "02 80") == bytes.fromhex("00 02 04")
    assert run(again, NetFn.APP, 0x41, "02 40") == bytes.fromhex("00 00 03")
    assert run(again, NetFn.APP, 0x41, "01 80") == bytes.fromhex("00 02 04")  # LAN untouched


def test_user_access_on_the_serial_channel_is_its_own(tmp_path: Path) -> None:
    bmc = make(tmp_path)
    # admin (user 2, from the config): administrator on the LAN, no access on serial.
    assert run(bmc, NetFn.APP, 0x44, "02 02") == bytes.fromhex("00 10 41 01 0f")
    assert run(bmc, NetFn.APP, 0x43, "92 02 03") == OK  # IPMI messaging on, operator
    again = make(tmp_path)
    assert run(again, NetFn.APP, 0x44, "02 02") == bytes.fromhex("00 10 41 01 13")
    assert run(again, NetFn.APP, 0x44, "01 02")[4] == 0x34  # LAN: link, messaging, admin
    user = again.users.find_user(b"admin")
    assert user is not None and again.users.privilege_limit(user) == Privilege.ADMINISTRATOR
