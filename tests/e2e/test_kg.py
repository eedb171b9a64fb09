"""The BMC key K_G: `[security] kg`, RMCP+ logins with ipmitool -k/-y and FreeIPMI -k, and
K_G set over the LAN with Set Channel Security Keys (FreeIPMI bmc-config)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.e2e.conftest import BmcProcess

pytestmark = pytest.mark.skipif(not os.path.exists("/usr/bin/ipmitool"),
                                reason="ipmitool is not installed")


def status(bmc: BmcProcess, *key: str) -> str:
    return bmc.ipmitool(*key, "chassis", "power", "status", check=False).stdout.strip()


def test_a_configured_kg_is_needed_to_log_in(bmc_factory: Callable[..., BmcProcess]):
    bmc = bmc_factory(security={"kg": "lab-key"})
    assert status(bmc, "-k", "lab-key") == "Chassis Power is off"
    assert status(bmc, "-y", b"lab-key".hex()) == "Chassis Power is off"
    assert status(bmc, "-C", "3", "-k", "lab-key") == "Chassis Power is off"
    assert status(bmc) == ""  # the password alone no longer makes the session keys
    assert status(bmc, "-k", "other-key") == ""
    # Get Channel Authentication Capabilities says K_G is set (byte 3 bit 5).
    caps = bmc.ipmitool("-k", "lab-key", "raw", "0x06", "0x38", "0x8e", "0x04").stdout.split()
    assert int(caps[2], 16) & 0x20


@pytest.mark.skipif(shutil.which("bmc-config") is None, reason="FreeIPMI is not installed")
def test_freeipmi_sets_kg_and_logs_in_with_it(bmc: BmcProcess, tmp_path: Path):
    checkout = bmc.freeipmi("bmc-config", "--checkout", "-S", "Lan_Conf_Security_Keys").stdout
    assert "K_G" in checkout
    bmc.freeipmi("bmc-config", "--commit", "-e", "Lan_Conf_Security_Keys:K_G=0x0102030405")
    assert status(bmc) == ""  # the new K_G applies to the next login
    key = "0102030405" + "00" * 15
    assert status(bmc, "-y", key) == "Chassis Power is off"
    result = bmc.freeipmi("ipmi-chassis", "-k", "0x0102030405", "--get-chassis-status")
    assert "System Power" in result.stdout
    again = bmc.freeipmi("bmc-config", "-k", "0x0102030405", "--checkout",
                         "-S", "Lan_Conf_Security_Keys").stdout
    assert "K_G                                           0x" + key in again
    bmc.restart()  # persisted
    assert status(bmc, "-y", key) == "Chassis Power is off"
    assert "0102030405" not in bmc.log()  # a key is never logged
