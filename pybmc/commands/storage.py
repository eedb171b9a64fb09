"""Storage commands (NetFn 0x0A, IPMI 2.0 chapters 31-34): FRU, SDR repository and SEL.

The data lives in `ctx.platform` (pybmc/platform); these handlers only parse requests.
Reads need USER; writes, deletes and clears OPERATOR (IPMI 2.0 appendix G).
"""

from __future__ import annotations

import struct

from pybmc.commands.dispatch import CommandTable, Context
from pybmc.wire.codes import Cc, NetFn, Privilege
from pybmc.wire.errors import CommandError

table = CommandTable()

STORAGE = NetFn.STORAGE
CC_SEL_ERASE_IN_PROGRESS = 0x81  # never happens: the erase is instant
CC_RECORD_TYPE_NOT_SUPPORTED = 0x80


# ------------------------------------------------------------------------------- FRU
@table.command(STORAGE, 0x10, Privilege.USER, length=1)
def get_fru_inventory_area_info(ctx: Context, data: bytes) -> bytes:
    return ctx.platform.fru.device(data[0]).area_info()


@table.command(STORAGE, 0x11, Privilege.USER, length=4)
def read_fru_data(ctx: Context, data: bytes) -> bytes:
    fru_id, offset, count = data[0], int.from_bytes(data[1:3], "little"), data[3]
    return ctx.platform.fru.device(fru_id).read(offset, count)


@table.command(STORAGE, 0x12, Privilege.OPERATOR, length=(3, 255))
def write_fru_data(ctx: Context, data: bytes) -> bytes:
    fru_id, offset = data[0], int.from_bytes(data[1:3], "little")
    written = ctx.platform.fru.write(fru_id, offset, data[3:])
    return bytes([written])


# ------------------------------------------------------------------------------- SDR
@table.command(STORAGE, 0x20, Privilege.USER, length=0)
def get_sdr_repository_info(ctx: Context, data: bytes) -> bytes:
    return ctx.platform.sdr.info()


@table.command(STORAGE, 0x21, Privilege.USER, length=0)
def get_sdr_repository_allocation_info(ctx: Context, data: bytes) -> bytes:
    return ctx.platform.sdr.allocation_info()


@table.command(STORAGE, 0x22, Privilege.USER, length=0)
def reserve_sdr_repository(ctx: Context, data: bytes) -> bytes:
    return struct.pack("<H", ctx.platform.sdr.reservation.reserve())


@table.command(STORAGE, 0x23, Privilege.USER, length=6)
def get_sdr(ctx: Context, data: bytes) -> bytes:
    reservation_id, record_id, offset, count = struct.unpack("<HHBB", data)
    return ctx.platform.sdr.read(reservation_id, record_id, offset, count)


@table.command(STORAGE, 0x24, Privilege.OPERATOR, length=(5, 260))
def add_sdr(ctx: Context, data: bytes) -> bytes:
    return struct.pack("<H", ctx.platform.sdr.add(data))


@table.command(STORAGE, 0x25, Privilege.OPERATOR, length=(6, 255))
def partial_add_sdr(ctx: Context, data: bytes) -> bytes:
    reservation_id, record_id, offset, progress = struct.unpack("<HHBB", data[:6])
    if progress & 0xF0 or progress & 0x0F > 1:
        raise CommandError(Cc.INVALID_DATA_FIELD, reason=f"progress byte {progress:#04x}")
    record_id = ctx.platform.sdr.partial_add(reservation_id, record_id, offset,
                                             progress == 1, data[6:])
    return struct.pack("<H", record_id)


@table.command(STORAGE, 0x26, Privilege.OPERATOR, length=4)
def delete_sdr(ctx: Context, data: bytes) -> bytes:
    reservation_id, record_id = struct.unpack("<HH", data)
    return struct.pack("<H", ctx.platform.sdr.delete(reservation_id, record_id))


@table.command(STORAGE, 0x27, Privilege.OPERATOR, length=6)
def clear_sdr_repository(ctx: Context, data: bytes) -> bytes:
    reservation_id = int.from_bytes(data[0:2], "little")
    return bytes([ctx.platform.sdr.clear(reservation_id, data[2:5], data[5])])


@table.command(STORAGE, 0x28, Privilege.USER, length=0)
def get_sdr_repository_time(ctx: Context, data: bytes) -> bytes:
    return struct.pack("<I", ctx.platform.sel.now())


@table.command(STORAGE, 0x29, Privilege.OPERATOR, length=4)
def set_sdr_repository_time(ctx: Context, data: bytes) -> bytes:
    # One clock for the SDR and the SEL, as on most BMCs: setting either sets both.
    ctx.platform.sel.set_time(struct.unpack("<I", data)[0])
    return b""


@table.command(STORAGE, 0x2A, Privilege.OPERATOR, length=0)
def enter_sdr_repository_update_mode(ctx: Context, data: bytes) -> bytes:
    ctx.platform.sdr.update_mode = True
    return b""


@table.command(STORAGE, 0x2B, Privilege.OPERATOR, length=0)
def exit_sdr_repository_update_mode(ctx: Context, data: bytes) -> bytes:
    ctx.platform.sdr.update_mode = False
    return b""


@table.command(STORAGE, 0x2C, Privilege.OPERATOR, length=1)
def run_initialization_agent(ctx: Context, data: bytes) -> bytes:
    return bytes([ctx.platform.sdr.run_initialization_agent(data[0])])


# ------------------------------------------------------------------------------- SEL
@table.command(STORAGE, 0x40, Privilege.USER, length=0)
def get_sel_info(ctx: Context, data: bytes) -> bytes:
    return ctx.platform.sel.info()


@table.command(STORAGE, 0x41, Privilege.USER, length=0)
def get_sel_allocation_info(ctx: Context, data: bytes) -> bytes:
    return ctx.platform.sel.allocation_info()


@table.command(STORAGE, 0x42, Privilege.USER, length=0)
def reserve_sel(ctx: Context, data: bytes) -> bytes:
    return struct.pack("<H", ctx.platform.sel.reservation.reserve())


@table.command(STORAGE, 0x43, Privilege.USER, length=6)
def get_sel_entry(ctx: Context, data: bytes) -> bytes:
    reservation_id, record_id, offset, count = struct.unpack("<HHBB", data)
    return ctx.platform.sel.get(reservation_id, record_id, offset, count)


@table.command(STORAGE, 0x44, Privilege.OPERATOR, length=16)
def add_sel_entry(ctx: Context, data: bytes) -> bytes:
    record_id = ctx.platform.sel.add(data)
    if record_id is None:
        raise CommandError(Cc.OUT_OF_SPACE, reason="the SEL is full")
    return struct.pack("<H", record_id)


@table.command(STORAGE, 0x45, Privilege.OPERATOR, length=(6, 22))
def partial_add_sel_entry(ctx: Context, data: bytes) -> bytes:
    reservation_id, record_id, offset, progress = struct.unpack("<HHBB", data[:6])
    if progress & 0xF0 or progress & 0x0F > 1:
        raise CommandError(Cc.INVALID_DATA_FIELD, reason=f"progress byte {progress:#04x}")
    record_id = ctx.platform.sel.partial_add(reservation_id, record_id, offset,
                                             progress == 1, data[6:])
    return struct.pack("<H", record_id)


@table.command(STORAGE, 0x46, Privilege.OPERATOR, length=4)
def delete_sel_entry(ctx: Context, data: bytes) -> bytes:
    reservation_id, record_id = struct.unpack("<HH", data)
    return struct.pack("<H", ctx.platform.sel.delete(reservation_id, record_id))


@table.command(STORAGE, 0x47, Privilege.OPERATOR, length=6)
def clear_sel(ctx: Context, data: bytes) -> bytes:
    reservation_id = int.from_bytes(data[0:2], "little")
    progress = ctx.platform.clear_sel(reservation_id, data[2:5], data[5])
    return bytes([progress])


@table.command(STORAGE, 0x48, Privilege.USER, length=0)
def get_sel_time(ctx: Context, data: bytes) -> bytes:
    return struct.pack("<I", ctx.platform.sel.now())


@table.command(STORAGE, 0x49, Privilege.OPERATOR, length=4)
def set_sel_time(ctx: Context, data: bytes) -> bytes:
    ctx.platform.sel.set_time(struct.unpack("<I", data)[0])
    return b""


@table.command(STORAGE, 0x5C, Privilege.USER, length=0)
def get_sel_time_utc_offset(ctx: Context, data: bytes) -> bytes:
    return struct.pack("<h", ctx.platform.sel.utc_offset)


@table.command(STORAGE, 0x5D, Privilege.OPERATOR, length=2)
def set_sel_time_utc_offset(ctx: Context, data: bytes) -> bytes:
    minutes = struct.unpack("<h", data)[0]
    if not (-1440 <= minutes <= 1440 or minutes == 0x07FF):
        raise CommandError(Cc.PARAMETER_OUT_OF_RANGE, reason=f"UTC offset {minutes} min")
    ctx.platform.sel.set_utc_offset(minutes)
    return b""
