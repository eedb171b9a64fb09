"""FreeIPMI's full checkouts (bmc-config, ipmi-pef-config, ipmi-config, every category), as
MAAS commissioning and operators run them, and a commit of each file reading back identically.

Every checkout exits 0. For the core category (= `bmc-config`) that takes what FreeIPMI 1.6
always asks for: a serial/modem channel (Serial_Channel, Serial_Conf and the UserN Serial_*
keys; pybmc's channel 2, medium RS-232) and cipher suite IDs 0-15 in LAN parameter 23 (the
Rmcpplus_Conf_Privilege keys; suites the config does not enable read "Unused" and stay
refused at login).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.e2e.conftest import BmcProcess

SUITES = (3, 17)


def unable(checkout: str) -> set[str]:
    return {m.group(1) for m in re.finditer(r"## Unable to checkout (\S+?)(?: :.*)?$",
                                            checkout, re.MULTILINE)}


@pytest.fixture
def node(bmc_factory) -> BmcProcess:
    return bmc_factory(security={"cipher_suites": list(SUITES)}, redfish={"enabled": False})


def commit_reads_back(bmc: BmcProcess, tmp: Path, tool: str, *args: str) -> None:
    first = bmc.freeipmi(tool, *args, "--checkout", check=False, timeout=120).stdout
    saved = tmp / f"{tool}{'-'.join(args)}.conf"
    saved.write_text(first)
    bmc.freeipmi(tool, *args, "--commit", "--filename", str(saved))
    assert bmc.freeipmi(tool, *args, "--checkout", check=False).stdout == first


@pytest.mark.parametrize("tool,args", [("ipmi-pef-config", ()),
                                       ("ipmi-config", ("--category=chassis",)),
                                       ("ipmi-config", ("--category=pef",)),
                                       # An empty Asset_Tag once made this commit loop forever.
                                       ("ipmi-config", ("--category=dcmi",)),
                                       ("ipmi-config", ("--category=sensors",))])
def test_full_checkout_exits_0_and_commit_reads_back(node: BmcProcess, tmp_path: Path,
                                                     tool: str, args: tuple[str, ...]):
    result = node.freeipmi(tool, *args, "--checkout", "-vv", check=False, timeout=120)
    assert result.returncode == 0, unable(result.stdout) or result.stderr
    assert not unable(result.stdout)
    commit_reads_back(node, tmp_path, tool, *args)


def setting(checkout: str, section: str, key: str) -> str:
    body = checkout.split(f"Section {section}\n", 1)[1].split("EndSection", 1)[0]
    match = re.search(rf"^\t{re.escape(key)}\s+(\S.*)$", body, re.MULTILINE)
    assert match, f"{section}:{key} not in:\n{body}"
    return match.group(1).strip()


@pytest.mark.parametrize("tool,args", [("bmc-config", ()), ("ipmi-config", ())])
def test_core_checkout_exits_0_and_commit_reads_back(node: BmcProcess, tmp_path: Path,
                                                      tool: str, args: tuple[str, ...]):
    result = node.freeipmi(tool, *args, "--checkout", "-vv", check=False, timeout=120)
    assert result.returncode == 0, unable(result.stdout) or result.stderr
    assert not unable(result.stdout)
    out = result.stdout
    # Parameter 24 by suite ID: suite 3 enabled, the others (suite 0 above all) unused.
    assert setting(out, "Rmcpplus_Conf_Privilege",
                   "Maximum_Privilege_Cipher_Suite_Id_3") == "Administrator"
    for suite in (0, 1, 2, 15):
        assert setting(out, "Rmcpplus_Conf_Privilege",
                       f"Maximum_Privilege_Cipher_Suite_Id_{suite}") == "Unused"
    assert setting(out, "Serial_Channel", "Volatile_Access_Mode") == "Disabled"
    assert setting(out, "Serial_Conf", "Bit_Rate") == "115200"
    assert setting(out, "Serial_Conf", "Connect_Mode") == "Direct_Connect"
    assert setting(out, "User2", "Serial_Privilege_Limit") == "No_Access"
    assert setting(out, "Lan6_Conf", "IPv6_IPv4_Addressing_Enables") == "IPv6_Disabled"
    commit_reads_back(node, tmp_path, tool, *args)


def test_core_commit_of_changed_serial_and_cipher_keys_reads_back(node: BmcProcess,
                                                                  tmp_path: Path):
    """bmc-config --commit of edited keys, each family pybmc stores: the serial channel's
    access and settings, a user's serial access, a cipher suite's cap, IPv6 addressing."""
    edits = {
        ("Serial_Channel", "Volatile_Access_Mode"): "Always_Available",
        ("Serial_Channel", "Non_Volatile_Channel_Privilege_Limit"): "Operator",
        ("Serial_Conf", "Bit_Rate"): "57600",
        ("Serial_Conf", "Flow_Control"): "RTS_CTS",
        ("Serial_Conf", "Enable_Terminal_Mode"): "Yes",
        ("Serial_Conf", "Page_Blackout_Interval"): "5",
        ("Serial_Conf", "Call_Retry_Interval"): "30",
        ("User2", "Serial_Enable_IPMI_Msgs"): "Yes",
        ("User2", "Serial_Privilege_Limit"): "Operator",
        ("Rmcpplus_Conf_Privilege", "Maximum_Privilege_Cipher_Suite_Id_3"): "Operator",
        ("Lan6_Conf", "IPv6_IPv4_Addressing_Enables"): "IPv6_and_IPv4",
    }
    lines = ["# edited keys only"]
    sections: dict[str, list[str]] = {}
    for (section, key), value in edits.items():
        sections.setdefault(section, []).append(f"\t{key} {value}")
    for section, keys in sections.items():
        lines += [f"Section {section}", *keys, "EndSection"]
    edited = tmp_path / "edited.conf"
    edited.write_text("\n".join(lines) + "\n")
    node.freeipmi("bmc-config", "--commit", "--filename", str(edited))
    # FreeIPMI logs in with suite 3 by default: from now on suite 17, still administrator.
    # (-vv: without it FreeIPMI fails the Lan_Conf_Auth keys of auth types parameter 1 does
    # not list, OEM on any BMC without OEM authentication; docs/ipmi.md)
    via_17 = "--cipher-suite-id=17"
    after = node.freeipmi("bmc-config", via_17, "--checkout", "-vv", timeout=120).stdout
    for (section, key), value in edits.items():
        assert setting(after, section, key) == value, (section, key)
    # Suite 3 capped at operator: an administrator login on it is refused, operator works.
    assert node.ipmitool("chassis", "power", "status", cipher=3, privilege="ADMINISTRATOR",
                         check=False).returncode != 0
    node.ipmitool("chassis", "power", "status", cipher=3, privilege="OPERATOR")
    # A commit made again from that checkout changes nothing.
    saved = tmp_path / "after.conf"
    saved.write_text(after)
    node.freeipmi("bmc-config", via_17, "-vv", "--commit", "--filename", str(saved))
    assert node.freeipmi("bmc-config", via_17, "--checkout", "-vv",
                         timeout=120).stdout == after


def test_plain_core_checkout_fails_only_on_auth_types_the_bmc_does_not_offer(node: BmcProcess):
    """Without -v FreeIPMI hides the Lan_Conf_Auth keys of auth types LAN parameter 1 does not
    list, and counts each as a non-fatal error: exit 1 on any BMC without, say, OEM
    authentication. Every other section checks out with exit 0 (docs/ipmi.md)."""
    sections = re.findall(r"^Section (\S+)$", node.freeipmi(
        "bmc-config", "--checkout", check=False, timeout=120).stdout, re.MULTILINE)
    assert "Serial_Conf" not in sections  # FreeIPMI checks serial keys out with -v only
    others = [arg for section in sections if section != "Lan_Conf_Auth"
              for arg in ("-S", section)]
    node.freeipmi("bmc-config", "--checkout", *others, timeout=120)
    auth = node.freeipmi("bmc-config", "--checkout", "-S", "Lan_Conf_Auth", check=False)
    assert auth.returncode == 1
    assert re.findall(r"^\t(\w+)_Enable_Auth_Type_(\w+)", auth.stdout, re.MULTILINE) == [
        (level, "MD5") for level in ("Callback", "User", "Operator", "Admin", "OEM")]
