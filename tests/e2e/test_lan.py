"""LAN and SOL configuration parameters through real ipmitool, FreeIPMI and pyghmi."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.e2e.conftest import BmcProcess, next_address

pytestmark = pytest.mark.skipif(not os.path.exists("/usr/bin/ipmitool"),
                                reason="ipmitool is not installed")

LAN_PRINT_KEYS = (
    "Set in Progress", "Auth Type Support", "Auth Type Enable", "IP Address Source",
    "IP Address", "Subnet Mask", "MAC Address", "SNMP Community String", "IP Header",
    "BMC ARP Control", "Gratituous ARP Intrvl", "Default Gateway IP", "Default Gateway MAC",
    "Backup Gateway IP", "Backup Gateway MAC", "802.1q VLAN ID", "802.1q VLAN Priority",
    "RMCP+ Cipher Suites", "Cipher Suite Priv Max", "Bad Password Threshold",
)


def fields(text: str) -> dict[str, str]:
    """`Key   : value` lines of ipmitool output (the first occurrence of each key)."""
    result: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip():
            result.setdefault(key.strip(), value.strip())
    return result


def clean(result: subprocess.CompletedProcess[str]) -> str:
    """The stdout of a client run that printed no error of any kind."""
    text = result.stdout + result.stderr
    # ("Invalid password disable" is an ordinary `lan print` line.)
    for phrase in ("rror", "failed", "ot supported", "Invalid value", "Unable", "not match"):
        assert phrase not in text, text
    assert result.stderr.strip() == "", result.stderr
    return result.stdout


def lan_print(bmc: BmcProcess, **kw: object) -> dict[str, str]:
    return fields(clean(bmc.ipmitool("lan", "print", "1", **kw)))  # type: ignore[arg-type]


def sol_info(bmc: BmcProcess, *channel: str) -> dict[str, str]:
    return fields(clean(bmc.ipmitool("sol", "info", *channel)))


@pytest.mark.parametrize("interface", ["lanplus", "lan"])
def test_lan_print_is_complete(bmc: BmcProcess, interface: str):
    info = lan_print(bmc, interface=interface)
    for key in LAN_PRINT_KEYS:
        assert key in info, key
    assert info["Set in Progress"] == "Set Complete"
    assert info["IP Address Source"] == "Static Address"
    assert info["IP Address"] == bmc.address
    assert info["Subnet Mask"] == "255.255.255.0"
    assert info["SNMP Community String"] == "public"
    assert info["802.1q VLAN ID"] == "Disabled"
    # Suite IDs 0-15, enabled or not; the enabled 3 has a level, the rest read unused (X).
    assert info["RMCP+ Cipher Suites"] == ",".join(str(n) for n in range(16))
    assert info["Cipher Suite Priv Max"] == "XXXaXXXXXXXXXXX"
    assert info["Auth Type Support"] == "MD5"
    mac = info["MAC Address"]
    assert len(mac.split(":")) == 6 and int(mac[:2], 16) & 0x03 == 0x02  # local, unicast


def test_lan_set_reads_back(bmc: BmcProcess):
    writes = [
        (("ipsrc", "static"), "IP Address Source", "Static Address"),
        (("netmask", "255.255.0.0"), "Subnet Mask", "255.255.0.0"),
        (("defgw", "ipaddr", "10.77.0.1"), "Default Gateway IP", "10.77.0.1"),
        (("defgw", "macaddr", "52:54:00:00:00:01"), "Default Gateway MAC", "52:54:00:00:00:01"),
        (("bakgw", "ipaddr", "10.77.0.2"), "Backup Gateway IP", "10.77.0.2"),
        (("vlan", "id", "5"), "802.1q VLAN ID", "5"),
        (("vlan", "priority", "3"), "802.1q VLAN Priority", "3"),
        (("vlan", "id", "off"), "802.1q VLAN ID", "Disabled"),
        (("snmp", "cluster"), "SNMP Community String", "cluster"),
        (("arp", "respond", "on"), "BMC ARP Control",
         "ARP Responses Enabled, Gratuitous ARP Disabled"),
        (("cipher_privs", "XXXoXXXXXXXXXXX"), "Cipher Suite Priv Max", "XXXoXXXXXXXXXXX"),
    ]
    for args, key, expected in writes:
        # `lan set` reads every value back itself and retries 10 x 3 s on a mismatch.
        result = bmc.ipmitool("lan", "set", "1", *args, timeout=20)
        assert "does not match" not in result.stdout + result.stderr
        assert lan_print(bmc)[key] == expected, args
    clean(bmc.ipmitool("lan", "set", "1", "access", "on"))
    assert lan_print(bmc)["Set in Progress"] == "Set Complete"


def test_lan_set_ipaddr(bmc: BmcProcess):
    new = next_address()
    clean(bmc.ipmitool("lan", "set", "1", "ipaddr", new, timeout=20))
    # Until pybmc moves to a new address it keeps the old one; then the new one answers.
    for address in (bmc.address, new):
        result = bmc.ipmitool("lan", "print", "1", address=address, check=False)
        if result.returncode == 0:
            assert fields(result.stdout)["IP Address"] == new
            return
    pytest.fail("no address answers after lan set ipaddr")


def test_a_cipher_suite_level_does_not_enable_the_suite(bmc: BmcProcess):
    """Parameter 23 lists suites 0-15; a level written for one the config does not enable
    (here every one, like the guides that run `cipher_privs aaaaaaaaaaaaaaa`) reads back,
    but the suite stays refused: only [security] cipher_suites enables suites."""
    clean(bmc.ipmitool("lan", "set", "1", "cipher_privs", "a" * 15, timeout=20))
    assert lan_print(bmc)["Cipher Suite Priv Max"] == "a" * 15
    for weak in (0, 1, 2):
        assert bmc.ipmitool("chassis", "power", "status", cipher=weak,
                            check=False).returncode != 0, weak
    bmc.ipmitool("chassis", "power", "status", cipher=3)
    assert "stay refused" in bmc.log()


def test_lan_settings_survive_a_restart(bmc: BmcProcess):
    bmc.ipmitool("lan", "set", "1", "snmp", "kept", timeout=20)
    bmc.ipmitool("lan", "set", "1", "netmask", "255.255.240.0", timeout=20)
    bmc.ipmitool("sol", "set", "non-volatile-bit-rate", "38.4", "1")
    bmc.restart()
    info = lan_print(bmc)
    assert info["SNMP Community String"] == "kept"
    assert info["Subnet Mask"] == "255.255.240.0"
    assert sol_info(bmc, "1")["Non-Volatile Bit Rate (kbps)"] == "38.4"


def test_lan_stats_and_alert_destinations(bmc: BmcProcess):
    result = bmc.ipmitool("lan", "stats", "get", "1")
    assert result.stderr.strip() == ""  # (its lines say "Errors", so no clean() here)
    stats = fields(result.stdout)
    assert len(stats) == 9 and "RMCP Rx Valid" in stats
    clean(bmc.ipmitool("lan", "alert", "set", "1", "1", "ipaddr", "10.0.0.9"))
    alert = fields(clean(bmc.ipmitool("lan", "alert", "print", "1", "1")))
    assert alert["Alert IP Address"] == "10.0.0.9"


def test_sol_info_prints_every_parameter(bmc: BmcProcess):
    for channel in ((), ("1",)):
        info = sol_info(bmc, *channel)
        assert info["Set in progress"] == "set-complete"
        assert info["Enabled"] == "true"
        assert info["Privilege Level"] == "USER"
        assert info["Non-Volatile Bit Rate (kbps)"] == "115.2"
        assert info["Payload Channel"] == "1 (0x01)"
        assert info["Payload Port"] == str(bmc.port)


def test_sol_set_reads_back(bmc: BmcProcess):
    writes = [
        (("enabled", "false"), "Enabled", "false"),
        (("enabled", "true"), "Enabled", "true"),
        (("privilege-level", "admin"), "Privilege Level", "ADMINISTRATOR"),
        (("force-encryption", "true"), "Force Encryption", "true"),
        (("force-authentication", "true"), "Force Authentication", "true"),
        (("character-accumulate-level", "10"), "Character Accumulate Level (ms)", "50"),
        (("character-send-threshold", "40"), "Character Send Threshold", "40"),
        (("retry-count", "5"), "Retry Count", "5"),
        (("retry-interval", "30"), "Retry Interval (ms)", "300"),
        (("non-volatile-bit-rate", "115.2"), "Non-Volatile Bit Rate (kbps)", "115.2"),
        (("volatile-bit-rate", "57.6"), "Volatile Bit Rate (kbps)", "57.6"),
    ]
    for args, key, expected in writes:
        clean(bmc.ipmitool("sol", "set", *args, "1"))
        info = sol_info(bmc, "1")
        assert info[key] == expected, args
        assert info["Set in progress"] == "set-complete"


def test_sol_payload_access(bmc: BmcProcess):
    clean(bmc.ipmitool("sol", "payload", "enable", "1", "2"))
    status = clean(bmc.ipmitool("sol", "payload", "status", "1", "2"))
    assert "enabled" in status


@pytest.mark.skipif(shutil.which("ipmi-config") is None, reason="FreeIPMI is not installed")
def test_freeipmi_ipmi_config_core_checkout_and_commit(bmc: BmcProcess):
    result = bmc.freeipmi("ipmi-config", "--checkout", "--category=core", check=False)
    # Without -v FreeIPMI exits 1 for the auth types the BMC does not offer ("None"/"OEM"),
    # as with real BMCs (docs/ipmi.md); anything worse prints to stderr.
    assert result.returncode in (0, 1), result.stdout + result.stderr
    assert result.stderr.strip() == ""
    text = result.stdout
    for section in ("Lan_Conf", "Lan_Conf_Auth", "Lan_Conf_Misc", "Lan_Conf_User_Security",
                    "Rmcpplus_Conf_Privilege", "SOL_Conf"):
        assert f"Section {section}\n" in text, section
    assert f"IP_Address                                    {bmc.address}" in text
    assert "Enable_SOL                                    Yes" in text
    bmc.freeipmi("ipmi-config", "--commit", "-e", "Lan_Conf:Subnet_Mask=255.255.255.128",
                 "-e", "SOL_Conf:Non_Volatile_Bit_Rate=57600",
                 "-e", "Lan_Conf_Misc:Gratuitous_ARP_Interval=6")
    after = bmc.freeipmi("ipmi-config", "--checkout", "-S", "Lan_Conf", "-S", "SOL_Conf",
                         "-S", "Lan_Conf_Misc").stdout
    assert "Subnet_Mask                                   255.255.255.128" in after
    assert "Non_Volatile_Bit_Rate                         57600" in after
    assert "Gratuitous_ARP_Interval                       6" in after


@pytest.mark.skipif(shutil.which("bmc-config") is None, reason="bmc-config is not installed")
def test_freeipmi_bmc_config_checkout(bmc: BmcProcess):
    result = bmc.freeipmi("bmc-config", "--checkout", "-S", "Lan_Conf", check=False)
    assert result.returncode in (0, 1)
    assert result.stderr.strip() == ""
    assert bmc.address in result.stdout


def test_pyghmi_get_net_configuration(bmc: BmcProcess):
    ipmi = bmc.pyghmi()
    try:
        config = ipmi.get_net_configuration()
    finally:
        ipmi.ipmi_session.logout()
    assert config["ipv4_address"] == f"{bmc.address}/24"
    assert config["ipv4_configuration"] == "Static"
    assert config["ipv4_gateway"] is None  # 0.0.0.0
    assert config["vlan_id"] == "off"
    assert int(config["mac_address"][:2], 16) & 0x03 == 0x02
