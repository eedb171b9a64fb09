"""xCAT-style sequential discovery, end to end: a guest sets up its own BMC in-band.

`pybmc serve` runs the tiny Linux guest with the QEMU backend, which adds the in-band KCS device
([qemu] in_band, on by default). Inside the guest, tests/e2e/bmcsetup_guest.sh does what xCAT's
genesis `bmcsetup` does through /dev/ipmi0: a new BMC IP address, netmask and gateway, a new
administrator and password, channel access, SOL, cipher suite privileges, Chassis Identify, then
PXE for the next boot and a reboot from inside the guest. From then on the host reaches the BMC
at the new address with the new user only, as xCAT does, also after pybmc restarts.
"""

from __future__ import annotations

import os
import re
import statistics
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

SCRIPT = Path(__file__).with_name("bmcsetup_guest.sh")
NEW_USER = "xcatbmc"
NEW_PASSWORD = "Discovered-Pw-20b"  # > 16 characters: the 20-byte password form
NETMASK = "255.255.255.0"
GATEWAY = "10.20.30.254"
STEP = re.compile(r"^STEP (\S+) tries=(\d+) secs=([\d.]+)", re.MULTILINE)
# ipmitool's `lan set` re-reads a parameter after writing it and, on a mismatch, sleeps 3 s
# before it tries again: a step that slow means a value did not read back byte-for-byte.
LAN_SET_STEPS = ("ipsrc", "ipaddr", "netmask", "defgw", "arp", "auth", "cipherprivs")


@pytest.fixture(scope="module")
def guest() -> None:
    require_guest()


def discovery_initrd(workdir: Path, bmc_ip: str) -> Path:
    conf = (f"BMCIP={bmc_ip}\nNETMASK={NETMASK}\nGATEWAY={GATEWAY}\n"
            f"BMCUSER={NEW_USER}\nBMCPASS={NEW_PASSWORD}\nREBOOT=1\n")
    files = {"/bin/bmcsetup": (SCRIPT.read_bytes(), 0o755),
             "/etc/bmcsetup.conf": (conf.encode(), 0o644)}
    return initrd_with(files, workdir / "discovery-initrd.gz")


def field(lan_print: str, label: str) -> str:
    match = re.search(rf"^{re.escape(label)}\s*:\s*(.*)$", lan_print, re.MULTILINE)
    assert match, f"{label!r} not in:\n{lan_print}"
    return match.group(1).strip()


def check_lan_settings(bmc: GuestBmc, new_ip: str) -> None:
    login = {"address": new_ip, "user": NEW_USER, "password": NEW_PASSWORD}
    lan = bmc.process.ipmitool("lan", "print", "1", **login).stdout
    assert field(lan, "IP Address Source") == "Static Address"
    assert field(lan, "IP Address") == new_ip
    assert field(lan, "Subnet Mask") == NETMASK
    assert field(lan, "Default Gateway IP") == GATEWAY
    assert field(lan, "802.1q VLAN ID") == "Disabled"
    # bmcsetup: suite 1 unused, 2 and 3 administrator (by their positions in the 0-15 list);
    # suite 2 is not enabled and stays refused, whatever its letter
    assert field(lan, "Cipher Suite Priv Max") == "XXaaXXXXXXXXXXX"
    assert "ARP Responses Enabled" in field(lan, "BMC ARP Control")
    assert "MD5" in lan.split("Admin    :")[1].splitlines()[0]
    sol = bmc.process.ipmitool("sol", "info", "1", **login).stdout
    assert re.search(r"^Enabled\s*:\s*true", sol, re.MULTILINE), sol
    payload = bmc.process.ipmitool("sol", "payload", "status", "1", "2", **login).stdout
    assert "User 2 on channel 1 is enabled" in payload, payload
    users = bmc.process.ipmitool("user", "list", "1", **login).stdout
    assert re.search(rf"^2\s+{NEW_USER}\s+true\s+true\s+true\s+ADMINISTRATOR", users,
                     re.MULTILINE), users


def test_bmcsetup_in_band_then_the_host_uses_the_new_address(guest, guest_bmc, tmp_path):
    new_ip = next_address()
    bmc = guest_bmc(guest_qemu_args(discovery_initrd(tmp_path, new_ip)))
    old_ip = bmc.process.address
    # The admin powers the node on; it boots the discovery image.
    assert "Up/On" in bmc.process.ipmitool("chassis", "power", "on").stdout
    bmc.shell.boot_and_login()
    assert "ipmi0=yes" in bmc.console.text()

    mark = bmc.console.mark()
    bmc.console.send(b"bmcsetup\r")  # it ends with reboot -f, so no exit status
    end = bmc.console.wait_for("BMCSETUP-DONE", since=mark, timeout=180)
    bmc.console.wait_for("\n", since=end, timeout=5)
    out = bmc.console.text()[mark:].replace("\r", "")
    done = re.search(r"BMCSETUP-DONE failed=(\d+) lanchan=(\d+) slot=(\d+) ipmiver=(\S+)", out)
    assert done, out
    assert [line for line in out.splitlines() if line.startswith("STEP-FAIL")] == []
    assert done.groups() == ("0", "1", "2", "2.0"), out
    steps = {name: float(secs) for name, _, secs in STEP.findall(out)}
    for name in (*LAN_SET_STEPS, "disable1", "setaccess", "password", "solenable",
                 "solpayload", "identify3", "bootdev"):
        assert name in steps, f"step {name} did not run:\n{out}"
    # ipmitool's `lan set` re-reads a parameter until it matches, sleeping between tries: a BMC
    # that does not read back at once costs seconds more than the guest's other ipmitool
    # calls take (which are slow themselves under TCG on a loaded machine).
    others = [secs for name, secs in steps.items()
              if name in ("mcinfo", "fru", "solinfo", "lanprint", "userlist")]
    limit = max(2.5, 1.5 * statistics.median(others) + 1.5)
    slow = {name: steps[name] for name in LAN_SET_STEPS if steps[name] >= limit}
    assert not slow, f"lan set steps that waited for a read-back: {slow}\n{out}"

    # doxcat's reboot -f: the guest reset takes the one-time PXE override.
    bmc.console.wait_for("TINYGUEST READY", since=end, timeout=120)
    assert "boot (guest reboot) from pxe" in bmc.process.log()

    # From now on the host knows only the new address and the new user.
    login = {"address": new_ip, "user": NEW_USER, "password": NEW_PASSWORD}
    assert udp_roundtrip(new_ip, 623, AUTH_CAP_PING) is not None
    assert wait_until(lambda: udp_roundtrip(old_ip, 623, AUTH_CAP_PING, 0.2) is None, 10)
    old_user = bmc.process.ipmitool("chassis", "power", "status", address=new_ip, check=False)
    assert old_user.returncode != 0  # "admin" was replaced in slot 2
    check_lan_settings(bmc, new_ip)
    assert "Down/Off" in bmc.process.ipmitool("chassis", "power", "off", **login).stdout
    bmc.wait_power(False, **login)
    assert wait_until(lambda: bmc.pid is None, 10)

    # A restarted pybmc answers at the address the guest gave its BMC.
    bmc.process.stop()
    bmc.process.start(probe=[(new_ip, 623)])
    assert udp_roundtrip(old_ip, 623, AUTH_CAP_PING, 0.3) is None
    assert bmc.power_status(**login) == "Chassis Power is off"
    check_lan_settings(bmc, new_ip)


def test_the_guest_keeps_its_in_band_bmc_across_a_pybmc_restart(guest, guest_bmc) -> None:
    """pybmc restarts (an upgrade, a crash) while the node runs: QEMU reconnects its
    ipmi-bmc-extern chardev to the new listener, and the guest's /dev/ipmi0 works again."""
    bmc = guest_bmc(guest_qemu_args(), stop_vms_on_exit=False)
    bmc.process.ipmitool("chassis", "power", "on")
    bmc.shell.boot_and_login()
    pid = bmc.pid
    status, out = bmc.shell.run("ipmitool raw 0x06 0x01")
    assert status == 0, out

    bmc.process.stop()
    bmc.process.start()
    assert wait_until(lambda: "re-attached to QEMU" in bmc.process.log(), 10)
    assert bmc.pid == pid
    assert wait_until(lambda: "VM connected" in bmc.process.log(), 10)  # reconnect=1
    status, out = bmc.shell.run("ipmitool mc info")
    assert status == 0 and re.search(r"IPMI Version\s+: 2\.0", out), out
    # The LAN side sees what the guest sets in-band after the restart.
    status, out = bmc.shell.run("ipmitool lan set 1 defgw ipaddr 10.9.8.7")
    assert status == 0, out
    lan = bmc.process.ipmitool("lan", "print", "1").stdout
    assert field(lan, "Default Gateway IP") == "10.9.8.7"
