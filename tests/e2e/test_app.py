"""App NetFn commands (identity, channels, users) through real ipmitool, FreeIPMI and pyghmi."""

from __future__ import annotations

import os
import shutil
import uuid

import pytest

from tests.e2e.conftest import BmcProcess

pytestmark = pytest.mark.skipif(not os.path.exists("/usr/bin/ipmitool"),
                                reason="ipmitool is not installed")


def configured_guid(bmc: BmcProcess) -> str:
    """The GUID pybmc derives from the BMC's name when the config gives none."""
    name = bmc.configs[0]["bmc"]["name"]
    return str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{name}.pybmc"))


def fields(text: str) -> dict[str, str]:
    """`Key   : value` lines of ipmitool / FreeIPMI output."""
    result = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            result.setdefault(key.strip(), value.strip())
    return result


def user_rows(text: str) -> dict[int, tuple[str, list[str]]]:
    """`ipmitool user list`: id -> (name, [callin, link auth, ipmi msg, privilege])."""
    rows = {}
    for line in text.splitlines()[1:]:
        if not line[:4].strip().isdigit():
            continue
        # The columns are fixed-width (%-4d%-17s...), and names may be empty.
        rows[int(line[:4])] = (line[4:21].strip(), line[21:].split(None, 3))
    return rows


def test_mc_info(bmc: BmcProcess):
    info = fields(bmc.ipmitool("mc", "info").stdout)
    assert info["Device ID"] == "32"
    assert info["Firmware Revision"] == "1.00"
    assert info["IPMI Version"] == "2.0"
    assert info["Manufacturer ID"] == str(0xBEEF)
    assert info["Device Available"] == "yes"
    assert info["Provides Device SDRs"] == "no"


def test_mc_info_works_at_user_privilege(bmc: BmcProcess):
    result = bmc.ipmitool("mc", "info", user="viewer", password="viewerpw", privilege="USER")
    assert "IPMI Version              : 2.0" in result.stdout


def test_mc_guid_selftest_and_getenables(bmc: BmcProcess):
    guid = fields(bmc.ipmitool("mc", "guid", "ipmi").stdout)["System GUID"]
    assert guid == configured_guid(bmc)
    assert "Selftest: passed" in bmc.ipmitool("mc", "selftest").stdout
    enables = bmc.ipmitool("mc", "getenables").stdout
    assert "System Event Logging" in enables and "enabled" in enables


def test_mc_reset_cold_leaves_the_host_alone(bmc: BmcProcess):
    bmc.ipmitool("chassis", "power", "on")
    result = bmc.ipmitool("mc", "reset", "cold")
    assert "cold reset" in result.stdout.lower()
    assert bmc.alive()
    assert "on" in bmc.ipmitool("chassis", "power", "status").stdout


def test_user_list_and_summary(bmc: BmcProcess):
    rows = user_rows(bmc.ipmitool("user", "list", "1").stdout)
    assert sorted(rows) == list(range(1, 17))
    assert rows[1] == ("", ["true", "false", "false", "NO ACCESS"])
    assert rows[2] == ("admin", ["true", "true", "true", "ADMINISTRATOR"])
    assert rows[3][0] == "oper" and rows[3][1][-1] == "OPERATOR"
    assert rows[4][0] == "viewer" and rows[4][1][-1] == "USER"
    summary = fields(bmc.ipmitool("user", "summary", "1").stdout)
    assert summary["Maximum IDs"] == "16"
    assert summary["Enabled User Count"] == "3"
    assert summary["Fixed Name Count"] == "1"


def test_user_list_is_allowed_to_operators_only(bmc: BmcProcess):
    bmc.ipmitool("user", "list", "1", user="oper", password="operpw", privilege="OPERATOR")
    result = bmc.ipmitool("user", "list", "1", user="viewer", password="viewerpw",
                          privilege="USER", check=False)
    assert result.returncode != 0


def test_channel_info_and_getaccess(bmc: BmcProcess):
    info = fields(bmc.ipmitool("channel", "info", "1").stdout)
    assert info["Channel Medium Type"] == "802.3 LAN"
    assert info["Session Support"] == "multi-session"
    assert info["Access Mode"] == "always available"
    assert info["Protocol Vendor ID"] == "7154"
    current = bmc.ipmitool("channel", "info").stdout  # 0x0E: the channel this session is on
    assert "Channel 0x1 info" in current
    access = fields(bmc.ipmitool("channel", "getaccess", "1", "2").stdout)
    assert access["User Name"] == "admin"
    assert access["Privilege Level"] == "ADMINISTRATOR"
    assert access["Fixed Name"] == "No"
    assert access["Enable Status"] == "enabled"


def test_new_user_logs_in_with_exactly_the_privilege_given(bmc: BmcProcess):
    bmc.ipmitool("user", "set", "name", "5", "bob")
    bmc.ipmitool("user", "set", "password", "5", "bobpw")
    bmc.ipmitool("user", "priv", "5", "3", "1")
    bmc.ipmitool("user", "enable", "5")
    bmc.ipmitool("channel", "setaccess", "1", "5", "callin=on", "ipmi=on", "link=on",
                 "privilege=3")
    assert "Success" in bmc.ipmitool("user", "test", "5", "16", "bobpw").stdout
    wrong = bmc.ipmitool("user", "test", "5", "16", "nope", check=False)
    assert "password incorrect" in wrong.stdout
    rows = user_rows(bmc.ipmitool("user", "list", "1").stdout)
    assert rows[5] == ("bob", ["true", "true", "true", "OPERATOR"])
    bmc.ipmitool("chassis", "power", "status", user="bob", password="bobpw",
                 privilege="OPERATOR")
    refused = bmc.ipmitool("chassis", "power", "status", user="bob", password="bobpw",
                           privilege="ADMINISTRATOR", check=False)
    assert refused.returncode != 0
    bmc.ipmitool("user", "disable", "5")
    disabled = bmc.ipmitool("chassis", "power", "status", user="bob", password="bobpw",
                            privilege="OPERATOR", check=False)
    assert disabled.returncode != 0


def test_twenty_byte_password(bmc: BmcProcess):
    password = "a-twenty-byte-passwd"
    assert len(password) == 20
    bmc.ipmitool("user", "set", "name", "6", "longpw")
    bmc.ipmitool("user", "set", "password", "6", password, "20")
    bmc.ipmitool("channel", "setaccess", "1", "6", "ipmi=on", "privilege=4")
    bmc.ipmitool("user", "enable", "6")
    assert "wrong password size" in bmc.ipmitool("user", "test", "6", "16", password[:16],
                                                 check=False).stdout
    bmc.ipmitool("mc", "info", user="longpw", password=password)


def test_user_changes_survive_a_restart(bmc: BmcProcess):
    bmc.ipmitool("user", "set", "name", "7", "carol")
    bmc.ipmitool("user", "set", "password", "7", "carolpw")
    bmc.ipmitool("channel", "setaccess", "1", "7", "ipmi=on", "link=on", "privilege=2")
    bmc.ipmitool("user", "enable", "7")
    bmc.ipmitool("raw", "0x06", "0x40", "0x01", "0x42", "0x44")  # bmcsetup, non-volatile
    bmc.restart()
    rows = user_rows(bmc.ipmitool("user", "list", "1").stdout)
    assert rows[7] == ("carol", ["true", "true", "true", "USER"])
    bmc.ipmitool("mc", "info", user="carol", password="carolpw", privilege="USER")
    assert bmc.ipmitool("raw", "0x06", "0x41", "0x01", "0x40").stdout.split() == ["02", "04"]


def test_sysinfo_set_and_get(bmc: BmcProcess):
    bmc.ipmitool("mc", "setsysinfo", "system_name", "cn1.cluster")
    assert bmc.ipmitool("mc", "getsysinfo", "system_name").stdout.strip() == "cn1.cluster"


@pytest.mark.skipif(shutil.which("bmc-info") is None, reason="FreeIPMI is not installed")
def test_freeipmi_bmc_info(bmc: BmcProcess):
    bmc.ipmitool("mc", "setsysinfo", "system_name", "cn1.cluster")
    result = bmc.freeipmi("bmc-info")
    assert result.stderr == ""
    info = fields(result.stdout)
    assert info["IPMI Version"] == "2.0"
    assert info["Firmware Revision"] == "1.00"
    assert info["System GUID"] == configured_guid(bmc)
    # the controller's own GUID: distinct, derived from the system's, stable across restarts
    device = str(uuid.uuid5(uuid.UUID(configured_guid(bmc)), "pybmc device"))
    assert info["Device GUID"] == device
    assert info["System Name"] == "cn1.cluster"
    assert "802.3 LAN" in result.stdout
    for flag, guid in (("--get-device-guid", device), ("--get-system-guid", configured_guid(bmc))):
        assert guid in bmc.freeipmi("bmc-info", flag).stdout, flag


def test_pyghmi_users(bmc: BmcProcess):
    ipmi = bmc.pyghmi()
    try:
        users = ipmi.get_users()
        assert {uid: u["name"] for uid, u in users.items()} == {2: "admin", 3: "oper",
                                                              4: "viewer"}
        assert users[2]["access"]["privilege_level"] == "administrator"
        assert users[3]["access"]["privilege_level"] == "operator"
        ipmi.create_user(uid=8, name="dave", password="davepw", privilege_level="operator")
        dave = ipmi.get_user(8)
        assert dave["name"] == "dave"
        assert dave["access"] == {"callback": False, "link_auth": True, "ipmi_msg": True,
                                  "privilege_level": "operator"}
        assert ipmi.set_user_password(8, mode="test_password", password="davepw") is True
        assert ipmi.set_user_password(8, mode="test_password", password="wrong") is False
        bmc.ipmitool("chassis", "power", "status", user="dave", password="davepw",
                     privilege="OPERATOR")
        # One pyghmi session throughout: pyghmi reuses a logged-out session object for the
        # same BMC and user, so a second Command after logout() would not log in again.
        ipmi.user_delete(8)
        assert 8 not in ipmi.get_users()
    finally:
        ipmi.ipmi_session.logout()
    deleted = bmc.ipmitool("chassis", "power", "status", user="dave", password="davepw",
                           check=False)
    assert deleted.returncode != 0
