"""Storage commands (NetFn 0x0A) through the dispatcher: SDR, FRU and SEL, as clients send them."""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path

import pytest

from pybmc.core.bmc import Bmc
from pybmc.wire.codes import LAN_CHANNEL, Privilege
from tests.unit.conftest import MakeBmc

WALL = 1_700_000_000.0  # the wall clock these tests give the SEL


@pytest.fixture
def prepare_bmc() -> Callable[[Bmc], None]:
    def pin_wall_clock(bmc: Bmc) -> None:
        bmc.platform.sel.wall_clock = lambda: WALL
    return pin_wall_clock


def call(bmc: Bmc, netfn: int, cmd: int, data: bytes = b"",
         privilege: Privilege = Privilege.ADMINISTRATOR) -> tuple[int, bytes]:
    response = bmc.execute(bmc.context(LAN_CHANNEL, privilege), netfn, cmd, data)
    return response[0], response[1:]


def ok(bmc: Bmc, netfn: int, cmd: int, data: bytes = b"",
       privilege: Privilege = Privilege.ADMINISTRATOR) -> bytes:
    cc, payload = call(bmc, netfn, cmd, data, privilege)
    assert cc == 0, f"{netfn:#x}/{cmd:#x} {data.hex()} -> cc {cc:#x}"
    return payload


def reserve_sdr(bmc: Bmc) -> int:
    return int.from_bytes(ok(bmc, 0x0A, 0x22), "little")


def get_sdr(bmc: Bmc, reservation: int, record_id: int, offset: int, count: int) -> tuple[int,
                                                                                          bytes]:
    return call(bmc, 0x0A, 0x23, struct.pack("<HHBB", reservation, record_id, offset, count))


# ------------------------------------------------------------------------------- SDR
def test_sdr_repository_info_is_what_xcat_checks(bmc: Bmc):
    info = ok(bmc, 0x0A, 0x20, privilege=Privilege.USER)
    assert len(info) == 14
    assert info[0] == 0x51  # xCAT: "SDR version unsupported" otherwise
    assert info[13] & 0x02  # reserve supported: xCAT needs it
    assert int.from_bytes(info[1:3], "little") == len(bmc.platform.sdr.records) >= 4


def test_sdr_walk_xcat_style_header_then_22_byte_chunks(bmc: Bmc):
    reservation = reserve_sdr(bmc)
    record_id, seen = 0, []
    while record_id != 0xFFFF:
        cc, header = get_sdr(bmc, reservation, record_id, 0, 5)
        assert cc == 0
        next_id, record = int.from_bytes(header[:2], "little"), bytearray(header[2:])
        length = record[4] + 5
        while len(record) < length:
            cc, chunk = get_sdr(bmc, reservation, record_id, len(record),
                                min(22, length - len(record)))
            assert cc == 0
            record += chunk[2:]
        cc, whole = get_sdr(bmc, 0, record_id, 0, 0xFF)  # pyghmi: the whole record at once
        assert cc == 0 and whole[2:] == record
        seen.append(bytes(record))
        record_id = next_id
    assert seen == bmc.platform.sdr.records
    types = [record[3] for record in seen]
    assert {0x01, 0x02, 0x11, 0x12} <= set(types)
    names = [record[48:48 + (record[47] & 0x1F)] for record in seen if record[3] == 0x01]
    assert b"CPU Temp" in names and b"12V" in names


def test_sdr_partial_read_with_cancelled_reservation_gets_c5(bmc: Bmc):
    old = reserve_sdr(bmc)
    new = reserve_sdr(bmc)
    assert new != old
    assert get_sdr(bmc, old, 1, 5, 10)[0] == 0xC5
    assert get_sdr(bmc, 0, 1, 5, 10)[0] == 0xC5
    assert get_sdr(bmc, new, 1, 5, 10)[0] == 0x00
    assert get_sdr(bmc, new, 0x7777, 0, 5)[0] == 0xCB


def test_sdr_allocation_info_and_time(bmc: Bmc):
    allocation = ok(bmc, 0x0A, 0x21)
    assert allocation[:4] == bytes([0x00, 0x01, 0x10, 0x00])  # 256 units of 16 bytes
    assert len(ok(bmc, 0x0A, 0x28)) == 4


def test_device_sdr_commands_serve_the_same_records(bmc: Bmc):
    info = ok(bmc, 0x04, 0x20, b"\x01")
    assert info == bytes([len(bmc.platform.sdr.records), 0x01])
    assert ok(bmc, 0x04, 0x20)[0] == len(bmc.platform.sensors)
    reservation = int.from_bytes(ok(bmc, 0x04, 0x22), "little")
    part = ok(bmc, 0x04, 0x21, struct.pack("<HHBB", reservation, 1, 5, 3))
    assert part[2:] == bmc.platform.sdr.records[0][5:8]


def test_sdr_timestamp_depends_on_the_records_only(tmp_path: Path, make_bmc: MakeBmc):
    # pyghmi (per process) and FreeIPMI (on disk) key their SDR caches on it.
    first = make_bmc(tmp_path / "a").platform.sdr.info()[5:9]
    assert make_bmc(tmp_path / "a").platform.sdr.info()[5:9] == first  # a restart
    assert make_bmc(tmp_path / "b").platform.sdr.info()[5:9] == first  # same sensors
    other = make_bmc(tmp_path / "c", sensors=[{"name": "Only", "type": "fan", "nominal": 9}])
    assert other.platform.sdr.info()[5:9] != first
    stamp = int.from_bytes(first, "little")
    assert 1704067200 <= stamp < 1704067200 + (1 << 24)  # within 2024


# ------------------------------------------------------------------------------- FRU
def read_fru(bmc: Bmc, fru_id: int, chunk: int = 16) -> bytes:
    size = int.from_bytes(ok(bmc, 0x0A, 0x10, bytes([fru_id]))[:2], "little")
    data = b""
    while len(data) < size:
        reply = ok(bmc, 0x0A, 0x11, struct.pack("<BHB", fru_id, len(data), chunk))
        assert reply[0] == len(reply) - 1 > 0
        data += reply[1:]
    return data


def test_fru_area_info_and_16_byte_reads(bmc: Bmc):
    assert ok(bmc, 0x0A, 0x10, b"\x00", Privilege.USER) == bytes([0x00, 0x01, 0x00])
    data = read_fru(bmc, 0)
    assert data == bytes(bmc.platform.fru.device(0).data)
    assert data[0] == 0x01 and sum(data[:8]) % 256 == 0
    assert b"Virtual Server" in data and b"pybmc" in data
    assert read_fru(bmc, 0, chunk=224) == data  # pyghmi's chunk size


def test_fru_read_edges(bmc: Bmc):
    assert ok(bmc, 0x0A, 0x11, struct.pack("<BHB", 0, 250, 16)) == bytes([6]) + bytes(
        bmc.platform.fru.device(0).data[250:])
    assert ok(bmc, 0x0A, 0x11, struct.pack("<BHB", 0, 256, 16)) == b"\x00"
    assert call(bmc, 0x0A, 0x11, struct.pack("<BHB", 0, 257, 16))[0] == 0xC9
    assert call(bmc, 0x0A, 0x10, b"\x07")[0] == 0xCB
    assert call(bmc, 0x0A, 0x11, struct.pack("<BHB", 7, 0, 16))[0] == 0xCB


def test_fru_write_reads_back_and_persists(tmp_path: Path, make_bmc: MakeBmc):
    bmc = make_bmc(tmp_path)
    assert call(bmc, 0x0A, 0x12, b"\x00\xf0\x00ABC", Privilege.USER)[0] == 0xD4
    assert ok(bmc, 0x0A, 0x12, b"\x00\xf0\x00ABC", Privilege.OPERATOR) == b"\x03"
    assert ok(bmc, 0x0A, 0x11, b"\x00\xf0\x00\x03") == b"\x03ABC"
    assert call(bmc, 0x0A, 0x12, b"\x00\xff\x00AB")[0] == 0xC9
    again = make_bmc(tmp_path)
    assert ok(again, 0x0A, 0x11, b"\x00\xf0\x00\x03") == b"\x03ABC"


def test_fru_config_values_and_second_device(tmp_path: Path, make_bmc: MakeBmc):
    bmc = make_bmc(tmp_path, fru={"product": {"serial_number": "SN-4711", "asset_tag": "A-17"},
                                  "board": {"manufacture_date": "2020-02-29 12:00"}})
    data = read_fru(bmc, 0)
    assert b"\xc7SN-4711" in data and b"\xc4A-17" in data
    board = data[data[3] * 8:]
    minutes = int.from_bytes(board[3:6], "little")
    assert minutes == (24 * 365 + 6) * 1440 + (31 + 28) * 1440 + 12 * 60  # 2020-02-29 12:00
    psu = read_fru(bmc, 1)
    assert b"Power Supply" in psu and sum(psu[:8]) % 256 == 0


# ------------------------------------------------------------------------------- SEL
def reserve_sel(bmc: Bmc) -> int:
    return int.from_bytes(ok(bmc, 0x0A, 0x42, privilege=Privilege.USER), "little")


def sel_entries(bmc: Bmc) -> list[bytes]:
    entries, record_id = [], 0
    while record_id != 0xFFFF:
        reply = ok(bmc, 0x0A, 0x43, struct.pack("<HHBB", 0, record_id, 0, 0xFF))
        entries.append(reply[2:])
        record_id = int.from_bytes(reply[:2], "little")
    return entries


def test_sel_starts_with_the_bmc_start_event(bmc: Bmc):
    info = ok(bmc, 0x0A, 0x40, privilege=Privilege.USER)
    # Operations: delete, partial add, reserve, allocation info.
    assert len(info) == 14 and info[0] == 0x51 and info[13] == 0x0F
    assert int.from_bytes(info[1:3], "little") == 1
    (entry,) = sel_entries(bmc)
    # Management Subsystem Health "controller off-line" deasserted: the BMC is (back) up.
    assert entry[2] == 0x02 and entry[7:9] == b"\x20\x00" and entry[9] == 0x04
    assert entry[10:] == bytes([0x28, 0xD5, 0xEF, 0x02, 0xFF, 0xFF])


def test_add_get_delete_sel_entries(bmc: Bmc):
    record = bytes([0, 0, 0x02, 0, 0, 0, 0, 0x41, 0x00, 0x04, 0x01, 0x30, 0x01, 0x59, 0x60, 0x55])
    assert call(bmc, 0x0A, 0x44, record, Privilege.USER)[0] == 0xD4
    new_id = int.from_bytes(ok(bmc, 0x0A, 0x44, record, Privilege.OPERATOR), "little")
    assert new_id == 2
    last = ok(bmc, 0x0A, 0x43, struct.pack("<HHBB", 0, 0xFFFF, 0, 0xFF))
    assert last[:2] == b"\xff\xff"
    assert last[2:] == bytes([0x02, 0x00, 0x02]) + struct.pack("<I", int(WALL)) + record[7:]
    assert call(bmc, 0x0A, 0x43, struct.pack("<HHBB", 0, 2, 3, 4))[0] == 0xC5  # partial
    reservation = reserve_sel(bmc)
    assert ok(bmc, 0x0A, 0x43, struct.pack("<HHBB", reservation, 2, 3, 4))[2:] == last[5:9]
    assert call(bmc, 0x0A, 0x43, struct.pack("<HHBB", 0, 9, 0, 0xFF))[0] == 0xCB
    assert ok(bmc, 0x0A, 0x46, struct.pack("<HH", reservation, 2)) == b"\x02\x00"
    assert call(bmc, 0x0A, 0x46, struct.pack("<HH", reservation, 1))[0] == 0xC5  # cancelled
    assert len(sel_entries(bmc)) == 1
    assert ok(bmc, 0x0A, 0x40)[9:13] == struct.pack("<I", int(WALL))  # last erase time


def test_clear_sel_protocol(bmc: Bmc):
    reservation = reserve_sel(bmc)
    clear = struct.pack("<H", reservation) + b"CLR"
    assert call(bmc, 0x0A, 0x47, clear + b"\xaa", Privilege.USER)[0] == 0xD4
    assert call(bmc, 0x0A, 0x47, struct.pack("<H", reservation) + b"CLX\xaa")[0] == 0xCC
    assert call(bmc, 0x0A, 0x47, struct.pack("<H", reservation + 1) + b"CLR\xaa")[0] == 0xC5
    assert call(bmc, 0x0A, 0x47, clear + b"\x55")[0] == 0xCC
    assert ok(bmc, 0x0A, 0x47, clear + b"\xaa", Privilege.OPERATOR) == b"\x01"
    assert ok(bmc, 0x0A, 0x47, clear + b"\x00") == b"\x01"  # status: erase completed
    (entry,) = sel_entries(bmc)
    assert entry[:2] == b"\x01\x00"  # IDs start again
    assert entry[10:] == bytes([0x10, 0xD4, 0x6F, 0x02, 0xFF, 0xFF])  # log area cleared
    assert call(bmc, 0x0A, 0x47, struct.pack("<H", 0x7777) + b"CLR\x00")[0] == 0xC5


def test_sel_time_set_get_and_utc_offset(tmp_path: Path, make_bmc: MakeBmc):
    bmc = make_bmc(tmp_path)
    assert ok(bmc, 0x0A, 0x48, privilege=Privilege.USER) == struct.pack("<I", int(WALL))
    assert call(bmc, 0x0A, 0x49, struct.pack("<I", 0x5F5E1000), Privilege.USER)[0] == 0xD4
    ok(bmc, 0x0A, 0x49, struct.pack("<I", 0x5F5E1000), Privilege.OPERATOR)
    assert ok(bmc, 0x0A, 0x48) == struct.pack("<I", 0x5F5E1000)
    assert ok(bmc, 0x0A, 0x5C) == b"\xff\x07"  # unspecified
    ok(bmc, 0x0A, 0x5D, struct.pack("<h", -300))
    again = make_bmc(tmp_path)
    assert ok(again, 0x0A, 0x48) == struct.pack("<I", 0x5F5E1000)  # the offset persisted
    assert ok(again, 0x0A, 0x5C) == struct.pack("<h", -300)


def test_sel_survives_a_restart(tmp_path: Path, make_bmc: MakeBmc):
    bmc = make_bmc(tmp_path)
    record = bytes([0, 0, 0x02, 0, 0, 0, 0, 0x41, 0x00, 0x04, 0x01, 0x30, 0x01, 0x59, 0x60, 0x55])
    ok(bmc, 0x0A, 0x44, record)
    before = sel_entries(bmc)
    again = make_bmc(tmp_path)
    after = sel_entries(again)
    assert after[:2] == before
    assert len(after) == 3 and after[2][:2] == b"\x03\x00"  # restart logged, IDs go on


def test_sel_full_sets_overflow_and_refuses_adds(tmp_path: Path, make_bmc: MakeBmc):
    bmc = make_bmc(tmp_path, sel={"capacity": 16})
    record = bytes([0, 0, 0x02, *bytes(13)])
    for _ in range(15):
        ok(bmc, 0x0A, 0x44, record)
    assert call(bmc, 0x0A, 0x44, record)[0] == 0xC4
    info = ok(bmc, 0x0A, 0x40)
    assert int.from_bytes(info[1:3], "little") == 16
    assert info[3:5] == b"\x00\x00" and info[13] & 0x80
    assert ok(bmc, 0x0A, 0x41) == struct.pack("<HHHHB", 16, 16, 0, 0, 1)
    reading = ok(bmc, 0x04, 0x2D, bytes([bmc.platform.find_sensor("Event Log").number]))
    assert reading[2] & 0x10  # the Event Log sensor reports "log full"


def test_non_timestamped_oem_records_keep_their_bytes(bmc: Bmc):
    record = bytes([0, 0, 0xE1, *range(1, 14)])
    ok(bmc, 0x0A, 0x44, record)
    last = ok(bmc, 0x0A, 0x43, struct.pack("<HHBB", 0, 0xFFFF, 0, 0xFF))[2:]
    assert last[2:] == record[2:]


def test_short_requests_get_c7(bmc: Bmc):
    assert call(bmc, 0x0A, 0x23, b"\x00\x00")[0] == 0xC7
    assert call(bmc, 0x0A, 0x44, bytes(15))[0] == 0xC7
    assert call(bmc, 0x0A, 0x11, b"\x00")[0] == 0xC7
