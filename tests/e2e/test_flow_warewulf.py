"""Warewulf, replayed: its ipmitool power template and its IPMI configuration script.

Facts from warewulf/warewulf: lib/warewulf/bmc/ipmitool.tmpl builds
`ipmitool -I lanplus -e '<char>' -p <port> -H <addr> -U "<user>" -P "<pw>"` + `chassis power
on|off|cycle|reset|soft|status`, `sdr list`, `sensor list` or `sol activate`; the wwinit
50-ipmi script reads `lan print 1` (802.1q VLAN ID, IP Address, Subnet Mask, Default Gateway
IP), then runs `lan set 1 vlan id`, `lan set 1 ipsrc static`, `ipaddr`, `access on`,
`netmask`, `defgw ipaddr`, `user set name 2`, `user priv 2 4 1`, `user enable 2`,
`user test 2 20 <pw> || user test 2 16 <pw>` (else `user set password 2`), `channel setaccess
1 2 link=on ipmi=on callin=on privilege=4`, `sol set force-encryption|force-authentication|
privilege-level|enabled|non-volatile-bit-rate|volatile-bit-rate` and `sol payload enable 1 2`.
The script runs in-band (/dev/ipmi0) on the node; here the same ipmitool commands go over the
LAN as a second administrator, so renaming user 2 does not end the configuring session;
tests/e2e/test_flow_inband.py runs them in-band inside the test guest.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import ADMIN_PASSWORD, ADMIN_USER, BmcProcess, next_address
from tests.e2e.fakeguest import FakeGuestSerial
from tests.e2e.ptyproc import PtyProcess

WW_USER, WW_PASSWORD = "wwadmin", "ww-secret-20-chars!!"  # 20 characters: the 20-byte form


@pytest.fixture
def guest() -> Iterator[FakeGuestSerial]:
    with tempfile.TemporaryDirectory(prefix="pbww", dir="/tmp") as tmp:
        serial = FakeGuestSerial(str(Path(tmp) / "serial"))
        yield serial
        serial.close()


@pytest.fixture
def node(bmc_factory, guest: FakeGuestSerial) -> BmcProcess:
    # User 2 is the node's factory account the script renames; admin (user 3) runs it.
    users = [{"name": "ADMIN", "password": "factory", "privilege": "administrator"},
             {"name": ADMIN_USER, "password": ADMIN_PASSWORD, "privilege": "administrator"}]
    return bmc_factory(users=users, sol={"serial": f"unix:{guest.path}"},
                       redfish={"enabled": False})


def template_cmd(bmc: BmcProcess, address: str | None = None) -> list[str]:
    return ["ipmitool", "-I", "lanplus", "-e", "&", "-p", str(bmc.port),
            "-H", address or bmc.address, "-U", WW_USER, "-P", WW_PASSWORD]


def lan_value(lan_info: str, label: str) -> str:
    match = re.search(rf"^{re.escape(label)} *: (.*)$", lan_info, re.MULTILINE)
    return match.group(1).strip() if match else ""


def configure(bmc: BmcProcess, address: str, ipaddr: str) -> list[str]:
    """The 50-ipmi script with WWIPMI_* set; returns what it changed."""
    changed = []
    run = bmc.ipmitool
    lan_info = run("lan", "print", "1", address=address).stdout
    if lan_value(lan_info, "802.1q VLAN ID") != "42":
        changed.append("vlan")
        run("lan", "set", "1", "vlan", "id", "42", address=address)
    if lan_value(lan_info, "IP Address") != ipaddr:
        changed.append("ipaddr")
        run("lan", "set", "1", "ipsrc", "static", address=address)
        run("lan", "set", "1", "ipaddr", ipaddr, address=address)
        address = ipaddr
        run("lan", "set", "1", "access", "on", address=address)
    if lan_value(lan_info, "Subnet Mask") != "255.255.0.0":
        changed.append("netmask")
        run("lan", "set", "1", "netmask", "255.255.0.0", address=address)
    if lan_value(lan_info, "Default Gateway IP") != "10.4.0.1":
        changed.append("gateway")
        run("lan", "set", "1", "defgw", "ipaddr", "10.4.0.1", address=address)
    users = run("-c", "user", "list", "1", address=address).stdout
    previous = next((line.split(",")[1] for line in users.splitlines()
                     if line.split(",")[0] == "2"), "")
    if previous != WW_USER:
        changed.append("user")
        run("user", "set", "name", "2", WW_USER, address=address)
        run("user", "priv", "2", "4", "1", address=address)
        run("user", "enable", "2", address=address)
    tested = (run("user", "test", "2", "20", WW_PASSWORD, address=address, check=False)
              .returncode == 0
              or run("user", "test", "2", "16", WW_PASSWORD, address=address, check=False)
              .returncode == 0)
    if not tested:
        changed.append("password")
        run("user", "set", "password", "2", WW_PASSWORD, address=address)
        run("user", "priv", "2", "4", "1", address=address)
        run("user", "enable", "2", address=address)
    run("channel", "setaccess", "1", "2", "link=on", "ipmi=on", "callin=on", "privilege=4",
        address=address)
    for setting in (("force-encryption", "true", "1"), ("force-authentication", "true", "1"),
                    ("privilege-level", "admin", "1")):
        run("sol", "set", *setting, address=address)
    run("sol", "payload", "enable", "1", "2", address=address)
    run("sol", "set", "enabled", "true", "1", "1", address=address)
    run("sol", "set", "non-volatile-bit-rate", "115.2", "1", address=address)
    run("sol", "set", "volatile-bit-rate", "115.2", "1", address=address)
    return changed


def wait_answers(bmc: BmcProcess, address: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while bmc.ipmitool("chassis", "power", "status", address=address,
                       check=False).returncode != 0:
        assert time.monotonic() < deadline, f"no answer at {address}"
        time.sleep(0.2)


def test_warewulf_configuration_script_then_power_template(node: BmcProcess,
                                                            guest: FakeGuestSerial):
    new = next_address()
    first = configure(node, node.address, new)
    assert first == ["vlan", "ipaddr", "netmask", "gateway", "user", "password"]
    wait_answers(node, new)
    # Run again, as every boot does: everything reads back as set, nothing changes.
    assert configure(node, new, new) == []

    lan = node.ipmitool("lan", "print", "1", address=new).stdout
    assert lan_value(lan, "IP Address Source") == "Static Address"
    assert lan_value(lan, "802.1q VLAN ID") == "42"
    access = node.ipmitool("channel", "getaccess", "1", "2", address=new).stdout
    assert re.search(r"IPMI Messaging\s+: enabled", access)
    assert re.search(r"Link Authentication\s+: enabled", access)
    assert re.search(r"Privilege Level\s+: ADMINISTRATOR", access)
    sol = node.ipmitool("sol", "info", "1", address=new).stdout
    for label, value in (("Enabled", "true"), ("Force Encryption", "true"),
                         ("Force Authentication", "true"),
                         ("Privilege Level", "ADMINISTRATOR"),
                         ("Volatile Bit Rate (kbps)", "115.2"),
                         ("Non-Volatile Bit Rate (kbps)", "115.2")):
        assert lan_value(sol, label) == value, (label, sol)
    payload = node.ipmitool("sol", "payload", "status", "1", "2", address=new).stdout
    assert "enabled" in payload.lower()
    wrong = node.ipmitool("user", "test", "2", "20", "not-the-password", address=new,
                          check=False)
    assert wrong.returncode != 0

    # The power template, as the renamed user 2 with the password the script set.
    def power(*command: str) -> str:
        result = subprocess.run([*template_cmd(node, new), *command], capture_output=True,
                                text=True, timeout=60, stdin=subprocess.DEVNULL)
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    def wait_power(state: str) -> None:
        deadline = time.monotonic() + 30
        while f"Chassis Power is {state}" not in power("chassis", "power", "status"):
            assert time.monotonic() < deadline, f"power never {state}"
            time.sleep(0.2)

    wait_power("off")
    power("chassis", "power", "on")
    wait_power("on")
    power("chassis", "power", "cycle")
    wait_power("on")
    power("chassis", "power", "reset")
    wait_power("on")
    power("chassis", "power", "soft")
    wait_power("off")
    power("chassis", "power", "on")
    wait_power("on")
    assert "CPU Temp" in power("sdr", "list")
    sensors = power("sensor", "list")
    assert re.search(r"^CPU Temp\s+\| [0-9.]+\s+\| degrees C", sensors, re.MULTILINE), sensors

    console = PtyProcess([*template_cmd(node, new), "sol", "activate"])
    try:
        console.read_until(b"SOL Session operational")
        console.write(b"warewulf\r")
        console.read_until(b"WAREWULF")
        console.write(b"\r&.")  # the template's -e escape character
        assert console.wait(timeout=20) == 0
    finally:
        console.close()
    power("chassis", "power", "off")
    wait_power("off")
