"""App NetFn (0x06) handlers: identity, channels, users, with byte vectors from IPMI 2.0."""

from __future__ import annotations

import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from pybmc.config.bmc import parse_config
from pybmc.core.bmc import Bmc
from pybmc.wire.codes import NetFn, Privilege

GUID = "12345678-9abc-def0-1122-334455667788"


def make_config(tmp_path: Path, **sections: Any):
    data: dict[str, Any] = {
        "bmc": {"name": "t", "address": "127.0.0.2", "state_dir": str(tmp_path), "guid": GUID},
        "users": [{"name": "admin", "password": "secret"}],
    }
    data.update(sections)
    return parse_config(data)


@pytest.fixture
def bmc(tmp_path: Path) -> Bmc:
    return Bmc(make_config(tmp_path))


def lan(bmc: Bmc, cmd: int, data: bytes | str = b"",
        privilege: Privilege = Privilege.ADMINISTRATOR) -> bytes:
    """A request on the LAN channel at the given session privilege."""
    if isinstance(data, str):
        data = bytes.fromhex(data)
    return bmc.execute(bmc.context(1, privilege), NetFn.APP, cmd, data)


def in_band(bmc: Bmc, cmd: int, data: bytes | str = b"") -> bytes:
    if isinstance(data, str):
        data = bytes.fromhex(data)
    return bmc.execute_in_band(NetFn.APP, cmd, data)


def h(text: str) -> bytes:
    return bytes.fromhex(text)


def name16(name: bytes) -> bytes:
    return name.ljust(16, b"\x00")


# ------------------------------------------------------------------------------ device
def test_get_device_id_default_identity(bmc: Bmc):
    # dev 20, rev 1 (no device SDRs), fw 1.00 available, IPMI 2.0, support BF,
    # manufacturer 0x00BEEF, product 0x0001 (both LS byte first), aux 00000000.
    expected = h("00 20 01 01 00 02 bf efbe00 0100 00000000")
    assert lan(bmc, 0x01, privilege=Privilege.USER) == expected


def test_get_device_id_configured_identity(tmp_path: Path):
    bmc = Bmc(make_config(tmp_path, identity={
        "device_id": 0x42, "device_revision": 3, "firmware_version": "2.15",
        "manufacturer_id": 0x12345, "product_id": 0xABCD}))
    assert in_band(bmc, 0x01) == h("00 42 03 02 15 02 bf 452301 cdab 00000000")


def test_get_device_id_needs_user_privilege_and_no_data(bmc: Bmc):
    assert lan(bmc, 0x01, privilege=Privilege.CALLBACK) == h("d4")
    assert lan(bmc, 0x01, "00") == h("c7")


def test_self_test_passed(bmc: Bmc):
    assert lan(bmc, 0x04, privilege=Privilege.USER) == h("00 55 00")


def test_system_guid_is_the_rakp_guid_and_the_device_guid_differs(bmc: Bmc):
    wire = uuid.UUID(GUID).bytes[::-1]
    assert bmc.guid == wire
    device = lan(bmc, 0x08, privilege=Privilege.USER)
    assert device[0] == 0x00 and len(device) == 17 and device[1:] != wire
    assert device[1:] == uuid.uuid5(uuid.UUID(GUID), "pybmc device").bytes[::-1]  # stable
    assert lan(bmc, 0x37, privilege=Privilege.NONE) == b"\x00" + wire  # no session needed
    assert in_band(bmc, 0x37) == b"\x00" + wire


def test_resets_answer_ok_only_for_administrators(bmc: Bmc):
    power_before = bmc.power.is_on()
    for cmd in (0x02, 0x03):
        assert lan(bmc, cmd, privilege=Privilege.OPERATOR) == h("d4")
        assert lan(bmc, cmd) == h("00")
        assert lan(bmc, cmd, "00") == h("c7")
    assert bmc.power.is_on() == power_before


def test_cold_reset_reloads_volatile_channel_access_from_non_volatile(bmc: Bmc):
    assert lan(bmc, 0x40, "01 43 43") == h("00")  # non-volatile: shared, operator
    assert lan(bmc, 0x41, "01 80") == h("00 02 04")
    assert lan(bmc, 0x02) == h("00")
    assert lan(bmc, 0x41, "01 80") == h("00 03 03")


# ------------------------------------------------------------------------------ global enables
def test_global_enables_read_back_and_reject_reserved_bit(bmc: Bmc):
    assert in_band(bmc, 0x2F) == h("00 0c")
    assert in_band(bmc, 0x2E, "0f") == h("00")
    assert in_band(bmc, 0x2F) == h("00 0f")
    assert in_band(bmc, 0x2E, "1c") == h("cc")
    assert in_band(bmc, 0x2F) == h("00 0f")
    assert lan(bmc, 0x2E, "08", privilege=Privilege.OPERATOR) == h("d4")
    assert lan(bmc, 0x2F, privilege=Privilege.USER) == h("00 0f")


# ------------------------------------------------------------------------------ channel info
def test_channel_info_lan(bmc: Bmc):
    # 802.3 LAN, IPMB-1.0 protocol, multi-session with 0 active, IANA 7154, no aux info.
    expected = h("00 01 04 01 80 f21b00 0000")
    assert lan(bmc, 0x42, "01", privilege=Privilege.USER) == expected
    assert lan(bmc, 0x42, "0e") == expected
    assert in_band(bmc, 0x42, "01") == expected


def test_channel_info_system_interface(bmc: Bmc):
    # System interface, KCS, session-less, interrupts "none" in the aux bytes.
    expected = h("00 0f 0c 05 00 f21b00 ffff")
    assert in_band(bmc, 0x42, "0e") == expected
    assert lan(bmc, 0x42, "0f") == expected


def test_channel_info_ipmb_and_absent_channels(bmc: Bmc):
    assert lan(bmc, 0x42, "00") == h("00 00 01 01 00 f21b00 0000")
    for channel in (3, 7, 0x0B, 0x0D):
        assert lan(bmc, 0x42, f"{channel:02x}") == h("cc")
    assert lan(bmc, 0x42, "") == h("c7")


def test_channel_info_counts_sessions_on_the_channel(bmc: Bmc, monkeypatch: pytest.MonkeyPatch):
    # SessionManager.sessions is a read-only property listing the active sessions.
    monkeypatch.setattr(type(bmc.sessions), "sessions", property(
        lambda self: [SimpleNamespace(channel=1), SimpleNamespace(channel=1)]))
    assert lan(bmc, 0x42, "01")[4] == 0x82


def test_bmcsetup_lan_channel_detection_finds_channel_1(bmc: Bmc):
    """getipmi: the first channel in 1..16 whose Get Channel Info is 9 bytes of 802.3."""
    found = None
    for channel in range(1, 16):
        reply = in_band(bmc, 0x42, f"{channel:02x}")
        if reply[0] == 0 and len(reply) == 10 and reply[2] == 0x04:
            found = channel
            break
    assert found == 1


# ------------------------------------------------------------------------------ channel access
def test_channel_access_defaults(bmc: Bmc):
    for which in ("80", "40"):  # volatile, non-volatile
        assert lan(bmc, 0x41, "01" + which, privilege=Privilege.USER) == h("00 02 04")
    assert lan(bmc, 0x41, "0e 80") == h("00 02 04")


def test_bmcsetup_channel_access_writes_read_back(bmc: Bmc):
    assert in_band(bmc, 0x40, "01 42 44") == h("00")  # non-volatile: always, admin
    assert in_band(bmc, 0x40, "01 82 84") == h("00")  # volatile: the same
    assert in_band(bmc, 0x41, "01 40") == h("00 02 04")
    assert in_band(bmc, 0x41, "01 80") == h("00 02 04")


def test_volatile_and_non_volatile_copies_are_independent(bmc: Bmc):
    # Non-volatile: alerting, per-message and user-level auth disabled, shared; priv operator.
    assert lan(bmc, 0x40, "01 7b 43") == h("00")
    assert lan(bmc, 0x41, "01 40") == h("00 3b 03")
    assert lan(bmc, 0x41, "01 80") == h("00 02 04")
    # Volatile: disabled access mode, user privilege; "don't set" leaves non-volatile alone.
    assert lan(bmc, 0x40, "01 80 82") == h("00")
    assert lan(bmc, 0x41, "01 80") == h("00 00 02")
    assert lan(bmc, 0x41, "01 40") == h("00 3b 03")
    assert bmc.users.channel_privilege_limit(1) == Privilege.USER


def test_set_channel_access_dont_set_bits_change_nothing(bmc: Bmc):
    assert lan(bmc, 0x40, "01 07 00") == h("00")  # both "don't set": even invalid values pass
    assert lan(bmc, 0x41, "01 80") == h("00 02 04")
    assert lan(bmc, 0x40, "01 00 83") == h("00")  # privilege only
    assert lan(bmc, 0x41, "01 80") == h("00 02 03")


@pytest.mark.parametrize("data", ["01 84 84", "01 c2 84", "01 82 80", "01 82 86", "01 82 c4"])
def test_set_channel_access_rejects_bad_fields(bmc: Bmc, data: str):
    assert lan(bmc, 0x40, data) == h("cc")
    assert lan(bmc, 0x41, "01 80") == h("00 02 04")


def test_channel_access_on_other_channels(bmc: Bmc):
    assert in_band(bmc, 0x41, "0f 80") == h("00 02 04")
    assert in_band(bmc, 0x41, "0e 40") == h("00 02 04")
    assert in_band(bmc, 0x40, "0f 82 84") == h("82")
    assert in_band(bmc, 0x40, "0e 82 84") == h("82")  # 0x0E in-band is the system interface
    assert lan(bmc, 0x41, "00 80") == h("82")
    assert lan(bmc, 0x41, "03 80") == h("cc")
    assert lan(bmc, 0x40, "03 82 84") == h("cc")
    assert lan(bmc, 0x41, "01 00") == h("cc")
    assert lan(bmc, 0x41, "01 c0") == h("cc")


def test_channel_access_privileges_and_lengths(bmc: Bmc):
    assert lan(bmc, 0x40, "01 82 84", privilege=Privilege.OPERATOR) == h("d4")
    assert lan(bmc, 0x41, "01 80", privilege=Privilege.CALLBACK) == h("d4")
    assert lan(bmc, 0x40, "01 82") == h("c7")
    assert lan(bmc, 0x41, "01") == h("c7")


# ------------------------------------------------------------------------------ user access
def test_get_user_access_config_user_and_null_user(bmc: Bmc):
    # 16 ids; 1 enabled; 1 fixed name; admin: IPMI messaging + link auth, administrator.
    assert lan(bmc, 0x44, "01 02", privilege=Privilege.OPERATOR) == h("00 10 41 01 34")
    assert lan(bmc, 0x44, "01 01") == h("00 10 81 01 0f")
    assert lan(bmc, 0x44, "0e 10") == h("00 10 81 01 0f")


def test_bmcsetup_user_sequence(bmc: Bmc):
    # Fixed-name count + 1 = the slot bmcsetup uses for a new user.
    assert in_band(bmc, 0x44, "01 01")[3] == 1
    assert in_band(bmc, 0x47, "03 00" + "00" * 16) == h("00")  # user disable
    assert in_band(bmc, 0x47, "01 00" + "00" * 16) == h("00")  # 2.17 disables user 1 too
    assert in_band(bmc, 0x47, "03 01" + "00" * 16) == h("00")  # user enable
    assert in_band(bmc, 0x43, "b1 03 04") == h("00")  # link auth, IPMI msg, admin
    assert in_band(bmc, 0x45, "03" + name16(b"xcat").hex()) == h("00")
    assert in_band(bmc, 0x43, "01 03 04 00") == h("00")  # user priv: privilege only
    assert in_band(bmc, 0x47, "03 02" + name16(b"cluster").hex()) == h("00")
    assert in_band(bmc, 0x44, "01 03") == h("00 10 42 01 34")
    assert in_band(bmc, 0x46, "03") == b"\x00" + name16(b"xcat")
    user = bmc.users.find_user(b"xcat")
    assert user is not None and user.user_id == 3 and user.password == b"cluster"
    assert bmc.users.privilege_limit(user) == Privilege.ADMINISTRATOR


def test_set_user_access_change_bits(bmc: Bmc):
    # xCAT rspconfig: change bits, callback only + IPMI messaging, admin: stored, read back.
    assert lan(bmc, 0x43, "d1 03 04 00") == h("00")
    assert lan(bmc, 0x44, "01 03") == h("00 10 81 01 54")
    # ipmitool `user priv 3 3 1`: bit 7 clear, so the flags stay as they were.
    assert lan(bmc, 0x43, "01 03 03 00") == h("00")
    assert lan(bmc, 0x44, "01 03") == h("00 10 81 01 53")
    # Change bits with all flags clear, no access.
    assert lan(bmc, 0x43, "81 03 0f") == h("00")
    assert lan(bmc, 0x44, "01 03") == h("00 10 81 01 0f")


def test_callback_only_is_not_enforced_on_logins(bmc: Bmc):
    assert lan(bmc, 0x43, "d1 02 04 00") == h("00")
    user = bmc.users.find_user(b"admin")
    assert user is not None
    assert bmc.users.privilege_limit(user) == Privilege.ADMINISTRATOR


@pytest.mark.parametrize("data", ["81 00 04", "81 11 04", "81 3f 04", "81 03 00", "81 03 06",
                                  "81 03 0e", "83 03 04", "8f 03 04"])
def test_set_user_access_rejects_bad_fields(bmc: Bmc, data: str):
    assert lan(bmc, 0x43, data) == h("cc")


@pytest.mark.parametrize("data", ["01 00", "01 11", "03 02", "0f 02", "00 02"])
def test_get_user_access_rejects_bad_fields(bmc: Bmc, data: str):
    assert lan(bmc, 0x44, data) == h("cc")


def test_user_access_on_the_system_interface_channel_is_refused(bmc: Bmc):
    # In-band 0x0E is the system interface, which has no users (real BMCs answer 0xCC too).
    assert in_band(bmc, 0x44, "0e 02") == h("cc")
    assert in_band(bmc, 0x43, "8e 02 04") == h("cc")


def test_user_access_privileges_and_lengths(bmc: Bmc):
    assert lan(bmc, 0x44, "01 02", privilege=Privilege.USER) == h("d4")
    assert lan(bmc, 0x43, "81 03 04", privilege=Privilege.OPERATOR) == h("d4")
    assert lan(bmc, 0x43, "81 03") == h("c7")
    assert lan(bmc, 0x43, "81 03 04 00 00") == h("c7")
    assert lan(bmc, 0x44, "01") == h("c7")


def test_enabled_count_follows_set_user_password(bmc: Bmc):
    assert lan(bmc, 0x47, "05 01") == h("00")  # pyghmi's 2-byte enable
    assert lan(bmc, 0x44, "01 05") == h("00 10 42 01 0f")
    assert lan(bmc, 0x47, "05 00") == h("00")
    assert lan(bmc, 0x44, "01 05") == h("00 10 81 01 0f")


# ------------------------------------------------------------------------------ user names
def test_user_names_read_back_padded(bmc: Bmc):
    assert lan(bmc, 0x46, "02", privilege=Privilege.OPERATOR) == b"\x00" + name16(b"admin")
    assert lan(bmc, 0x46, "01") == b"\x00" + bytes(16)  # the null user
    assert lan(bmc, 0x46, "10") == b"\x00" + bytes(16)
    assert lan(bmc, 0x45, "03" + name16(b"bob").hex()) == h("00")
    assert lan(bmc, 0x46, "03") == b"\x00" + name16(b"bob")
    assert lan(bmc, 0x45, "10" + b"sixteen-bytes-ok".hex()) == h("00")
    assert lan(bmc, 0x46, "10") == b"\x00sixteen-bytes-ok"


def test_user_name_stops_at_first_nul(bmc: Bmc):
    assert lan(bmc, 0x45, "04" + (b"bob\x00junk".ljust(16, b"\x00")).hex()) == h("00")
    assert lan(bmc, 0x46, "04") == b"\x00" + name16(b"bob")


def test_user_1_name_is_fixed(bmc: Bmc):
    assert lan(bmc, 0x45, "01" + name16(b"root").hex()) == h("cc")
    assert lan(bmc, 0x45, "01" + "00" * 16) == h("00")
    assert lan(bmc, 0x46, "01") == b"\x00" + bytes(16)


def test_duplicate_user_names_are_refused(bmc: Bmc):
    assert lan(bmc, 0x45, "03" + name16(b"admin").hex()) == h("cc")
    assert lan(bmc, 0x46, "03") == b"\x00" + bytes(16)
    assert lan(bmc, 0x45, "02" + name16(b"admin").hex()) == h("00")  # renaming to itself
    assert lan(bmc, 0x45, "03" + "00" * 16) == h("00")  # empty names never clash
    assert lan(bmc, 0x45, "04" + "00" * 16) == h("00")


def test_user_name_bad_ids_privileges_and_lengths(bmc: Bmc):
    for uid in ("00", "11", "3f"):
        assert lan(bmc, 0x46, uid) == h("cc")
        assert lan(bmc, 0x45, uid + name16(b"x").hex()) == h("cc")
    assert lan(bmc, 0x46, "02", privilege=Privilege.USER) == h("d4")
    assert lan(bmc, 0x45, "03" + name16(b"x").hex(), privilege=Privilege.OPERATOR) == h("d4")
    assert lan(bmc, 0x45, "03" + b"short".hex()) == h("c7")
    assert lan(bmc, 0x46, "") == h("c7")


# ------------------------------------------------------------------------------ passwords
def test_set_and_test_16_byte_password(bmc: Bmc):
    assert lan(bmc, 0x47, "03 02" + name16(b"pw").hex()) == h("00")
    assert bmc.state.users[3].password == b"pw"
    assert lan(bmc, 0x47, "03 03" + name16(b"pw").hex()) == h("00")
    assert lan(bmc, 0x47, "03 03" + name16(b"pW").hex()) == h("80")
    assert lan(bmc, 0x47, "83 03" + b"pw".ljust(20, b"\x00").hex()) == h("00")


def test_set_and_test_20_byte_password(bmc: Bmc):
    password = b"twenty-byte-password"
    assert len(password) == 20
    assert lan(bmc, 0x47, "83 02" + password.hex()) == h("00")
    assert bmc.state.users[3].password == password
    assert lan(bmc, 0x47, "83 03" + password.hex()) == h("00")
    assert lan(bmc, 0x47, "03 03" + password[:16].hex()) == h("81")  # too big for 16 bytes
    assert lan(bmc, 0x47, "83 03" + password[:19].hex() + "00") == h("80")


def test_password_length_must_match_the_announced_size(bmc: Bmc):
    assert lan(bmc, 0x47, "03 02" + "61" * 20) == h("c7")  # 20 bytes, 16 announced
    assert lan(bmc, 0x47, "83 02" + "61" * 16) == h("c7")  # 16 bytes, 20 announced
    assert lan(bmc, 0x47, "03 02") == h("c7")  # set without a password
    assert lan(bmc, 0x47, "03 03") == h("c7")
    assert lan(bmc, 0x47, "03 02" + "61" * 10) == h("c7")
    assert lan(bmc, 0x47, "03") == h("c7")
    assert lan(bmc, 0x47, "03 02" + "61" * 21) == h("c7")


def test_set_user_password_bad_ids_and_privilege(bmc: Bmc):
    assert lan(bmc, 0x47, "00 01") == h("cc")
    assert lan(bmc, 0x47, "91 01") == h("cc")  # user 17 with the 20-byte bit
    assert lan(bmc, 0x47, "03 01", privilege=Privilege.OPERATOR) == h("d4")


def test_disabled_user_cannot_be_found_for_login(bmc: Bmc):
    assert lan(bmc, 0x47, "02 00" + "00" * 16) == h("00")
    assert bmc.users.find_user(b"admin") is None
    assert lan(bmc, 0x47, "02 01" + "00" * 16) == h("00")  # enable keeps the password
    user = bmc.users.find_user(b"admin")
    assert user is not None and user.password == b"secret"


# ------------------------------------------------------------------------------ system info
def test_system_info_unset_strings_read_as_empty(bmc: Bmc):
    assert lan(bmc, 0x59, "00 01 00 00", privilege=Privilege.USER) == h("00 11 00") + bytes(16)
    assert lan(bmc, 0x59, "00 07 03 00") == h("00 11 03") + bytes(16)
    assert lan(bmc, 0x59, "80 02 00 00") == h("00 11")  # revision only
    assert lan(bmc, 0x59, "00 00 00 00") == h("00 11 00")


def test_system_info_ipmitool_setsysinfo_reads_back(bmc: Bmc):
    name = b"compute-node-01.cluster"  # 23 bytes: 14 in block 0, 9 in block 1
    block0 = bytes([0, len(name)]) + name[:14]
    block1 = name[14:].ljust(16, b"\x00")
    assert lan(bmc, 0x58, "02 00" + block0.hex()) == h("00")
    assert lan(bmc, 0x58, "02 01" + block1.hex()) == h("00")
    assert lan(bmc, 0x59, "00 02 00 00") == h("00 11 00") + block0
    assert lan(bmc, 0x59, "00 02 01 00") == h("00 11 01") + block1
    assert lan(bmc, 0x59, "00 03 00 00") == h("00 11 00") + bytes(16)


def test_system_info_short_first_block_is_padded(bmc: Bmc):
    assert lan(bmc, 0x58, "04 00 00 05" + b"Linux".hex()) == h("00")
    assert lan(bmc, 0x59, "00 04 00 00") == h("00 11 00 00 05") + b"Linux".ljust(14, b"\x00")


def test_system_info_set_in_progress(bmc: Bmc):
    assert lan(bmc, 0x58, "00 01") == h("00")
    assert lan(bmc, 0x59, "00 00 00 00") == h("00 11 01")
    assert lan(bmc, 0x58, "00 01") == h("81")
    assert lan(bmc, 0x58, "00 00") == h("00")
    assert lan(bmc, 0x59, "00 00 00 00") == h("00 11 00")
    assert lan(bmc, 0x58, "00 03") == h("cc")
    assert lan(bmc, 0x58, "00 00 00") == h("c7")


def test_system_info_unsupported_and_bad_requests(bmc: Bmc):
    for parameter in ("08", "c0", "ff"):
        assert lan(bmc, 0x59, f"00 {parameter} 00 00") == h("80")
        assert lan(bmc, 0x58, f"{parameter} 00 00") == h("80")
    assert lan(bmc, 0x59, "00 01 11 00") == h("cc")
    assert lan(bmc, 0x58, "01 11" + "00" * 16) == h("cc")
    assert lan(bmc, 0x58, "01 00" + "00" * 17) == h("c7")
    assert lan(bmc, 0x58, "01") == h("c7")
    assert lan(bmc, 0x59, "00 01 00") == h("c7")
    assert lan(bmc, 0x58, "01 00" + "00" * 16, privilege=Privilege.OPERATOR) == h("d4")
    assert lan(bmc, 0x59, "00 01 00 00", privilege=Privilege.CALLBACK) == h("d4")


# ------------------------------------------------------------------------------ persistence
def test_every_setting_survives_a_restart(tmp_path: Path):
    config = make_config(tmp_path)
    first = Bmc(config)
    steps = [
        (0x45, "05" + name16(b"bob").hex()),
        (0x47, "05 02" + name16(b"pw").hex()),
        (0x47, "05 01"),
        (0x43, "f1 05 03 00"),
        (0x40, "01 5b 43"),
        (0x40, "01 81 82"),
        (0x2E, "08"),
        (0x58, "02 00 00 03" + b"cn1".hex()),
    ]
    for cmd, data in steps:
        assert lan(first, cmd, data) == h("00"), hex(cmd)
    second = Bmc(config)
    assert lan(second, 0x46, "05") == b"\x00" + name16(b"bob")
    assert lan(second, 0x44, "01 05") == h("00 10 42 01 73")
    assert lan(second, 0x47, "05 03" + name16(b"pw").hex()) == h("00")
    assert lan(second, 0x41, "01 40") == h("00 1b 03")
    # A restart is a BMC reset: the active (volatile) channel access is the stored copy.
    assert lan(second, 0x41, "01 80") == h("00 1b 03")
    assert lan(second, 0x2F) == h("00 08")
    assert lan(second, 0x59, "00 02 00 00") == h("00 11 00 00 03") + b"cn1".ljust(14, b"\x00")
    bob = second.users.find_user(b"bob")
    assert bob is not None and bob.password == b"pw"
    assert second.users.privilege_limit(bob) == Privilege.OPERATOR
    assert lan(second, 0x40, "01 81 82") == h("00")  # a volatile change works at once
    assert second.users.privilege_limit(bob) == Privilege.USER  # min(operator, channel user)
