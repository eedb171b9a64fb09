"""SDR write commands (Storage 0x24-0x2C) as byte vectors through the dispatcher."""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path

import pytest

from pybmc.core.bmc import Bmc
from pybmc.wire.codes import Privilege
from tests.unit.conftest import MakeBmc
from tests.unit.test_platform_storage import call, get_sdr, ok, reserve_sdr

WALL = 1_700_000_000.0
# An OEM record (type C0h): header with a placeholder ID, length 3, manufacturer 0x0157 + 1 byte.
OEM_RECORD = bytes([0x00, 0x00, 0x51, 0xC0, 0x04, 0x57, 0x01, 0x00, 0x2A])


@pytest.fixture
def prepare_bmc() -> Callable[[Bmc], None]:
    def pin_wall_clock(bmc: Bmc) -> None:
        bmc.platform.sel.wall_clock = lambda: WALL
    return pin_wall_clock


def record_ids(bmc: Bmc) -> list[int]:
    ids, record_id = [], 0
    while record_id != 0xFFFF:
        cc, data = get_sdr(bmc, 0, record_id, 0, 0xFF)
        assert cc == 0
        ids.append(struct.unpack_from("<H", data, 2)[0])
        record_id = struct.unpack_from("<H", data)[0]
    return ids


def test_info_advertises_the_write_operations(bmc: Bmc):
    assert ok(bmc, 0x0A, 0x20)[13] == 0x6F  # modal+non-modal, delete, partial add, reserve, alloc


def test_add_sdr_gets_the_next_id_and_updates_info(bmc: Bmc):
    before = record_ids(bmc)
    new_id = int.from_bytes(ok(bmc, 0x0A, 0x24, OEM_RECORD), "little")
    assert new_id == max(before) + 1
    cc, data = get_sdr(bmc, 0, new_id, 0, 0xFF)
    assert cc == 0 and data == b"\xff\xff" + struct.pack("<H", new_id) + OEM_RECORD[2:]
    info = ok(bmc, 0x0A, 0x20)
    assert int.from_bytes(info[1:3], "little") == len(before) + 1
    assert int.from_bytes(info[5:9], "little") == int(WALL)  # most recent addition


def test_add_sdr_needs_operator_and_a_consistent_record(bmc: Bmc):
    assert call(bmc, 0x0A, 0x24, OEM_RECORD, Privilege.USER)[0] == 0xD4
    assert call(bmc, 0x0A, 0x24, OEM_RECORD[:-1])[0] == 0xCC  # length byte 4, body 3
    assert call(bmc, 0x0A, 0x24, OEM_RECORD[:4])[0] == 0xC7
    assert call(bmc, 0x0A, 0x24, bytes([0, 0, 0x99]) + OEM_RECORD[3:])[0] == 0xCC  # version


def test_partial_add_in_pieces_under_a_reservation(bmc: Bmc):
    reservation = reserve_sdr(bmc)
    first = ok(bmc, 0x0A, 0x25, struct.pack("<HHBB", reservation, 0, 0, 0) + OEM_RECORD[:5])
    new_id = int.from_bytes(first, "little")
    assert new_id == max(record_ids(bmc)) + 1
    assert call(bmc, 0x0A, 0x25, struct.pack("<HHBB", reservation, new_id, 3, 1)
                + OEM_RECORD[5:])[0] == 0xC9  # offset 3: 5 bytes so far
    last = ok(bmc, 0x0A, 0x25, struct.pack("<HHBB", reservation, new_id, 5, 1) + OEM_RECORD[5:])
    assert last == first
    assert get_sdr(bmc, reserve_sdr(bmc), new_id, 5, 4) == (0, b"\xff\xff" + OEM_RECORD[5:])


def test_partial_add_with_a_cancelled_reservation_or_bad_length(bmc: Bmc):
    reservation = reserve_sdr(bmc)
    reserve_sdr(bmc)  # cancels the first
    assert call(bmc, 0x0A, 0x25, struct.pack("<HHBB", reservation, 0, 0, 1)
                + OEM_RECORD)[0] == 0xC5
    reservation = reserve_sdr(bmc)
    assert call(bmc, 0x0A, 0x25, struct.pack("<HHBB", reservation, 0, 0, 1)
                + OEM_RECORD[:-1])[0] == 0x80  # length mismatch
    assert call(bmc, 0x0A, 0x25, struct.pack("<HHBB", reservation, 0, 0, 2)
                + OEM_RECORD)[0] == 0xCC  # progress byte


def test_delete_sdr_leaves_a_gap_and_stamps_the_erase(bmc: Bmc):
    ids = record_ids(bmc)
    assert call(bmc, 0x0A, 0x26, struct.pack("<HH", 0x1234, ids[1]))[0] == 0xC5
    reservation = reserve_sdr(bmc)
    assert ok(bmc, 0x0A, 0x26, struct.pack("<HH", reservation, ids[1])) == struct.pack("<H", ids[1])
    assert record_ids(bmc) == ids[:1] + ids[2:]
    assert int.from_bytes(ok(bmc, 0x0A, 0x20)[9:13], "little") == int(WALL)
    reservation = reserve_sdr(bmc)
    assert call(bmc, 0x0A, 0x26, struct.pack("<HH", reservation, ids[1]))[0] == 0xCB
    new_id = int.from_bytes(ok(bmc, 0x0A, 0x24, OEM_RECORD), "little")
    assert new_id == ids[-1] + 1  # IDs are not reused while higher ones exist


def test_clear_sdr_repository_protocol(bmc: Bmc):
    reservation = reserve_sdr(bmc)
    assert call(bmc, 0x0A, 0x27, struct.pack("<H", reservation) + b"CLX\xaa")[0] == 0xCC
    assert ok(bmc, 0x0A, 0x27, struct.pack("<H", reservation) + b"CLR\xaa") == b"\x01"
    assert ok(bmc, 0x0A, 0x27, struct.pack("<H", reservation) + b"CLR\x00") == b"\x01"
    assert int.from_bytes(ok(bmc, 0x0A, 0x20)[1:3], "little") == 0
    assert get_sdr(bmc, 0, 0, 0, 0xFF)[0] == 0xCB
    assert call(bmc, 0x0A, 0x27, struct.pack("<H", reservation) + b"CLR\xaa")[0] == 0xC5
    assert int.from_bytes(ok(bmc, 0x0A, 0x24, OEM_RECORD), "little") == 1


def test_time_update_mode_and_init_agent(bmc: Bmc):
    ok(bmc, 0x0A, 0x29, struct.pack("<I", int(WALL) + 3600))
    assert ok(bmc, 0x0A, 0x28) == struct.pack("<I", int(WALL) + 3600)
    assert ok(bmc, 0x0A, 0x48) == struct.pack("<I", int(WALL) + 3600)  # one clock
    assert ok(bmc, 0x0A, 0x2A) == b"" and bmc.platform.sdr.update_mode
    assert ok(bmc, 0x0A, 0x2B) == b"" and not bmc.platform.sdr.update_mode
    assert ok(bmc, 0x0A, 0x2C, b"\x01") == b"\x01"
    assert ok(bmc, 0x0A, 0x2C, b"\x00") == b"\x01"
    assert call(bmc, 0x0A, 0x2C, b"\x05")[0] == 0xCC


def test_written_repository_persists_and_keeps_its_records(tmp_path: Path, make_bmc: MakeBmc):
    bmc = make_bmc(tmp_path)
    generated = record_ids(bmc)
    new_id = int.from_bytes(ok(bmc, 0x0A, 0x24, OEM_RECORD), "little")
    assert (tmp_path / "sdr.json").exists()
    again = make_bmc(tmp_path)
    assert record_ids(again) == [*generated, new_id]
    assert get_sdr(again, reserve_sdr(again), new_id, 5, 4)[1][2:] == OEM_RECORD[5:]


def test_generated_repository_leaves_no_file(tmp_path: Path, make_bmc: MakeBmc):
    bmc = make_bmc(tmp_path)
    record_ids(bmc)
    assert not (tmp_path / "sdr.json").exists()


def test_unreadable_sdr_file_falls_back_to_generated(tmp_path: Path, make_bmc: MakeBmc):
    generated = record_ids(make_bmc(tmp_path))
    (tmp_path / "sdr.json").write_text('{"records": ["zz"]}')
    assert record_ids(make_bmc(tmp_path)) == generated
