"""Warewulf's and MAAS's BMC configuration, in-band: run inside the tiny Linux guest over
/dev/ipmi0, as they run on a real node, then checked from the host over the LAN.

`pybmc serve` runs the guest with the QEMU backend (its in-band KCS device on by default).
- Warewulf: tests/e2e/wwipmi_guest.sh replays the wwinit IPMI step (see test_flow_warewulf.py for
  its facts) with ipmitool's open interface: a new address, netmask, gateway and VLAN on channel
  1, user 2 renamed, given administrator and a 20-byte password (`user test 2 20 || 16`),
  channel access and SOL. The host then logs in at the new address as the new user with cipher
  suite 17 and reads every value back; a second run (the next boot) changes nothing.
- MAAS commissioning (canonical/maas bmc_config.py, facts only): `bmc-config --checkout`, then
  one `bmc-config --commit --key-pair=Section:Key=Value` per value that differs: the first free
  UserN (Username, Password, Enable_User, Lan_Privilege_Limit, Lan_Enable_IPMI_Msgs, then
  Lan_Enable_Link_Auth / SOL_Payload_Access / Serial_Enable_Link_Auth where present), both
  Lan_Channel access modes, Lan_Channel_Auth when the section exists, the cipher suite
  privileges (Rmcpplus_Conf_Privilege), Lan_Conf_Security_Keys K_G and SOL_Conf; the BMC's
  address is read from Lan_Conf IP_Address. FreeIPMI is not in the guest image: the host's
  ipmi-config (bmc-config is a wrapper around it) and the libraries `ldd` lists are added to
  the initramfs for this test, never stored in the repository.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.e2e.conftest import AUTH_CAP_PING, next_address, udp_roundtrip
from tests.e2e.guestshell import GuestBmc, guest_bmc, guest_qemu_args, initrd_with
from tests.guest.vm import QEMU, require_guest, wait_until

pytestmark = [
    pytest.mark.qemu,
    pytest.mark.skipif(QEMU is None, reason="qemu-system-x86_64 is not installed"),
    pytest.mark.skipif(not os.path.exists("/usr/bin/ipmitool"), reason="no ipmitool"),
]
__all__ = ["guest_bmc"]  # the fixture

WW_SCRIPT = Path(__file__).with_name("wwipmi_guest.sh")
WW_USER, WW_PASSWORD = "wwadmin", "ww-secret-20-chars!!"  # 20 characters: the 20-byte form
WW_NETMASK, WW_GATEWAY, WW_VLAN = "255.255.0.0", "10.4.0.1", "42"
WW_STEP = re.compile(r"^WW (\S+) rc=\d+ secs=([\d.]+)", re.MULTILINE)
LAN_SET_STEPS = ("vlan", "ipsrc", "ipaddr", "access", "netmask", "defgw")
SOL_SPEED = "38.4"  # the script's default (19.2, 38.4 or 115.2)
MAAS_USER, MAAS_PASSWORD = "maas", "Mq7Rt2Wx9Kp4Zd"  # as MAAS generates: 10-15 letters/digits
MAAS_KG = "0x6d61617373656372657431"  # "maassecret1"
SECURE_SUITES = (17, 3, 8, 12)  # MAAS's preference order


@pytest.fixture(scope="module")
def guest() -> None:
    require_guest()


def lan_value(text: str, label: str) -> str:
    match = re.search(rf"^{re.escape(label)}\s*: (.*)$", text, re.MULTILINE)
    assert match, f"{label!r} not in:\n{text}"
    return match.group(1).strip()


# ----------------------------------------------------------------------------- Warewulf
def run_wwipmi(bmc: GuestBmc) -> tuple[int, str]:
    status, out = bmc.shell.run("wwipmi", timeout=180)
    done = re.search(r"WWIPMI-DONE failed=(\d+) changed=(\S+)", out)
    assert status == 0 and done, out
    fails = [line for line in out.splitlines() if line.startswith("WW-FAIL")]
    assert fails == [], out
    # ipmitool's `lan set` re-reads what it wrote and sleeps 3 s before trying again when it
    # differs: a step that slow means a value did not read back at once.
    secs = {name: float(value) for name, value in WW_STEP.findall(out)}
    others = sorted(value for name, value in secs.items() if name not in LAN_SET_STEPS)
    limit = max(2.5, 1.5 * others[len(others) // 2] + 1.5) if others else 2.5
    slow = {name: value for name, value in secs.items()
            if name in LAN_SET_STEPS and value >= limit}
    assert not slow, f"lan set steps that waited for a read-back: {slow}\n{out}"
    return int(done.group(1)), done.group(2)


def test_warewulf_configures_its_bmc_in_band(guest, guest_bmc, tmp_path: Path) -> None:
    new_ip = next_address()
    conf = (f"WWIPMI_IPADDR={new_ip}\nWWIPMI_NETMASK={WW_NETMASK}\n"
            f"WWIPMI_GATEWAY={WW_GATEWAY}\nWWIPMI_VLAN={WW_VLAN}\n"
            f"WWIPMI_USER={WW_USER}\nWWIPMI_PASSWORD='{WW_PASSWORD}'\nSOL_SPEED={SOL_SPEED}\n")
    initrd = initrd_with({"/bin/wwipmi": (WW_SCRIPT.read_bytes(), 0o755),
                          "/etc/wwipmi.conf": (conf.encode(), 0o644)},
                         tmp_path / "ww-initrd.gz")
    bmc = guest_bmc(guest_qemu_args(initrd))
    old_ip = bmc.process.address
    assert "Up/On" in bmc.process.ipmitool("chassis", "power", "on").stdout
    bmc.shell.boot_and_login()

    assert run_wwipmi(bmc) == (0, "vlan,ipaddr,netmask,gateway,user,password")

    # The BMC moved: no LAN session was open, so the old address goes quiet at once.
    assert udp_roundtrip(new_ip, 623, AUTH_CAP_PING) is not None
    assert wait_until(lambda: udp_roundtrip(old_ip, 623, AUTH_CAP_PING, 0.2) is None, 10)
    # The host: the node's new address, the renamed user 2, cipher suite 17.
    login = {"address": new_ip, "user": WW_USER, "password": WW_PASSWORD, "cipher": 17}
    lan = bmc.process.ipmitool("lan", "print", "1", **login).stdout
    assert lan_value(lan, "IP Address Source") == "Static Address"
    assert lan_value(lan, "IP Address") == new_ip
    assert lan_value(lan, "Subnet Mask") == WW_NETMASK
    assert lan_value(lan, "Default Gateway IP") == WW_GATEWAY
    assert lan_value(lan, "802.1q VLAN ID") == WW_VLAN
    users = bmc.process.ipmitool("user", "list", "1", **login).stdout
    assert re.search(rf"^2\s+{WW_USER}\s+true\s+true\s+true\s+ADMINISTRATOR", users,
                     re.MULTILINE), users
    access = bmc.process.ipmitool("channel", "getaccess", "1", "2", **login).stdout
    for label, value in (("IPMI Messaging", "enabled"), ("Link Authentication", "enabled"),
                         ("Privilege Level", "ADMINISTRATOR")):
        assert lan_value(access, label) == value, access
    sol = bmc.process.ipmitool("sol", "info", "1", **login).stdout
    for label, value in (("Enabled", "true"), ("Force Encryption", "true"),
                         ("Force Authentication", "true"),
                         ("Privilege Level", "ADMINISTRATOR"),
                         ("Volatile Bit Rate (kbps)", SOL_SPEED),
                         ("Non-Volatile Bit Rate (kbps)", SOL_SPEED)):
        assert lan_value(sol, label) == value, (label, sol)
    payload = bmc.process.ipmitool("sol", "payload", "status", "1", "2", **login).stdout
    assert "User 2 on channel 1 is enabled" in payload, payload
    # The factory name is gone, and a wrong password does not test.
    old = bmc.process.ipmitool("chassis", "power", "status", address=new_ip, check=False)
    assert old.returncode != 0
    status, out = bmc.shell.run("ipmitool user test 2 20 not-the-password")
    assert status != 0 and "Failure" in out, out
    # Without a channel, ipmitool asks about channel 0x0E, "this one": in-band that is the
    # session-less system interface, which has no user access settings. pybmc answers CCh,
    # as the BMCs in Warewulf issue 1399 and RackHD issue 211 do (hence `user list 1`).
    status, out = bmc.shell.run("ipmitool user list")
    assert status != 0 and "Invalid data field in request" in out, out

    # The next boot runs the same step: everything reads back as set, nothing is written.
    assert run_wwipmi(bmc) == (0, "none")
    # The VLAN tag removed ("off"): it reads back as "Disabled".
    status, out = bmc.shell.run("sed -i 's/^WWIPMI_VLAN=.*/WWIPMI_VLAN=off/' /etc/wwipmi.conf")
    assert status == 0, out
    assert run_wwipmi(bmc) == (0, "vlan")
    lan = bmc.process.ipmitool("lan", "print", "1", **login).stdout
    assert lan_value(lan, "802.1q VLAN ID") == "Disabled"


# ----------------------------------------------------------------------------- MAAS
def freeipmi_files() -> dict[str, tuple[bytes, int]]:
    """The host's ipmi-config and ipmi-locate with every library they load, and a bmc-config
    wrapper (FreeIPMI's own is `ipmi-config --category=core`)."""
    files: dict[str, tuple[bytes, int]] = {}
    for tool in ("ipmi-config", "ipmi-locate"):
        path = shutil.which(tool) or f"/usr/sbin/{tool}"
        files[f"/sbin/{tool}"] = (Path(path).read_bytes(), 0o755)
        ldd = subprocess.run(["ldd", path], capture_output=True, text=True, check=True).stdout
        for lib in re.findall(r"(/\S+) \(0x", ldd):
            files.setdefault(lib, (Path(lib).read_bytes(), 0o755))
    files["/sbin/bmc-config"] = (b'#!/bin/sh\nexec /sbin/ipmi-config --category=core "$@"\n',
                                 0o755)
    return files


def parse_checkout(text: str) -> dict[str, dict[str, str]]:
    """bmc-config --checkout as MAAS reads it: {section: {key: value}}, comments dropped."""
    sections: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for raw in text.splitlines():
        words = raw.split("#")[0].split(maxsplit=1)
        if not words:
            continue
        if current is None and words[0] == "Section" and len(words) == 2:
            current = sections.setdefault(words[1], {})
        elif words[0] == "EndSection":
            current = None
        elif current is not None:
            current[words[0]] = words[1] if len(words) == 2 else ""
    return sections


class InBandBmcConfig:
    """MAAS's bmc-config calls, made in the guest: every commit must exit 0."""

    def __init__(self, bmc: GuestBmc) -> None:
        self.bmc = bmc
        self.config: dict[str, dict[str, str]] = {}
        self.commits: list[str] = []
        self.suite = 0

    def checkout(self) -> dict[str, dict[str, str]]:
        # MAAS does not look at its exit status, only at what it printed (a plain checkout
        # exits 1 on any BMC that lacks an auth type: docs/ipmi.md).
        self.bmc.shell.run("bmc-config --checkout > /tmp/bmc.conf", timeout=240)
        status, out = self.bmc.shell.run("cat /tmp/bmc.conf", timeout=60)
        assert status == 0, out
        self.config = parse_checkout(out)
        return self.config

    def set(self, section: str, key: str, value: str) -> None:
        pair = f"{section}:{key}={value}"
        status, out = self.bmc.shell.run(f"bmc-config --commit '--key-pair={pair}'")
        assert status == 0, f"{pair}: {out}"
        self.config.setdefault(section, {})[key] = value
        self.commits.append(f"{section}:{key}")

    def set_keys(self, section: str, keys: list[str], value: str) -> None:
        """Only the keys the BMC lists, only when they differ (MAAS's _bmc_set_keys)."""
        for key in keys:
            if key in self.config.get(section, {}) and self.config[section][key] != value:
                self.set(section, key, value)


def pick_user(config: dict[str, dict[str, str]], username: str) -> str:
    """The UserN already named `username`, else the first without a name (never User1)."""
    first_unused = None
    for name, keys in config.items():
        if not name.startswith("User") or name == "User1":
            continue
        if keys.get("Username") == username:
            return name
        if not keys.get("Username") and first_unused is None:
            first_unused = name
    assert first_unused, f"no free user in {sorted(config)}"
    return first_unused


def ipmitool_lan_print(bmc: GuestBmc) -> tuple[str, str]:
    """MAAS tries `ipmitool lan print N` for N = 0..8 and takes the first that works."""
    for channel in range(9):
        status, out = bmc.shell.run(f"ipmitool lan print {channel} 2>/dev/null")
        if status == 0:
            return str(channel), out
    raise AssertionError("no channel answers lan print")


def configure_cipher_suites(bmc_config: InBandBmcConfig) -> None:
    """MAAS's cipher suite step: bmc-config's view (Rmcpplus_Conf_Privilege, indexed by suite
    ID) against ipmitool's (`lan print`: the suite list and one letter per entry); the one
    that sees the higher secure suite is used. Records the suite MAAS will log in with."""
    suites = {int(match.group(1)): value for key, value in
              bmc_config.config.get("Rmcpplus_Conf_Privilege", {}).items()
              if (match := re.fullmatch(r"Maximum_Privilege_Cipher_Suite_Id_(1?\d)", key))}
    config_max = max(suites, default=0)
    channel, lan = ipmitool_lan_print(bmc_config.bmc)
    listed = [int(n) for n in lan_value(lan, "RMCP+ Cipher Suites").split(",")]
    privs = list(lan_value(lan, "Cipher Suite Priv Max"))
    tool_max = max(n for n in listed if n in SECURE_SUITES)
    if config_max >= tool_max:
        best = next(n for n in SECURE_SUITES if n in suites)
        if suites[best] != "Administrator":
            bmc_config.set("Rmcpplus_Conf_Privilege",
                           f"Maximum_Privilege_Cipher_Suite_Id_{best}", "Administrator")
        for suite, state in suites.items():
            if suite not in SECURE_SUITES and state != "Unused":
                bmc_config.set("Rmcpplus_Conf_Privilege",
                               f"Maximum_Privilege_Cipher_Suite_Id_{suite}", "Unused")
        bmc_config.suite = best
        return
    wanted = list(privs)
    for index, suite in enumerate(listed):
        if suite == tool_max:
            wanted[index] = "a"
        elif suite <= 17 and suite not in SECURE_SUITES:
            wanted[index] = "X"
    if wanted != privs:
        status, out = bmc_config.bmc.shell.run(
            f"ipmitool lan set {channel} cipher_privs {''.join(wanted)}")
        assert status == 0, out
        bmc_config.commits.append("ipmitool:cipher_privs")
    bmc_config.suite = tool_max


def maas_commissioning(bmc_config: InBandBmcConfig) -> str:
    """The IPMI part of MAAS's commissioning, in its order; returns the user section."""
    config = bmc_config.checkout()
    user = pick_user(config, MAAS_USER)
    for key, value in (("Username", MAAS_USER), ("Password", MAAS_PASSWORD),
                       ("Enable_User", "Yes"), ("Lan_Privilege_Limit", "Administrator"),
                       ("Lan_Enable_IPMI_Msgs", "Yes")):
        if config[user].get(key) != value:
            bmc_config.set(user, key, value)
    bmc_config.set_keys(user, ["Lan_Enable_Link_Auth", "SOL_Payload_Access",
                               "Serial_Enable_Link_Auth"], "Yes")
    for mode in ("Volatile_Access_Mode", "Non_Volatile_Access_Mode"):
        if config.get("Lan_Channel", {}).get(mode) != "Always_Available":
            bmc_config.set("Lan_Channel", mode, "Always_Available")
    bmc_config.set_keys("Lan_Channel", [f"{auth}_{volatility}" for auth in (
        "Enable_User_Level_Auth", "Enable_Per_Message_Auth", "Enable_Pef_Alerting")
        for volatility in ("Volatile", "Non_Volatile")], "Yes")
    if "Lan_Channel_Auth" in config:  # FreeIPMI calls it Lan_Conf_Auth: skipped
        bmc_config.set_keys("Lan_Channel_Auth", ["SOL_Payload_Access"], "Yes")
    configure_cipher_suites(bmc_config)
    if config.get("Lan_Conf_Security_Keys", {}).get("K_G") != MAAS_KG:
        bmc_config.set("Lan_Conf_Security_Keys", "K_G", MAAS_KG)
    bmc_config.set_keys("Serial_Channel", [f"{auth}_{volatility}" for auth in (
        "Enable_User_Level_Auth", "Enable_Per_Message_Auth", "Enable_Pef_Alerting")
        for volatility in ("Volatile", "Non_Volatile")], "Yes")
    bmc_config.set_keys("SOL_Conf", ["Force_SOL_Payload_Authentication",
                                     "Force_SOL_Payload_Encryption"], "Yes")
    return user




def test_maas_commissioning_configures_its_bmc_in_band(guest, guest_bmc, tmp_path) -> None:
    initrd = initrd_with(freeipmi_files(), tmp_path / "maas-initrd.gz")
    bmc = guest_bmc(guest_qemu_args(initrd))
    assert "Up/On" in bmc.process.ipmitool("chassis", "power", "on").stdout
    bmc.shell.boot_and_login()

    # detected(): ipmi-locate finds the KCS interface the firmware tables describe.
    status, out = bmc.shell.run("ipmi-locate")
    assert status == 0 and re.search(r"IPMI Version: 2\.0", out), out
    assert ipmitool_lan_print(bmc)[0] == "1"

    # The machine as it came: IPMI over LAN off from the BMC's next reset on (the
    # non-volatile access mode), no SOL for user 5. MAAS turns both on.
    for command in ("ipmitool raw 0x06 0x40 0x01 0x40 0x00", "ipmitool sol payload disable 1 5"):
        status, out = bmc.shell.run(command)
        assert status == 0, out
    status, out = bmc.shell.run("ipmitool channel info 1")
    assert status == 0 and out.split("Non-Volatile")[1].count("disabled") == 1, out

    bmc_config = InBandBmcConfig(bmc)
    user = maas_commissioning(bmc_config)
    assert user == "User5"  # admin, oper and viewer hold 2-4
    assert "Lan_Channel_Auth" not in bmc_config.config
    # bmc-config sees suites 0-15 (LAN parameters 23/24 list them by ID), so MAAS takes its
    # view and the first secure suite in it that is enabled: 3 (17 has no parameter-24 entry).
    assert bmc_config.suite == 3
    # get_bmc_ip(): Lan_Conf IP_Address, the address the host reaches.
    assert bmc_config.config["Lan_Conf"]["IP_Address"] == bmc.process.address

    # What differed, in MAAS's order. Its Lan_Channel auth keys are named
    # Enable_User_Level_Auth_Volatile etc., which bmc-config does not list, so they are skipped.
    assert bmc_config.commits == [
        f"{user}:{key}" for key in ("Username", "Password", "Enable_User", "Lan_Privilege_Limit",
                                    "Lan_Enable_IPMI_Msgs", "Lan_Enable_Link_Auth",
                                    "SOL_Payload_Access")
    ] + ["Lan_Channel:Non_Volatile_Access_Mode", "Lan_Conf_Security_Keys:K_G",
         "SOL_Conf:Force_SOL_Payload_Authentication", "SOL_Conf:Force_SOL_Payload_Encryption"]

    # A second commissioning (re-commissioning the machine) finds the same user and every
    # value set. A checkout never shows a password, and shows a printable K_G as text while
    # MAAS compares the 0x form, so those two are written again, as on any BMC.
    again = InBandBmcConfig(bmc)
    assert maas_commissioning(again) == user
    assert again.commits == [f"{user}:Password", "Lan_Conf_Security_Keys:K_G"]
    config = InBandBmcConfig(bmc).checkout()  # what the BMC reads back now
    assert config[user]["Username"] == MAAS_USER
    assert config[user]["Enable_User"] == "Yes"
    assert config[user]["Lan_Privilege_Limit"] == "Administrator"
    assert config[user]["Lan_Enable_IPMI_Msgs"] == "Yes"
    assert config[user]["SOL_Payload_Access"] == "Yes"
    assert config["Lan_Channel"]["Volatile_Access_Mode"] == "Always_Available"
    assert config["Lan_Channel"]["Non_Volatile_Access_Mode"] == "Always_Available"
    assert config["SOL_Conf"]["Force_SOL_Payload_Encryption"] == "Yes"
    assert config["Lan_Conf_Security_Keys"]["K_G"] == "maassecret1"  # printable: as text
    # The whole checkout committed back in-band reads back byte for byte.
    status, out = bmc.shell.run("bmc-config --commit --filename /tmp/bmc.conf"
                                " && bmc-config --checkout > /tmp/again.conf;"
                                " cmp /tmp/bmc.conf /tmp/again.conf", timeout=300)
    assert status == 0, out

    # The MAAS power driver from the host: the new user, K_G, the suite MAAS chose.
    out = subprocess.run(["ipmipower", "-W", "opensesspriv", "--driver-type", "LAN_2_0",
                          "-h", bmc.process.address, "-u", MAAS_USER, "-p", MAAS_PASSWORD,
                          "-k", MAAS_KG, "-I", str(bmc_config.suite), "-l", "OPERATOR",
                          "--stat"],
                         capture_output=True, text=True, timeout=60).stdout
    assert re.search(r":\s*on\b", out), out
    without_kg = subprocess.run(["ipmipower", "-W", "opensesspriv", "--driver-type",
                                 "LAN_2_0", "-h", bmc.process.address, "-u", MAAS_USER,
                                 "-p", MAAS_PASSWORD, "-I", str(bmc_config.suite), "-l", "OPERATOR",
                                 "--session-timeout=3000", "--stat"],
                                capture_output=True, text=True, timeout=60).stdout
    assert not re.search(r":\s*on\b", without_kg), without_kg
    lan = bmc.process.freeipmi("bmc-config", "-k", MAAS_KG, "--checkout", "-S", user,
                               user=MAAS_USER, password=MAAS_PASSWORD).stdout
    assert parse_checkout(lan)[user]["Username"] == MAAS_USER
