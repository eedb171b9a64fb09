"""SDR repository writes through real clients: ipmitool raw Add/Delete SDR, read back with
`ipmitool sdr list` and FreeIPMI `ipmi-sdr`, across a restart."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from pybmc.model.platform.sdr import SensorRecordFields, compact_sensor_record
from tests.e2e.conftest import BmcProcess

pytestmark = pytest.mark.skipif(not os.path.exists("/usr/bin/ipmitool"),
                                reason="ipmitool is not installed")
NAME = "Added Intrusion"


def raw(bmc: BmcProcess, *data: str) -> list[int]:
    result = bmc.ipmitool("raw", *data)
    return [int(part, 16) for part in result.stdout.split()]


def added_record() -> list[str]:
    fields = SensorRecordFields(number=0x7E, name=NAME, sensor_type=0x05, reading_type=0x6F,
                                entity=0x17, entity_instance=1, assertion_mask=0x0001,
                                reading_mask=0x0001)
    return [f"0x{byte:02x}" for byte in compact_sensor_record(0, fields)]


def sdr_names(bmc: BmcProcess) -> list[str]:
    listing = bmc.ipmitool("sdr", "list", "all").stdout
    return [line.split("|")[0].strip() for line in listing.splitlines() if "|" in line]


def test_add_and_delete_sdr_read_back_by_ipmitool_and_freeipmi(bmc: BmcProcess,
                                                              tmp_path: Path):
    before = sdr_names(bmc)
    assert NAME not in before and "CPU Temp" in before
    reply = raw(bmc, "0x0a", "0x24", *added_record())  # Add SDR
    record_id = reply[0] | reply[1] << 8
    assert sdr_names(bmc) == [*before, NAME]
    if shutil.which("ipmi-sdr"):
        cache = tmp_path / "sdr-cache"
        cache.mkdir(mode=0o700)
        listing = bmc.freeipmi("ipmi-sdr", f"--sdr-cache-directory={cache}").stdout
        assert NAME in listing and "CPU Temp" in listing, listing
    bmc.restart()
    assert sdr_names(bmc) == [*before, NAME]  # kept in state_dir/sdr.json
    reservation = raw(bmc, "0x0a", "0x22")
    deleted = raw(bmc, "0x0a", "0x26", *(hex(b) for b in reservation),
                  hex(record_id & 0xFF), hex(record_id >> 8))
    assert deleted == reply
    assert sdr_names(bmc) == before
    info = raw(bmc, "0x0a", "0x20")
    assert info[13] == 0x6F  # delete, partial add, updates: ipmitool `sdr info` prints them
    text = bmc.ipmitool("sdr", "info").stdout
    lines = {line.split(":")[0].strip(): line.split(":", 1)[1].strip()
             for line in text.splitlines() if ":" in line}
    assert lines.get("SDR Repository Update Support") == "modal and non-modal", text
    assert lines.get("Delete SDR supported") == "yes", text
    assert lines.get("Partial Add SDR supported") == "yes", text
