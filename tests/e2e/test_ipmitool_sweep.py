"""Every ipmitool subcommand that talks to a BMC over lanplus, in its read-only common forms,
answers without an "Invalid command"/"not supported" error, and LAN statistics count packets."""

from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import BmcProcess

pytestmark = pytest.mark.e2e

# Read-only forms, one per line of each subcommand's usage text that talks to the BMC.
SWEEP = [
    "mc info", "mc guid", "mc selftest", "mc getenables", "mc watchdog get",
    "mc getsysinfo system_name", "chassis restart_cause",
    "chassis status", "chassis poh", "chassis bootparam get 5", "chassis selftest",
    "power status",
    "sdr list", "sdr elist", "sdr info", "sdr type Temperature",
    "sdr elist full", "sdr elist compact",
    "sensor list",
    "fru print", "fru list",
    "sel info", "sel list", "sel elist", "sel time get",
    "pef status", "pef info", "pef policy list", "pef filter list",
    "sol info 1", "sol payload status 1 2",
    "user list 1", "user summary 1",
    "channel info 1", "channel authcap 1 4", "channel getaccess 1 2", "channel getciphers ipmi 1",
    "channel info 2", "channel getaccess 2 2", "user list 2",  # the serial/modem channel
    "session info all", "session info active",
    "lan print 1", "lan stats get 1", "lan alert print 1",
    "lan6 print 1",
    "dcmi discover", "dcmi power reading", "dcmi get_mc_id_string", "dcmi asset_tag",
    "dcmi power get_limit", "dcmi sensors", "dcmi get_conf_param",
    "raw 0x06 0x01", "echo",
    "firewall info",
]
REFUSALS = re.compile(r"invalid command|not supported|unknown command", re.IGNORECASE)
# A value ipmitool prints, not a refusal: the BMC reports it has no IPv6 timing parameters.
REPORTED_VALUES = re.compile(r"Timing Configuration Support: not supported")


@pytest.mark.parametrize("command", SWEEP)
def test_ipmitool_read_only_form_is_answered(bmc: BmcProcess, command: str):
    result = bmc.ipmitool(*command.split(), check=False)
    output = REPORTED_VALUES.sub("", result.stdout + result.stderr)
    assert not REFUSALS.search(output), output
    assert result.returncode == 0, output


def _stat(text: str, name: str) -> int:
    match = re.search(rf"^{name}\s*:\s*(\d+)", text, re.MULTILINE)
    assert match, text
    return int(match.group(1))


def test_lan_statistics_count_and_clear(bmc: BmcProcess):
    for _ in range(3):
        bmc.ipmitool("mc", "info")
    first = bmc.ipmitool("lan", "stats", "get", "1").stdout
    received = _stat(first, "IP Rx Packet")
    assert received > 10, first
    assert _stat(first, "RMCP Rx Valid") > 10, first
    bmc.ipmitool("lan", "stats", "clear", "1")
    after = bmc.ipmitool("lan", "stats", "get", "1").stdout
    # Only the packets of the one session that read them since the clear.
    assert _stat(after, "IP Rx Packet") < received, after
