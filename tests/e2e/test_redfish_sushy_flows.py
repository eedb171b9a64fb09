"""The sushy flows Ironic runs, each read back over IPMI on the same `pybmc serve` and back.

Power: On, ForceOff, GracefulRestart, PowerCycle, Nmi; boot override Pxe/Once/UEFI,
Hdd/Continuous and UefiHttp with HttpBootUri against `chassis bootparam get 5`; users made
over IPMI log in over Redfish with a sushy session, users made over Redfish log in over IPMI.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.e2e.conftest import IPMITOOL, BmcProcess
from tests.e2e.test_redfish import bmc, connect, https, open_sushy, power_status, wait_power

sushy = pytest.importorskip("sushy")
pytestmark = pytest.mark.skipif(IPMITOOL is None, reason="ipmitool not installed")
__all__ = ["bmc"]  # the fixture

BOOT_URI = "http://192.0.2.10/boot/shimx64.efi"


def bootparam(bmc: BmcProcess) -> str:
    return bmc.ipmitool("chassis", "bootparam", "get", "5").stdout


def wait_override_used(bmc: BmcProcess) -> None:
    """A restart is a boot: it uses up a one-time override (the valid bit goes)."""
    deadline = time.monotonic() + 15
    while "Boot Flag Valid" in bootparam(bmc):
        assert time.monotonic() < deadline, "the restart never booted"
        time.sleep(0.1)


def restart_cause(bmc: BmcProcess) -> str:
    return bmc.ipmitool("chassis", "restart_cause").stdout.strip()


def test_graceful_restart_and_power_cycle_are_boots_seen_over_ipmi(bmc: BmcProcess) -> None:
    system = connect(bmc)
    system.reset_system(sushy.RESET_ON)
    wait_power(bmc, "Chassis Power is on")
    for reset in (sushy.RESET_GRACEFUL_RESTART, sushy.RESET_TYPE_POWER_CYCLE):
        bmc.ipmitool("chassis", "bootdev", "pxe")  # one-time: the next boot uses it up
        assert "Boot Flag Valid" in bootparam(bmc)
        system.reset_system(reset)
        wait_override_used(bmc)
        wait_power(bmc, "Chassis Power is on")
        assert "chassis power control command" in restart_cause(bmc)
    system.refresh()
    assert system.power_state == sushy.SYSTEM_POWER_STATE_ON
    # The other way: IPMI powers off, sushy sees it.
    bmc.ipmitool("chassis", "power", "off")
    system.refresh()
    assert system.power_state == sushy.SYSTEM_POWER_STATE_OFF


def test_nmi_reaches_a_running_machine_and_is_refused_when_off(bmc: BmcProcess) -> None:
    system = connect(bmc)
    bmc.ipmitool("chassis", "power", "on")
    system.reset_system(sushy.RESET_NMI)
    deadline = time.monotonic() + 10
    while "diagnostic interrupt (NMI) delivered" not in bmc.log():
        assert time.monotonic() < deadline, bmc.log()[-2000:]
        time.sleep(0.1)
    assert power_status(bmc) == "Chassis Power is on"  # an NMI is no power change
    system.reset_system(sushy.RESET_FORCE_OFF)
    wait_power(bmc, "Chassis Power is off")
    with pytest.raises(sushy.exceptions.HTTPError) as refused:
        system.reset_system(sushy.RESET_NMI)
    assert refused.value.status_code == 409


def test_boot_override_pxe_once_uefi_and_hdd_continuous_both_ways(bmc: BmcProcess) -> None:
    system = connect(bmc)
    system.set_system_boot_options(sushy.BOOT_SOURCE_TARGET_PXE,
                                   enabled=sushy.BOOT_SOURCE_ENABLED_ONCE,
                                   mode=sushy.BOOT_SOURCE_MODE_UEFI)
    shown = bootparam(bmc)
    assert "Force PXE" in shown and "Options apply to only next boot" in shown
    assert "BIOS EFI boot" in shown
    system.set_system_boot_options(sushy.BOOT_SOURCE_TARGET_HDD,
                                   enabled=sushy.BOOT_SOURCE_ENABLED_CONTINUOUS,
                                   mode=sushy.BOOT_SOURCE_MODE_BIOS)
    shown = bootparam(bmc)
    assert "Force Boot from default Hard-Drive" in shown
    assert "Options apply to all future boots" in shown and "BIOS PC Compatible" in shown
    # The other way round: ipmitool writes, sushy reads.
    bmc.ipmitool("chassis", "bootdev", "pxe", "options=efiboot")
    system.refresh()
    assert (system.boot.target, system.boot.enabled, system.boot.mode) == (
        sushy.BOOT_SOURCE_TARGET_PXE, sushy.BOOT_SOURCE_ENABLED_ONCE,
        sushy.BOOT_SOURCE_MODE_UEFI)
    bmc.ipmitool("chassis", "bootdev", "disk", "options=persistent")
    system.refresh()
    assert (system.boot.target, system.boot.enabled, system.boot.mode) == (
        sushy.BOOT_SOURCE_TARGET_HDD, sushy.BOOT_SOURCE_ENABLED_CONTINUOUS,
        sushy.BOOT_SOURCE_MODE_BIOS)


def test_uefi_http_boot_with_a_uri_is_pxe_efi_over_ipmi(bmc: BmcProcess) -> None:
    system = connect(bmc)
    system.set_system_boot_options(sushy.BOOT_SOURCE_TARGET_UEFI_HTTP,
                                   enabled=sushy.BOOT_SOURCE_ENABLED_ONCE,
                                   http_boot_uri=BOOT_URI)
    system.refresh()
    assert (system.boot.target, system.boot.http_boot_uri, system.boot.mode) == (
        sushy.BOOT_SOURCE_TARGET_UEFI_HTTP, BOOT_URI, sushy.BOOT_SOURCE_MODE_UEFI)
    shown = bootparam(bmc)  # IPMI has no HTTP boot device: the nearest, PXE over EFI
    assert "Force PXE" in shown and "BIOS EFI boot" in shown and "Boot Flag Valid" in shown
    # The boot uses it up like any one-time override.
    system.reset_system(sushy.RESET_ON)
    wait_override_used(bmc)
    # Back to a plain target: sushy clears the URI it saw.
    system.refresh()
    system.set_system_boot_options(sushy.BOOT_SOURCE_TARGET_HDD,
                                   enabled=sushy.BOOT_SOURCE_ENABLED_ONCE)
    system.refresh()
    assert (system.boot.target, system.boot.http_boot_uri) == (
        sushy.BOOT_SOURCE_TARGET_HDD, None)
    # An IPMI write of PXE + EFI is plain PXE again for Redfish.
    system.set_system_boot_options(sushy.BOOT_SOURCE_TARGET_UEFI_HTTP)
    bmc.ipmitool("chassis", "bootdev", "pxe", "options=efiboot")
    system.refresh()
    assert system.boot.target == sushy.BOOT_SOURCE_TARGET_PXE


def sessions_of(bmc: BmcProcess) -> list[str]:
    status, listed = https(bmc, "GET", "/redfish/v1/SessionService/Sessions")
    assert status == 200
    names = []
    for member in listed["Members"]:
        names.append(https(bmc, "GET", member["@odata.id"])[1]["UserName"])
    return names


def test_ipmi_user_logs_in_with_a_sushy_session_and_redfish_user_over_ipmi(
        bmc: BmcProcess) -> None:
    bmc.ipmitool("user", "set", "name", "7", "ipmimade")
    bmc.ipmitool("user", "set", "password", "7", "ipmipw77")
    bmc.ipmitool("channel", "setaccess", "1", "7", "link=on", "ipmi=on", "privilege=4")
    bmc.ipmitool("user", "enable", "7")
    auth = sushy.auth.SessionAuth(username="ipmimade", password="ipmipw77")
    root = open_sushy(bmc.address, auth=auth)
    system = root.get_system(f"/redfish/v1/Systems/{bmc.configs[0]['bmc']['name']}")
    system.reset_system(sushy.RESET_ON)
    wait_power(bmc, "Chassis Power is on")
    assert "ipmimade" in sessions_of(bmc)  # a real session, not Basic
    # A wrong IPMI password change shows at once: the old one no longer logs in.
    bmc.ipmitool("user", "set", "password", "7", "changed77")
    with pytest.raises(sushy.exceptions.AccessError):
        open_sushy(bmc.address, auth=sushy.auth.SessionAuth(username="ipmimade",
                                                            password="ipmipw77"),
                   ).get_system_collection()
    # The reverse: an account made over Redfish runs IPMI commands at its role's privilege.
    status, made = https(bmc, "POST", "/redfish/v1/AccountService/Accounts",
                         {"UserName": "rfmade", "Password": "rfmadepw", "RoleId": "Operator"})
    assert status == 201, made
    off = bmc.ipmitool("chassis", "power", "off", user="rfmade", password="rfmadepw",
                       privilege="OPERATOR")
    assert "Down/Off" in off.stdout
    refused: Any = bmc.ipmitool("user", "list", "1", user="rfmade", password="rfmadepw",
                                privilege="ADMINISTRATOR", check=False)
    assert refused.returncode != 0  # an Operator is no administrator over IPMI either
