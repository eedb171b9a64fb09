"""MAAS, replayed: its IPMI power driver and its commissioning BMC configuration.

Facts from canonical/maas: src/provisioningserver/drivers/power/ipmi.py runs
`ipmipower -W opensesspriv --driver-type LAN_2_0 -h H -u U -p P -I 3 -l OPERATOR
--stat|--off|--soft|--cycle --on-if-off` and reads the state with the regex `:\\s*(on|off)`;
before powering on it commits a Chassis_Boot_Flags section (Boot_Flags_Persistent No,
BIOS_Boot_Type EFI|PC-COMPATIBLE, Boot_Device PXE) with `ipmi-chassis-config --commit`.
commissioning_scripts/bmc_config.py checks out bmc-config, picks the first UserN without a
Username (never User1), commits Username, Password, Enable_User, Lan_Privilege_Limit,
Lan_Enable_IPMI_Msgs in that order then Lan_Enable_Link_Auth/SOL_Payload_Access, sets both
Lan_Channel access modes to Always_Available and the channel's auth keys to Yes, looks for a
Lan_Channel_Auth section (skipped when absent, as with FreeIPMI's section names), and sets
Lan_Conf_Security_Keys K_G. Those runs are in-band on the machine; here they go over the LAN
(the same FreeIPMI configuration code; only the driver differs); tests/e2e/test_flow_inband.py
runs them in-band inside the test guest.
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import BmcProcess

MAAS_POWER_USER = ("oper", "operpw")  # MAAS talks at OPERATOR level (LP:1889788)
BOOT_FLAGS = """\
Section Chassis_Boot_Flags
        Boot_Flags_Persistent                         No
        BIOS_Boot_Type                                {boot_type}
        Boot_Device                                   PXE
EndSection
"""


@pytest.fixture
def node(bmc_factory) -> BmcProcess:
    return bmc_factory(redfish={"enabled": False})


def common_args(bmc: BmcProcess, user: str, password: str) -> list[str]:
    return ["--driver-type", "LAN_2_0", "-h", bmc.address, "-u", user, "-p", password,
            "-I", "3", "-l", "OPERATOR"]


def ipmipower(bmc: BmcProcess, *action: str) -> str:
    """MAAS's _issue_ipmipower_command: rc 0 and the state parsed from stdout."""
    result = subprocess.run(["ipmipower", "-W", "opensesspriv",
                             *common_args(bmc, *MAAS_POWER_USER), *action],
                            capture_output=True, text=True, timeout=60,
                            stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stdout + result.stderr
    for error in ("password invalid", "username invalid", "k_g invalid",
                  "privilege level insufficient", "privilege level cannot be obtained",
                  "ipmi 2.0 unavailable", "connection timeout", "BMC busy"):
        assert error not in result.stdout, result.stdout
    match = re.search(r":\s*(on|off)", result.stdout)
    return match.group(1) if match else result.stdout


def chassis_config_commit(bmc: BmcProcess, tmp: Path, boot_type: str) -> None:
    config = tmp / "maas-chassis.conf"
    config.write_text(BOOT_FLAGS.format(boot_type=boot_type))
    result = subprocess.run(["ipmi-chassis-config", "-W", "opensesspriv",
                             *common_args(bmc, *MAAS_POWER_USER), "--commit",
                             "--filename", str(config)],
                            capture_output=True, text=True, timeout=60,
                            stdin=subprocess.DEVNULL)
    # MAAS only warns on a non-zero exit; a BMC that answers correctly gives 0.
    assert result.returncode == 0, result.stdout + result.stderr


def wait_state(bmc: BmcProcess, state: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while ipmipower(bmc, "--stat") != state:
        assert time.monotonic() < deadline, f"never {state}"
        time.sleep(0.2)


def checkout_section(bmc: BmcProcess, section: str) -> dict[str, str]:
    out = bmc.freeipmi("bmc-config", "--checkout", "-S", section).stdout
    values = {}
    for line in out.splitlines():
        line = line.strip()
        if line and not line.startswith("#") and not line.startswith(("Section", "End")):
            key, _, value = line.partition(" ")
            values[key] = value.strip()
    return values


@pytest.mark.parametrize("boot_type,selector", [("EFI", "BIOS EFI boot"),
                                                 ("PC-COMPATIBLE", "BIOS PC Compatible")])
def test_maas_power_on_commits_pxe_boot_then_cycles(node: BmcProcess, tmp_path: Path,
                                                     boot_type: str, selector: str):
    assert ipmipower(node, "--stat") == "off"
    chassis_config_commit(node, tmp_path, boot_type)
    flags = node.freeipmi("ipmi-chassis-config", "--checkout", "-S",
                          "Chassis_Boot_Flags").stdout
    assert re.search(r"Boot_Flags_Persistent\s+No\n", flags)
    assert re.search(rf"BIOS_Boot_Type\s+{boot_type}\n", flags)
    assert re.search(r"Boot_Device\s+PXE\n", flags)
    assert selector in node.ipmitool("chassis", "bootparam", "get", "5").stdout
    ipmipower(node, "--cycle", "--on-if-off")  # off: --on-if-off turns it on
    wait_state(node, "on")
    chassis_config_commit(node, tmp_path, boot_type)
    ipmipower(node, "--cycle", "--on-if-off")  # on: a real power cycle
    wait_state(node, "on")
    ipmipower(node, "--soft")
    wait_state(node, "off")
    ipmipower(node, "--on")
    wait_state(node, "on")
    ipmipower(node, "--off")
    wait_state(node, "off")


def test_maas_commissioning_bmc_config(node: BmcProcess):
    users = {f"User{n}": checkout_section(node, f"User{n}") for n in range(2, 6)}
    free = next(name for name, keys in users.items() if not keys.get("Username"))
    password = "Maas2Pw9xYz"
    for key, value in (("Username", "maas"), ("Password", password), ("Enable_User", "Yes"),
                       ("Lan_Privilege_Limit", "Administrator"),
                       ("Lan_Enable_IPMI_Msgs", "Yes"), ("Lan_Enable_Link_Auth", "Yes"),
                       ("SOL_Payload_Access", "Yes")):
        node.freeipmi("bmc-config", "--commit", f"--key-pair={free}:{key}={value}")
    for mode in ("Volatile_Access_Mode", "Non_Volatile_Access_Mode"):
        node.freeipmi("bmc-config", "--commit", f"--key-pair=Lan_Channel:{mode}=Always_Available")
    for auth in ("Enable_User_Level_Auth", "Enable_Per_Message_Auth", "Enable_Pef_Alerting"):
        for volatility in ("Volatile", "Non_Volatile"):
            node.freeipmi("bmc-config", "--commit",
                          f"--key-pair=Lan_Channel:{volatility}_{auth}=Yes")
    # MAAS looks for a Lan_Channel_Auth section and skips it when bmc-config has none.
    sections = node.freeipmi("bmc-config", "--listsections").stdout.split()
    assert "Lan_Channel_Auth" not in sections and "Lan_Conf_Auth" in sections
    node.freeipmi("bmc-config", "--commit", "--key-pair=SOL_Conf:Enable_SOL=Yes")

    user = checkout_section(node, free)
    assert user["Username"] == "maas"
    assert user["Enable_User"] == "Yes"
    assert user["Lan_Privilege_Limit"] == "Administrator"
    assert user["Lan_Enable_IPMI_Msgs"] == "Yes"
    assert user["SOL_Payload_Access"] == "Yes"
    channel = checkout_section(node, "Lan_Channel")
    assert channel["Volatile_Access_Mode"] == channel["Non_Volatile_Access_Mode"] == \
        "Always_Available"
    assert channel["Volatile_Enable_Per_Message_Auth"] == "Yes"
    assert checkout_section(node, "SOL_Conf")["Enable_SOL"] == "Yes"
    # The power driver then logs in as the new user.
    out = subprocess.run(["ipmipower", "-W", "opensesspriv", "--driver-type", "LAN_2_0",
                          "-h", node.address, "-u", "maas", "-p", password, "-I", "3",
                          "-l", "OPERATOR", "--stat"],
                         capture_output=True, text=True, timeout=60).stdout
    assert re.search(r":\s*(on|off)", out), out

    # K_G last: the next logins need it.
    kg = "0x6d61617373656372657431"
    node.freeipmi("bmc-config", "--commit", f"--key-pair=Lan_Conf_Security_Keys:K_G={kg}")
    with_kg = subprocess.run(["ipmipower", "-W", "opensesspriv", "--driver-type", "LAN_2_0",
                              "-h", node.address, "-u", "maas", "-p", password, "-k", kg,
                              "-I", "3", "-l", "OPERATOR", "--stat"],
                             capture_output=True, text=True, timeout=60).stdout
    assert re.search(r":\s*(on|off)", with_kg), with_kg
    keys = node.freeipmi("bmc-config", "-k", kg, "--checkout", "-S",
                         "Lan_Conf_Security_Keys").stdout
    assert re.search(r"K_G\s+maassecret1\n", keys), keys  # FreeIPMI prints a printable key
