"""The smaller commands of a server BMC through real clients: ipmitool firewall/i2c/sensor,
FreeIPMI bmc-device ACPI and interface capabilities, raw Partial Add SEL Entry."""

from __future__ import annotations

import os
import shutil

import pytest

from tests.e2e.conftest import BmcProcess

pytestmark = pytest.mark.skipif(not os.path.exists("/usr/bin/ipmitool"),
                                reason="ipmitool is not installed")
needs_freeipmi = pytest.mark.skipif(shutil.which("bmc-device") is None,
                                    reason="FreeIPMI is not installed")


def raw(bmc: BmcProcess, *data: str) -> list[int]:
    result = bmc.ipmitool("raw", *data)
    return [int(part, 16) for part in result.stdout.split()]


def test_firewall_info_lists_the_served_commands(bmc: BmcProcess):
    result = bmc.ipmitool("firewall", "info")
    assert result.returncode == 0 and result.stderr.strip() == "", result.stderr
    lines = result.stdout.splitlines()
    for netfn in ("00,00", "00,04", "00,06", "00,0a", "00,0c", "00,2c"):
        assert any(line.startswith(f"{netfn} support:") for line in lines), result.stdout
    app = bmc.ipmitool("firewall", "info", "lun", "0", "netfn", "6")
    assert app.returncode == 0 and "Commands on LUN 0x00, NetFn 0x06" in app.stdout, app.stdout
    one = bmc.ipmitool("firewall", "info", "lun", "0", "netfn", "6", "command", "1")
    assert "LUN 0, NetFn 0x06, Command 0x01:        | X |   | X |" in one.stdout, one.stdout


def test_i2c_reads_the_fru_eeprom(bmc: BmcProcess):
    header = raw(bmc, "0x0a", "0x11", "0x00", "0x00", "0x00", "0x08")[1:]  # Read FRU Data
    result = bmc.ipmitool("i2c", "bus=0", "0xa0", "8", "0x00")
    assert result.returncode == 0, result.stdout + result.stderr
    read = [int(part, 16) for part in result.stdout.split()]
    assert read == header and header[0] == 0x01  # the FRU common header, format version 1
    public = bmc.ipmitool("i2c", "0xa0", "8", "0x00", check=False)
    assert public.returncode != 0  # nothing on the public IPMB


def test_sensor_event_enable_and_reading(bmc: BmcProcess):
    listing = bmc.ipmitool("sdr", "get", "CPU Temp").stdout
    number = int(next(line for line in listing.splitlines()
                      if "Sensor ID" in line).split("(")[1].split(")")[0], 16)
    assert raw(bmc, "0x04", "0x29", hex(number)) == [0xC0, 0x80, 0x0A, 0x80, 0x0A]
    raw(bmc, "0x04", "0x28", hex(number), "0xa0", "0x80", "0x00")
    assert raw(bmc, "0x04", "0x29", hex(number)) == [0x80, 0x00, 0x0A, 0x80, 0x0A]
    bmc.restart()
    assert raw(bmc, "0x04", "0x29", hex(number)) == [0x80, 0x00, 0x0A, 0x80, 0x0A]
    raw(bmc, "0x04", "0x30", hex(number), "0x01", "0x60")  # pin the reading
    assert raw(bmc, "0x04", "0x2d", hex(number))[0] == 0x60


def test_partial_add_sel_entry(bmc: BmcProcess):
    reservation = raw(bmc, "0x0a", "0x42")
    res = [hex(b) for b in reservation]
    first = ["0x00", "0x00", "0x02", "0x00", "0x00", "0x00", "0x00", "0x41", "0x00", "0x04"]
    assert raw(bmc, "0x0a", "0x45", *res, "0", "0", "0", "0", *first) == [0, 0]
    rest = ["0x05", "0x77", "0x6f", "0x01", "0xff", "0xff"]
    record_id = raw(bmc, "0x0a", "0x45", *res, "0", "0", "10", "1", *rest)
    assert record_id != [0, 0]
    listing = bmc.ipmitool("sel", "list").stdout
    last = listing.splitlines()[-1]
    assert int(last.split("|")[0], 16) == record_id[0] | record_id[1] << 8, listing
    assert "Physical Security #0x77 | Drive Bay intrusion | Asserted" in last, last


@needs_freeipmi
def test_bmc_device_acpi_power_state(bmc: BmcProcess):
    bmc.ipmitool("chassis", "power", "on")
    shown = bmc.freeipmi("bmc-device", "--get-acpi-power-state").stdout
    assert "S0/G0" in shown and "D0" in shown, shown
    bmc.freeipmi("bmc-device", "--set-acpi-power-state",
                 "--set-acpi-system-power-state=S1", "--set-acpi-device-power-state=D1")
    shown = bmc.freeipmi("bmc-device", "--get-acpi-power-state").stdout
    assert "S1" in shown and "D1" in shown, shown
    bmc.ipmitool("chassis", "power", "off")
    shown = bmc.freeipmi("bmc-device", "--get-acpi-power-state").stdout
    assert "S5/G2" in shown and "D3" in shown, shown


@needs_freeipmi
def test_bmc_device_interface_capabilities(bmc: BmcProcess):
    kcs = bmc.freeipmi("bmc-device", "--get-kcs-interface-capabilities")
    assert "KCS Maximum Input Message Size : 255 bytes" in kcs.stdout, kcs.stdout
    bt = bmc.freeipmi("bmc-device", "--get-bt-interface-capabilities", check=False)
    assert bt.returncode != 0  # this BMC's guest talks KCS
