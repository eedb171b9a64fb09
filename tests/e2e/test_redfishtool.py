"""DMTF's redfishtool against a real `pybmc serve`: lists Systems, resets, sets boot override;
every change read back over IPMI; Basic and Session authentication."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import ADMIN_PASSWORD, ADMIN_USER, IPMITOOL, BmcProcess
from tests.e2e.test_redfish import PORT, bmc, power_status, wait_power

TOOL = shutil.which("redfishtool") or str(Path(sys.executable).parent / "redfishtool")
pytestmark = [pytest.mark.skipif(IPMITOOL is None, reason="ipmitool not installed"),
              pytest.mark.skipif(not Path(TOOL).exists(), reason="redfishtool not installed")]
__all__ = ["bmc"]  # the fixture


def redfishtool(bmc: BmcProcess, *args: str, auth: str = "Basic",
                user: tuple[str, str] = (ADMIN_USER, ADMIN_PASSWORD),
                check: bool = True) -> subprocess.CompletedProcess[str]:
    command = [TOOL, "-r", f"{bmc.address}:{PORT}", "-u", user[0], "-p", user[1],
               "-S", "Always", "-A", auth, "-T", "20", *args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60,
                            stdin=subprocess.DEVNULL)
    if check:
        assert result.returncode == 0, f"{args}: {result.stdout}{result.stderr}"
    return result


@pytest.mark.parametrize("auth", ["Basic", "Session"])
def test_redfishtool_lists_systems_and_resets_them(bmc: BmcProcess, auth: str) -> None:
    name = bmc.configs[0]["bmc"]["name"]
    listed = redfishtool(bmc, "Systems", "list", auth=auth).stdout
    assert f"/redfish/v1/Systems/{name}" in listed and name in listed, listed
    assert power_status(bmc) == "Chassis Power is off"
    redfishtool(bmc, "Systems", "-I", name, "reset", "On", auth=auth)
    wait_power(bmc, "Chassis Power is on")
    got = json.loads(redfishtool(bmc, "Systems", "-1", "get", auth=auth).stdout)
    assert got["PowerState"] == "On" and got["Id"] == name
    redfishtool(bmc, "Systems", "-1", "reset", "ForceOff", auth=auth)
    wait_power(bmc, "Chassis Power is off")
    prop = redfishtool(bmc, "Systems", "-1", "get", "-P", "PowerState", auth=auth).stdout
    assert json.loads(prop) == {"PowerState": "Off"}


def test_redfishtool_boot_override_is_the_ipmi_boot_flags(bmc: BmcProcess) -> None:
    redfishtool(bmc, "Systems", "-1", "setBootOverride", "Once", "Pxe")
    shown = bmc.ipmitool("chassis", "bootparam", "get", "5").stdout
    assert "Force PXE" in shown and "Options apply to only next boot" in shown


def test_redfishtool_read_only_user_cannot_reset(bmc: BmcProcess) -> None:
    refused = redfishtool(bmc, "Systems", "-1", "reset", "On", user=("viewer", "viewerpw"),
                          check=False)
    assert refused.returncode != 0
    assert "403" in refused.stdout + refused.stderr
    assert power_status(bmc) == "Chassis Power is off"
