"""Chassis commands with real clients: power verbs, boot devices, policy, identify, POH.

The simulated machine has soft_off_delay 0.5 s and cycle_interval 0.3 s (tests/e2e/conftest.py).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.e2e.conftest import BmcProcess

pytestmark = pytest.mark.skipif(not os.path.exists("/usr/bin/ipmitool"),
                                reason="ipmitool is not installed")


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return predicate()


def power(bmc: BmcProcess, verb: str) -> str:
    return bmc.ipmitool("chassis", "power", verb).stdout.strip()


def is_on(bmc: BmcProcess) -> bool:
    return power(bmc, "status") == "Chassis Power is on"


def bootparam(bmc: BmcProcess, param: int) -> str:
    return bmc.ipmitool("chassis", "bootparam", "get", str(param)).stdout


def config_value(text: str, key: str) -> str:
    match = re.search(rf"^\s*{key}\s+(\S+)\s*$", text, re.MULTILINE)
    assert match, f"{key} not in:\n{text}"
    return match.group(1)


# ----------------------------------------------------------------- ipmitool
def test_power_cycle_is_one_transition_that_accepts_a_reset(
        bmc_factory: Callable[..., BmcProcess]):
    """Right after `power cycle` the status reads on (the cycle is committed) and a reset is
    accepted (it ends the cycle's wait), where ipmi_sim-like BMCs read off and answer 0xD5."""
    bmc = bmc_factory(power={"cycle_interval": 30.0})
    power(bmc, "on")
    assert power(bmc, "cycle") == "Chassis Power Control: Cycle"
    assert is_on(bmc)
    assert power(bmc, "reset") == "Chassis Power Control: Reset"
    assert is_on(bmc)
    assert "power on (hard reset)" in bmc.log()  # on now, not 30 s later


def test_ipmitool_chassis_status_of_a_fresh_bmc(bmc: BmcProcess):
    out = bmc.ipmitool("chassis", "status").stdout
    assert "System Power         : off" in out
    assert "Power Restore Policy : previous" in out
    assert "Power Control Fault  : false" in out
    assert "Sleep Button Disable : allowed" in out


def test_ipmitool_power_verbs(bmc: BmcProcess):
    assert power(bmc, "status") == "Chassis Power is off"
    refused = bmc.ipmitool("chassis", "power", "reset", check=False)
    assert refused.returncode != 0
    assert "not supported in present state" in refused.stderr
    assert power(bmc, "on") == "Chassis Power Control: Up/On"
    assert is_on(bmc)
    assert power(bmc, "reset") == "Chassis Power Control: Reset"
    assert power(bmc, "diag") == "Chassis Power Control: Diag"
    assert power(bmc, "cycle") == "Chassis Power Control: Cycle"
    assert is_on(bmc)  # committed: reads on through the cycle
    assert wait_until(lambda: "power on (power cycle)" in bmc.log())
    assert power(bmc, "soft") == "Chassis Power Control: Soft"
    assert wait_until(lambda: not is_on(bmc))
    power(bmc, "on")
    assert power(bmc, "off") == "Chassis Power Control: Down/Off"
    assert not is_on(bmc)
    log = bmc.log()
    assert "power on (chassis control)" in log
    assert "power off (soft off (ACPI))" in log


def test_ipmitool_bootdev_pxe_is_used_once(bmc: BmcProcess):
    assert "Set Boot Device to pxe" in bmc.ipmitool("chassis", "bootdev", "pxe").stdout
    flags = bootparam(bmc, 5)
    assert "Boot parameter 5 is valid/unlocked" in flags
    assert "- Boot Flag Valid" in flags
    assert "- Options apply to only next boot" in flags
    assert "Boot Device Selector : Force PXE" in flags
    power(bmc, "on")
    assert "- Boot Flag Invalid" in bootparam(bmc, 5)
    assert "boot (chassis control) from pxe" in bmc.log()


def test_ipmitool_bootdev_persistent_efiboot_survives_a_restart(bmc: BmcProcess):
    bmc.ipmitool("chassis", "bootdev", "disk", "options=persistent,efiboot")
    bmc.restart()
    flags = bootparam(bmc, 5)
    assert "Boot parameter data: e008000000" in flags
    assert "- Options apply to all future boots" in flags
    assert "- BIOS EFI boot" in flags
    assert "Force Boot from default Hard-Drive" in flags
    power(bmc, "on")
    power(bmc, "reset")
    assert "- Boot Flag Valid" in bootparam(bmc, 5)
    assert bmc.log().count("from disk (EFI)") == 2


def test_ipmitool_bootparam_reads_every_parameter(bmc: BmcProcess):
    bmc.ipmitool("chassis", "bootdev", "cdrom")
    assert "Set In Progress : set complete" in bootparam(bmc, 0)
    assert "No flag set" in bootparam(bmc, 3)
    assert "Boot parameter data: 0001" in bootparam(bmc, 4)
    assert "Channel Number : 0" in bootparam(bmc, 6)
    missing = bmc.ipmitool("chassis", "bootparam", "get", "8", check=False)
    assert "Unsupported parameter" in missing.stderr


def test_ipmitool_boot_mailbox_round_trip(bmc: BmcProcess):
    bmc.ipmitool("chassis", "bootmbox", "set", "text", "343", "hello from the test")
    out = bmc.ipmitool("chassis", "bootmbox", "get", "text").stdout
    assert "IANA PEN       : 343" in out
    assert "'hello from th'" in out  # block 0 holds 13 bytes after the IANA number
    assert "'e test'" in out


def test_ipmitool_policy_restart_cause_poh_identify(bmc: BmcProcess):
    out = bmc.ipmitool("chassis", "policy", "list").stdout
    assert "Supported chassis power policy:  always-off always-on previous" in out
    out = bmc.ipmitool("chassis", "policy", "always-on").stdout
    assert "Set chassis power restore policy to always-on" in out
    assert "Power Restore Policy : always-on" in bmc.ipmitool("chassis", "status").stdout
    power(bmc, "on")
    out = bmc.ipmitool("chassis", "restart_cause").stdout
    assert "System restart cause: chassis power control command" in out
    assert "POH Counter  : 0 days, 0 hours" in bmc.ipmitool("chassis", "poh").stdout
    out = bmc.ipmitool("chassis", "identify", "5").stdout
    assert "Chassis identify interval: 5 seconds" in out
    status = bmc.freeipmi("ipmi-chassis", "--get-chassis-status").stdout
    assert re.search(r"Chassis Identify state\s+: Timed on", status)


def test_restore_policy_always_on_powers_the_machine_on_after_a_restart(bmc: BmcProcess):
    bmc.ipmitool("chassis", "policy", "always-on")
    bmc.restart()
    assert is_on(bmc)
    assert "Power Restore Policy : always-on" in bmc.ipmitool("chassis", "status").stdout


def test_xcat_rsetboot_bytes_through_ipmitool_raw(bmc: BmcProcess):
    for request in (["0x03", "0x08"], ["0x00", "0x01"],
                    ["0x05", "0x80", "0x04", "0x00", "0x00", "0x00"], ["0x00", "0x00"]):
        bmc.ipmitool("raw", "0x00", "0x08", *request)
    out = bmc.ipmitool("raw", "0x00", "0x09", "0x05", "0x00", "0x00").stdout
    assert out.split() == ["01", "05", "80", "04", "00", "00", "00"]


# ----------------------------------------------------------------- FreeIPMI
def test_freeipmi_chassis_status_capabilities_cause_poh(bmc: BmcProcess):
    out = bmc.freeipmi("ipmi-chassis", "--get-chassis-status").stdout
    assert re.search(r"System Power\s+: off", out)
    assert re.search(r"Power restore policy\s+: Restore", out)
    out = bmc.freeipmi("ipmi-chassis", "--get-chassis-capabilities").stdout
    assert re.search(r"SEL Device Address\s+: 20h", out)
    assert re.search(r"Bridge Device Address\s+: 20h", out)
    # consistent with Chassis Status, which says every front panel button can be disabled
    assert re.search(r"Front panel lockout\s+: provided", out, re.IGNORECASE), out
    bmc.freeipmi("ipmi-chassis", "--chassis-control=POWER-UP")
    out = bmc.freeipmi("ipmi-chassis", "--get-system-restart-cause").stdout
    assert "Chassis control command" in out
    out = bmc.freeipmi("ipmi-chassis", "--get-power-on-hours-counter").stdout
    assert "0 Hours" in out


def test_freeipmi_chassis_config_boot_flags(bmc: BmcProcess, tmp_path: Path):
    bmc.ipmitool("chassis", "bootdev", "cdrom")
    out = bmc.freeipmi("ipmi-chassis-config", "--checkout", "--section",
                       "Chassis_Boot_Flags").stdout
    assert config_value(out, "Boot_Device") == "CD-DVD"
    assert config_value(out, "Boot_Flags_Persistent") == "No"
    bmc.freeipmi("ipmi-chassis-config", "--commit",
                 "-e", "Chassis_Boot_Flags:Boot_Device=PXE",
                 "-e", "Chassis_Boot_Flags:BIOS_Boot_Type=EFI")
    flags = bootparam(bmc, 5)
    assert "Force PXE" in flags
    assert "- BIOS EFI boot" in flags


def test_freeipmi_chassis_config_round_trips_every_section(bmc: BmcProcess, tmp_path: Path):
    saved = tmp_path / "chassis.conf"
    bmc.freeipmi("ipmi-chassis-config", "--checkout", "--filename", str(saved))
    bmc.freeipmi("ipmi-chassis-config", "--commit", "--filename", str(saved))
    bmc.freeipmi("ipmi-chassis-config", "--commit",
                 "-e", "Chassis_Front_Panel_Buttons:Enable_Reset_Button=No",
                 "-e", "Chassis_Power_Conf:Power_Restore_Policy=On_State_AC_Apply")
    out = bmc.freeipmi("ipmi-chassis-config", "--checkout").stdout
    assert config_value(out, "Enable_Reset_Button") == "No"
    assert config_value(out, "Power_Restore_Policy") == "On_State_AC_Apply"
    assert "Reset Button Disabled: true" in bmc.ipmitool("chassis", "status").stdout


def test_ipmipower_on_off_stat(bmc: BmcProcess):
    def ipmipower(*args: str) -> str:
        return bmc.freeipmi("ipmipower", *args).stdout.strip()

    assert ipmipower("--stat") == f"{bmc.address}: off"
    assert ipmipower("--on") == f"{bmc.address}: ok"
    assert ipmipower("--stat") == f"{bmc.address}: on"
    assert ipmipower("--off") == f"{bmc.address}: ok"
    assert ipmipower("--stat") == f"{bmc.address}: off"


# ----------------------------------------------------------------- pyghmi
def test_pyghmi_power_and_boot_device(bmc: BmcProcess):
    client = bmc.pyghmi()
    assert client.get_power() == {"powerstate": "off"}
    assert client.set_power("on", wait=True) == {"powerstate": "on"}
    assert client.set_bootdev("network", uefiboot=True) == {"bootdev": "network"}
    assert client.get_bootdev() == {"bootdev": "network", "persistent": False,
                                    "uefimode": True}
    client.set_power("reset")
    assert client.get_bootdev() == {"bootdev": "default", "persistent": True}
    client.set_bootdev("hd", persist=True)
    assert client.get_bootdev() == {"bootdev": "hd", "persistent": True, "uefimode": False}
    assert client.set_power("off", wait=True) == {"powerstate": "off"}
