"""IPv6 LAN parameters (50-80) through real ipmitool `lan6` and FreeIPMI `Lan6_Conf`."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from tests.e2e.conftest import BmcProcess

pytestmark = pytest.mark.skipif(not os.path.exists("/usr/bin/ipmitool"),
                                reason="ipmitool is not installed")


def clean(result: subprocess.CompletedProcess[str]) -> str:
    """The stdout of a lan6 run that printed no error (it prints "not supported" as a value
    and "Getting/Setting parameter(s)..." on stderr)."""
    assert result.returncode == 0, result.stdout + result.stderr
    for phrase in ("rror", "Failed", "Invalid", "Unable"):
        assert phrase not in result.stdout + result.stderr, result.stdout + result.stderr
    assert result.stderr.strip() in ("", "Getting parameter(s)...", "Setting parameter(s)..."), \
        result.stderr
    return result.stdout


def lan6_print(bmc: BmcProcess, *args: str) -> str:
    return clean(bmc.ipmitool("lan6", "print", "1", *args))


def test_lan6_print_is_complete(bmc: BmcProcess):
    text = lan6_print(bmc)
    for line in ("IPv4 and IPv6: yes", "IPv6/IPv4 Addressing Enables: ipv4",
                 "IPv6 Header Static Hop Limit: 64", "Static address max:  2",
                 "IPv6 Static Address 1:", "IPv6 Dynamic Address 0:",
                 "Source/Type:    SLAAC", "IPv6 DHCPv6 Static DUID 0:",
                 "Enable dynamic router address: yes", "IPv6 Static Router 2:",
                 "IPv6 DHCPv6 Timing Configuration Support: not supported"):
        assert line in text, text
    assert "IPv6 Static Address 2:" not in text
    assert "fe80::" in text  # the link-local address of the BMC's MAC


def test_lan6_set_reads_back(bmc: BmcProcess):
    writes = [
        ("enables", "both"),
        ("traffic_class", "184"),
        ("static_hops", "32"),
        ("flow_label", "12345"),
        ("static_addr", "1", "enable", "2001:db8::42", "64"),
        ("static_rtr", "1", "2001:db8::1", "52:54:00:00:00:01", "2001:db8::", "64"),
        ("rtr_cfg", "both"),
        ("static_duid", "0", "0", "0e00012a2b2c2d525400aabbcc000000"),
    ]
    for write in writes:
        clean(bmc.ipmitool("lan6", "set", "1", "nolock", *write))
    text = lan6_print(bmc)
    for line in ("IPv6/IPv4 Addressing Enables: both", "IPv6 Header Traffic Class: 184",
                 "IPv6 Header Static Hop Limit: 32", "IPv6 Header Flow Label: 12345",
                 "Address:        2001:db8::42/64", "Status:         active",
                 "Address: 2001:db8::1", "MAC:     52:54:00:00:00:01",
                 "Prefix:  2001:db8::/64", "Enable static router address:  yes",
                 "Length:   14", "Type:     DUID-LLT", "0e00012a2b2c2d525400aabbcc000000"):
        assert line in text, text
    bmc.restart()
    assert "Address:        2001:db8::42/64" in lan6_print(bmc)


def test_lan6_bad_value_is_refused(bmc: BmcProcess):
    result = bmc.ipmitool("lan6", "set", "1", "nolock", "static_addr", "2", "enable",
                          "2001:db8::42", "64", check=False)
    assert result.returncode != 0
    assert "Invalid data field" in result.stdout + result.stderr


@pytest.mark.skipif(shutil.which("bmc-config") is None, reason="FreeIPMI is not installed")
def test_bmc_config_lan6_checkout_and_commit(bmc: BmcProcess):
    checkout = bmc.freeipmi("bmc-config", "--checkout", "-S", "Lan6_Conf").stdout
    assert "Section Lan6_Conf" in checkout, checkout
    assert "IPv6_IPv4_Addressing_Enables" in checkout
    assert "IPv6_Static_Address " in checkout  # set selector 0; -v lists every selector
    verbose = bmc.freeipmi("bmc-config", "--checkout", "-v", "-S", "Lan6_Conf").stdout
    assert "IPv6_Static_Address_1 " in verbose and "IPv6_Static_Address_2 " not in verbose
    assert "IPv6_Dynamic_Address_0" in verbose and "fe80::" in verbose  # read-only link-local
    bmc.freeipmi("bmc-config", "--commit",  # the keys without a suffix are selector 0
                 "-e", "Lan6_Conf:IPv6_IPv4_Addressing_Enables=IPv6_and_IPv4",
                 "-e", "Lan6_Conf:IPv6_Static_Address=2001:db8::7",
                 "-e", "Lan6_Conf:IPv6_Static_Address_Prefix_Length=48",
                 "-e", "Lan6_Conf:IPv6_Static_Address_Enable=Yes",
                 "-e", "Lan6_Conf:IPv6_Static_Router_Address_1=2001:db8::1")
    bmc.freeipmi("bmc-config", "--commit", "-v",
                 "-e", "Lan6_Conf:IPv6_Static_Address_1=2001:db8::8")
    after = bmc.freeipmi("bmc-config", "--checkout", "-v", "-S", "Lan6_Conf").stdout
    values = {}
    for line in after.splitlines():
        parts = line.split(None, 1)
        if len(parts) == 2 and not parts[0].startswith("#"):
            values[parts[0]] = parts[1].strip()
    assert values["IPv6_IPv4_Addressing_Enables"] == "IPv6_and_IPv4"
    assert values["IPv6_Static_Address_0"] == "2001:db8::7"
    assert values["IPv6_Static_Address_Prefix_Length_0"] == "48"
    assert values["IPv6_Static_Address_Enable_0"] == "Yes"
    # Read-only keys are listed as comments.
    assert re.search(r"## IPv6_Static_Address_Status_0\s+Active\n", after), after
    assert values["IPv6_Static_Router_Address_1"] == "2001:db8::1"
    assert values["IPv6_Static_Address_1"] == "2001:db8::8"
    assert re.search(r"## IPv6_Static_Address_Status_1\s+Disabled\n", after)  # not enabled
    # The whole core category lists the section too (its exit status 1 comes from keys of
    # other sections a BMC does not offer: see test_lan.py).
    full = bmc.freeipmi("ipmi-config", "--checkout", "--category=core", check=False)
    assert full.stderr.strip() == "" and "Section Lan6_Conf\n" in full.stdout
