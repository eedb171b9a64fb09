"""PEF end to end: FreeIPMI's and ipmitool's PEF tools against a real `pybmc serve`."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import BmcProcess, next_address

pytestmark = pytest.mark.skipif(shutil.which("ipmitool") is None,
                                reason="ipmitool is not installed")
SNMPTRAPD = shutil.which("snmptrapd")

# FreeIPMI's config files split values at white space: the string is one word, 4 blocks long.
ALERT_STRING = "Machine_lost_power:a_string_over_three_blocks_of_16_bytes!"


def set_value(text: str, section: str, key: str, value: str) -> str:
    start = text.index(f"Section {section}\n")
    end = text.index("EndSection", start)
    body, count = re.subn(rf"(\t{key}[ \t]+)\S*", rf"\g<1>{value}", text[start:end])
    assert count == 1, f"{section}/{key} not in the checkout"
    return text[:start] + body + text[end:]


@pytest.mark.skipif(shutil.which("ipmi-pef-config") is None, reason="FreeIPMI is not installed")
def test_ipmi_pef_config_checkout_and_commit_read_back(bmc: BmcProcess, tmp_path: Path):
    checkout = bmc.freeipmi("ipmi-pef-config", "--checkout").stdout
    assert "Section Alert_String_1" in checkout
    changed = set_value(checkout, "Alert_String_1", "Event_Filter_Number", "3")
    changed = set_value(changed, "Alert_String_1", "Alert_String_Set", "2")
    changed = set_value(changed, "Alert_String_1", "Alert_String", ALERT_STRING)
    path = tmp_path / "pef.conf"
    path.write_text(changed)
    bmc.freeipmi("ipmi-pef-config", "--commit", "-f", str(path))
    assert bmc.freeipmi("ipmi-pef-config", "--checkout").stdout == changed
    block3 = bmc.ipmitool("raw", "0x04", "0x13", "13", "1", "3").stdout.split()
    assert bytes(int(b, 16) for b in block3[3:]).rstrip(b"\0") == ALERT_STRING[32:48].encode()


def test_ipmitool_pef_subcommands_run(bmc: BmcProcess):
    # (ipmitool 1.8.19 itself answers "pef capabilities" with "Not implemented.")
    for subcommand in (["info"], ["status"], ["filter", "list"], ["policy", "list"]):
        result = bmc.ipmitool("pef", *subcommand)
        assert not result.stderr.strip(), result.stderr
    info = bmc.ipmitool("pef", "info").stdout  # the actions Get PEF Capabilities announces
    assert "Alert,Power-off,Reset,Power-cycle,Diagnostic-interrupt" in info


def wait_for(predicate: Callable[[], bool], timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return predicate()


def test_threshold_event_with_power_off_filter_turns_the_machine_off(bmc_factory: Any):
    bmc = bmc_factory(power={"initial_state": "on"})
    bmc.ipmitool("raw", "0x04", "0x12", "1", "0x01")  # PEF on, no startup delay
    bmc.ipmitool("raw", "0x04", "0x12", "2", "0x03")  # alert and power-down actions on
    # Filter 1: enabled, power off, policy 1, critical; any generator, temperature sensors,
    # threshold events, any offset, event data unmasked.
    bmc.ipmitool("raw", "0x04", "0x12", "6", "1", "0x80", "0x02", "0x01", "0x04", "0xff",
                 "0xff", "0x01", "0xff", "0x01", "0xff", "0xff", *["0"] * 9)
    assert "Power-off" in bmc.ipmitool("pef", "filter", "list").stdout
    assert "is on" in bmc.ipmitool("chassis", "power", "status").stdout
    bmc.ipmitool("sensor", "thresh", "Inlet Temp", "unc", "20", "38", "42")  # below 23.5 C
    assert wait_for(lambda: "is off" in bmc.ipmitool("chassis", "power", "status").stdout)
    sel = bmc.ipmitool("sel", "list").stdout
    assert "Upper Non-critical going high" in sel
    assert "Power off/down" in sel


@pytest.mark.skipif(SNMPTRAPD is None, reason="snmptrapd is not installed")
def test_pet_trap_for_power_off_reaches_snmptrapd(bmc_factory: Any, tmp_path: Path):
    receiver = next_address()
    port = 16162
    conf = tmp_path / "snmptrapd.conf"
    conf.write_text("disableAuthorization yes\n")
    out = tmp_path / "traps.log"
    with out.open("wb") as sink:
        trapd = subprocess.Popen(
            [SNMPTRAPD, "-f", "-Lo", "-On", "-m", "", "-M", str(tmp_path), "-C", "-c", str(conf),
             f"udp:{receiver}:{port}"], stdout=sink, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL)
    try:
        assert wait_for(lambda: "NET-SNMP version" in out.read_text(errors="replace"))
        bmc = bmc_factory(power={"initial_state": "on"}, lan={"alert_port": port})
        bmc.ipmitool("lan", "alert", "set", "1", "1", "ipaddr", receiver)
        bmc.ipmitool("lan", "alert", "set", "1", "1", "type", "pet")
        bmc.ipmitool("lan", "set", "1", "snmp", "pybmc-e2e")
        bmc.ipmitool("raw", "0x04", "0x12", "1", "0x01")  # PEF on
        bmc.ipmitool("raw", "0x04", "0x12", "2", "0x01")  # alert action on
        bmc.ipmitool("raw", "0x04", "0x12", "9", "1", "0x18", "0x11", "0x00")  # policy 1
        # Filter 1: alert along policy 1 on Power Unit (09) sensor-specific (6F) offset 0.
        bmc.ipmitool("raw", "0x04", "0x12", "6", "1", "0x80", "0x01", "0x01", "0x10", "0xff",
                     "0xff", "0x09", "0xff", "0x6f", "0x01", "0x00", *["0"] * 9)
        bmc.ipmitool("chassis", "power", "off")

        def trap_seen() -> bool:
            text = out.read_text(errors="replace")
            return "community pybmc-e2e" in text and ".1.3.6.1.4.1.3183.1.1.1 = " in text
        assert wait_for(trap_seen), out.read_text(errors="replace")
        text = out.read_text(errors="replace")
        assert f"[{bmc.address}]:623->[{receiver}]:{port}" in text  # from the BMC's address
        assert "Enterprise Specific Trap (618240)" in text  # 0x096F00: Power Unit, off
        assert "pybmc-e2e" not in (bmc.log_path.read_text() if bmc.log_path else "")
    finally:
        trapd.terminate()
        trapd.wait(timeout=10)
