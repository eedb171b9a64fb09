"""xCAT's native Perl IPMI (plugins/ipmi.pm), replayed byte for byte with `ipmitool raw`.

xCAT's own client (xCAT::IPMI) needs the xCAT Perl tree, so its request bytes are sent here
one by one; each reply is parsed the way ipmi.pm parses it (see /work/shared/reference/xcat.md
section 2 for the line numbers): rsetboot, rvitals (SDR walk + readings + DCMI), rinv (FRU),
reventlog (SEL) and rspconfig's LAN parameters.
"""

from __future__ import annotations

import time

import pytest

from tests.e2e.conftest import AUTH_CAP_PING, BmcProcess, next_address, udp_roundtrip

CH = 1  # currentchannel from Get Channel Authentication Capabilities
RSETBOOT_DEVICES = {"net": (0x04, "Network"), "hd": (0x08, "Hard Drive"),
                    "cd": (0x14, "CD/DVD"), "floppy": (0x3C, "Floppy"),
                    "setup": (0x18, "BIOS Setup")}
XCAT_DEVICE_NAMES = {0: "BIOS default", 1: "Network", 2: "Hard Drive", 5: "CD/DVD",
                     6: "BIOS Setup", 15: "Floppy"}


@pytest.fixture
def node(bmc_factory) -> BmcProcess:
    return bmc_factory(redfish={"enabled": False})


def raw(bmc: BmcProcess, *request: int, address: str | None = None) -> list[int]:
    """One xCAT request; the reply's data bytes (completion code 0 required)."""
    out = bmc.ipmitool("raw", *(f"0x{b:02x}" for b in request), address=address).stdout
    return [int(token, 16) for token in out.split()]


# --------------------------------------------------------------------------- rsetboot
def rsetboot(bmc: BmcProcess, target: str, persistent: bool = False, uefi: bool = False) -> str:
    raw(bmc, 0x00, 0x08, 0x03, 0x08)
    raw(bmc, 0x00, 0x08, 0x00, 0x01)
    if target == "def":
        raw(bmc, 0x00, 0x08, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00)
    else:
        flags = 0x80 | (persistent << 6) | (uefi << 5)
        raw(bmc, 0x00, 0x08, 0x05, flags, RSETBOOT_DEVICES[target][0], 0x00, 0x00, 0x00)
    raw(bmc, 0x00, 0x08, 0x00, 0x00)
    return rsetboot_stat(bmc)


def rsetboot_stat(bmc: BmcProcess) -> str:
    reply = raw(bmc, 0x00, 0x09, 0x05, 0x00, 0x00)
    assert reply[1] == 0x05, reply  # [version, parameter, flags, device, ...]
    flags, device = reply[2], reply[3]
    if not flags & 0x80:
        return "boot override inactive"
    return XCAT_DEVICE_NAMES.get((device & 0x3C) >> 2, "unknown")


@pytest.mark.parametrize("target", sorted(RSETBOOT_DEVICES))
def test_xcat_rsetboot(node: BmcProcess, target: str):
    assert rsetboot(node, target, uefi=True) == RSETBOOT_DEVICES[target][1]
    assert "BIOS EFI boot" in node.ipmitool("chassis", "bootparam", "get", "5").stdout


def test_xcat_rsetboot_persistent_and_def(node: BmcProcess):
    assert rsetboot(node, "net", persistent=True) == "Network"
    out = node.ipmitool("chassis", "bootparam", "get", "5").stdout
    assert "Options apply to all future boots" in out
    assert rsetboot(node, "def") == "boot override inactive"


# --------------------------------------------------------------------------- SDR walk
def sdr_walk(bmc: BmcProcess) -> list[bytes]:
    """initsdr: repository info, reserve, then every record as a 5-byte header + 22-byte reads."""
    info = raw(bmc, 0x0A, 0x20)
    assert info[0] == 0x51, "SDR version unsupported"
    assert info[13] & 0x02, "SDR reservation unsupported"
    reservation = raw(bmc, 0x0A, 0x22)
    records = []
    record_id = 0
    for _ in range(256):
        header = raw(bmc, 0x0A, 0x23, *reservation, record_id & 0xFF, record_id >> 8, 0, 5)
        next_id = header[0] | header[1] << 8
        body = bytearray(header[2:])
        length = body[4]
        offset = 5
        while offset < 5 + length:
            count = min(22, 5 + length - offset)
            chunk = raw(bmc, 0x0A, 0x23, *reservation, record_id & 0xFF, record_id >> 8,
                        offset, count)
            body += bytes(chunk[2:])
            offset += count
        records.append(bytes(body))
        if next_id == 0xFFFF:
            return records
        record_id = next_id
    raise AssertionError("SDR walk did not end at 0xFFFF")


def test_xcat_rvitals(node: BmcProcess):
    node.ipmitool("power", "on")
    status = raw(node, 0x00, 0x01)
    assert status[0] & 1 == 1, "rvitals prints Power Status: on"
    records = sdr_walk(node)
    sensors = [r for r in records if r[3] in (0x01, 0x02)]
    assert len(sensors) >= 3
    readings = {}
    for record in sensors:
        id_offset = 47 if record[3] == 0x01 else 31  # bytes 48 / 32, 1-based
        type_length = record[id_offset]
        assert type_length >> 6 == 0b11, "xCAT needs 8-bit ASCII sensor names"
        name = record[id_offset + 1:id_offset + 1 + (type_length & 0x1F)].decode()
        assert len(name) > 2
        assert record[6] & 0x03 == 0, "owner LUN is passed to Get Sensor Reading; keep it 0"
        reading = raw(node, 0x04, 0x2D, record[7])
        if reading[1] & 0x20:
            continue  # "N/A"
        if record[3] == 0x01:
            m = record[24] | (record[25] & 0xC0) << 2
            b = record[26] | (record[27] & 0xC0) << 2
            r_exp, b_exp = record[29] >> 4, record[29] & 0x0F
            r_exp -= 16 if r_exp > 7 else 0
            b_exp -= 16 if b_exp > 7 else 0
            readings[name] = (m * reading[0] + b * 10 ** b_exp) * 10 ** r_exp
    assert readings, "no Full-record sensor gave a value"
    temperatures = [v for k, v in readings.items() if "Temp" in k]
    assert temperatures and all(0 < t < 120 for t in temperatures), readings
    # DCMI power reading (Get Power Reading, mode 1 system power statistics).
    power = raw(node, 0x2C, 0x02, 0xDC, 0x01, 0x00, 0x00)
    assert power[0] == 0xDC
    current_watts = power[1] | power[2] << 8
    assert current_watts > 0
    assert power[17] & 0x40, "power measurement active"
    # DCMI temperature readings: inlet (0x40) and CPU (0x41) entities, all instances.
    found = 0
    for entity in (0x40, 0x41):
        temp = raw(node, 0x2C, 0x10, 0xDC, 0x01, entity, 0x00, 0x00)
        assert temp[0] == 0xDC
        found += temp[2]
        for index in range(temp[2]):
            value = temp[3 + 2 * index]
            assert 0 < value & 0x7F < 120
    assert found >= 1


# --------------------------------------------------------------------------- rinv
def read_fru(bmc: BmcProcess, device: int = 0) -> bytes:
    info = raw(bmc, 0x0A, 0x10, device)
    size = info[0] | info[1] << 8
    data = bytearray()
    while len(data) < size:
        count = min(16, size - len(data))
        chunk = raw(bmc, 0x0A, 0x11, device, len(data) & 0xFF, len(data) >> 8, count)
        data += bytes(chunk[1:1 + chunk[0]])
        if chunk[0] < count:
            break
    return bytes(data)


def fru_area_strings(area: bytes, skip: int) -> list[str]:
    """The type/length-coded fields of a FRU area, from byte `skip` to the C1h end marker."""
    fields, offset = [], skip
    while offset < len(area) and area[offset] != 0xC1:
        length = area[offset] & 0x3F
        fields.append(area[offset + 1:offset + 1 + length].decode("latin-1"))
        offset += 1 + length
    return fields


def test_xcat_rinv(node: BmcProcess):
    sdr_walk(node)
    guid = raw(node, 0x06, 0x37)
    assert len(guid) == 16
    fru = read_fru(node)
    assert fru[0] == 0x01, "IPMI FRU format"
    assert sum(fru[:8]) & 0xFF == 0
    product = fru[fru[4] * 8:]
    assert product[0] == 0x01
    manufacturer, name, *_ = fru_area_strings(product, 3)
    assert manufacturer and name
    out = node.ipmitool("fru", "print", "0").stdout
    assert manufacturer in out and name in out


# --------------------------------------------------------------------------- reventlog
def test_xcat_reventlog(node: BmcProcess):
    node.ipmitool("power", "on")
    node.ipmitool("power", "off")  # something in the SEL
    raw(node, 0x0A, 0x48)
    info = raw(node, 0x0A, 0x40)
    assert info[0] == 0x51
    assert info[13] & 0x02, "reserve SEL supported"
    entries = info[1] | info[2] << 8
    assert entries >= 1
    walked, record_id = [], 0
    for _ in range(entries + 1):
        reply = raw(node, 0x0A, 0x43, 0x00, 0x00, record_id & 0xFF, record_id >> 8, 0x00, 0xFF)
        walked.append(reply[2:])
        assert len(reply[2:]) == 16
        record_id = reply[0] | reply[1] << 8
        if record_id in (0xFFFF, 0x0000):
            break
    assert len(walked) == entries
    assert any(r[2] == 0x02 for r in walked), "a system event record"
    reservation = raw(node, 0x0A, 0x42)
    raw(node, 0x0A, 0x47, *reservation, ord("C"), ord("L"), ord("R"), 0xAA)
    deadline = time.monotonic() + 10
    while (raw(node, 0x0A, 0x40)[1:3] != [0, 0]) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert raw(node, 0x0A, 0x40)[1:3] in ([0, 0], [1, 0])  # the Clear SEL event may be logged


# --------------------------------------------------------------------------- rspconfig
def lan_get(bmc: BmcProcess, parameter: int, selector: int = 0,
            address: str | None = None) -> list[int]:
    reply = raw(bmc, 0x0C, 0x02, CH, parameter, selector, 0x00, address=address)
    return reply[1:]  # drop the revision


def dotted(data: list[int]) -> str:
    return ".".join(str(b) for b in data[:4])


def lan_set(bmc: BmcProcess, *data: int, address: str | None = None) -> None:
    raw(bmc, 0x0C, 0x01, CH, *data, address=address)


def wait_until_answers(address: str, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while udp_roundtrip(address, 623, AUTH_CAP_PING, 0.2) is None:
        if time.monotonic() > deadline:
            return False
    return True


def test_xcat_rspconfig_network(node: BmcProcess):
    new = next_address()
    lan_set(node, 0x00, 0x01)
    lan_set(node, 0x04, 0x01)  # static first, then the address
    lan_set(node, 0x03, *map(int, new.split(".")))
    # xCAT finishes on the old address in its one session; the move follows set complete.
    lan_set(node, 0x00, 0x00)
    assert wait_until_answers(new)
    lan_set(node, 0x00, 0x01, address=new)
    lan_set(node, 0x06, 255, 255, 255, 0, address=new)
    lan_set(node, 0x0C, 10, 1, 2, 254, address=new)
    lan_set(node, 0x0E, 10, 1, 2, 253, address=new)
    lan_set(node, 0x00, 0x00, address=new)
    assert dotted(lan_get(node, 0x03, address=new)) == new
    assert dotted(lan_get(node, 0x06, address=new)) == "255.255.255.0"
    assert dotted(lan_get(node, 0x0C, address=new)) == "10.1.2.254"
    assert dotted(lan_get(node, 0x0E, address=new)) == "10.1.2.253"


def test_xcat_rspconfig_community_and_snmpdest(node: BmcProcess):
    lan_set(node, 0x00, 0x01)
    community = b"xcatcomm".ljust(18, b"\0")
    lan_set(node, 0x10, *community)
    lan_set(node, 0x13, 0x01, 0x00, 0x00, 10, 9, 8, 7, *bytes(6))
    lan_set(node, 0x00, 0x00)
    assert bytes(lan_get(node, 0x10)).split(b"\0")[0] == b"xcatcomm"
    dest = lan_get(node, 0x13, selector=1)
    assert dest[0] == 1 and dotted(dest[3:7]) == "10.9.8.7"
