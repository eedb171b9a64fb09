"""Firmware firewall commands (App NetFn 0x06, IPMI 2.0 section 21.10-21.13): what is served.

The BMC reports every command its dispatcher answers, on LUN 0 (the only LUN pybmc serves),
as available and enabled; none is configurable, so Set Command Enables accepts only the
enables as they are. `ipmitool firewall info` walks these.
"""

from __future__ import annotations

from pybmc.commands.dispatch import CommandTable, Context
from pybmc.wire.codes import Cc, NetFn, Privilege
from pybmc.wire.errors import CommandError

table = CommandTable()

LUN_PAIRS = 32  # NetFn pairs per LUN in the NetFn support bitmap
BASE_COMMANDS_ONLY = 0x01  # Get NetFn Support byte 2: LUN 0 has base IPMI commands
UPPER_HALF = 0x40  # operation bits 7:6 = 01b: commands 80h-FFh
MASK_BYTES = 16
# Group extension / OEM NetFns carry a defining-body or IANA code after the LUN byte.
EXTRA_BYTES = {int(NetFn.GROUP_EXTENSION): 1, int(NetFn.OEM_GROUP): 3}


def _channel(ctx: Context, byte: int) -> int:
    if byte & 0xF0:
        raise CommandError(Cc.INVALID_DATA_FIELD, reason="reserved channel bits set")
    return ctx.resolve_channel(byte)


def _command_request(ctx: Context, data: bytes) -> tuple[int, int]:
    """(netfn, first command of the half) of a Get/Set Command ... request; checks LUN."""
    _channel(ctx, data[0])
    operation, netfn = data[1] >> 6, data[1] & 0x3F
    if operation > 1:
        raise CommandError(Cc.INVALID_DATA_FIELD, reason=f"operation {operation} is reserved")
    if netfn & 1:
        raise CommandError(Cc.INVALID_DATA_FIELD, reason=f"NetFn {netfn:#04x} is a response")
    if data[2] & 0x03 != 0:
        raise CommandError(Cc.INVALID_DATA_FIELD, reason=f"no commands on LUN {data[2] & 3}")
    return netfn, 0x80 * operation


def _mask(ctx: Context, netfn: int, first: int, served: bool) -> bytes:
    """One bit per command of the half: set where `served` matches the command being served."""
    mask = bytearray(MASK_BYTES)
    for offset in range(0x80):
        if ((netfn, first + offset) in ctx.commands) == served:
            mask[offset // 8] |= 1 << (offset % 8)
    return bytes(mask)


def _length(data: bytes, fixed: int) -> None:
    extra = EXTRA_BYTES.get(data[1] & 0x3F, 0) if len(data) >= 2 else 0
    if len(data) not in (fixed, fixed + extra):
        raise CommandError(Cc.REQUEST_DATA_LENGTH_INVALID,
                           reason=f"{len(data)} bytes for a {fixed}-byte request")


@table.command(NetFn.APP, 0x09, Privilege.USER, length=1)
def get_netfn_support(ctx: Context, data: bytes) -> bytes:
    _channel(ctx, data[0])
    bitmap = bytearray(MASK_BYTES)
    for netfn in {netfn for netfn, _cmd in ctx.commands}:
        pair = netfn // 2  # LUN 0's pairs are bits 0..31
        bitmap[pair // 8] |= 1 << (pair % 8)
    return bytes([BASE_COMMANDS_ONLY]) + bytes(bitmap)


@table.command(NetFn.APP, 0x0A, Privilege.USER, length=(3, 6))
def get_command_support(ctx: Context, data: bytes) -> bytes:
    _length(data, 3)
    netfn, first = _command_request(ctx, data)
    return _mask(ctx, netfn, first, served=False)  # 0b: supported


@table.command(NetFn.APP, 0x0C, Privilege.USER, length=(3, 6))
def get_configurable_commands(ctx: Context, data: bytes) -> bytes:
    _length(data, 3)
    _command_request(ctx, data)
    return bytes(MASK_BYTES)  # 1b: configurable; none is


@table.command(NetFn.APP, 0x61, Privilege.USER, length=(3, 6))
def get_command_enables(ctx: Context, data: bytes) -> bytes:
    _length(data, 3)
    netfn, first = _command_request(ctx, data)
    return _mask(ctx, netfn, first, served=True)  # 1b: enabled


@table.command(NetFn.APP, 0x60, Privilege.ADMINISTRATOR, length=(19, 22))
def set_command_enables(ctx: Context, data: bytes) -> bytes:
    _length(data[:3] + data[19:], 3)
    netfn, first = _command_request(ctx, data)
    if data[3:19] != _mask(ctx, netfn, first, served=True):
        raise CommandError(Cc.INVALID_DATA_FIELD,
                           reason="no command is configurable; enables stay as they are")
    return b""


def _subfunction_request(ctx: Context, data: bytes) -> tuple[int, int]:
    _length(data, 4)
    _channel(ctx, data[0])
    netfn = data[1] & 0x3F
    if data[1] & 0xC0 or data[2] & 0x03:
        raise CommandError(Cc.INVALID_DATA_FIELD, reason="reserved bits or a LUN other than 0")
    if (netfn, data[3]) not in ctx.commands:
        raise CommandError(Cc.INVALID_DATA_FIELD,
                           reason=f"command {netfn:#04x}/{data[3]:#04x} is not served")
    return netfn, data[3]


ONLY_SUBFUNCTION_0 = (0xFFFFFFFE).to_bytes(4, "little")  # support mask: 0b = supported


@table.command(NetFn.APP, 0x0B, Privilege.USER, length=(4, 7))
def get_command_subfunction_support(ctx: Context, data: bytes) -> bytes:
    _subfunction_request(ctx, data)
    return ONLY_SUBFUNCTION_0


@table.command(NetFn.APP, 0x0D, Privilege.USER, length=(4, 7))
def get_configurable_command_subfunctions(ctx: Context, data: bytes) -> bytes:
    _subfunction_request(ctx, data)
    return bytes(4)


@table.command(NetFn.APP, 0x63, Privilege.USER, length=(4, 7))
def get_command_subfunction_enables(ctx: Context, data: bytes) -> bytes:
    _subfunction_request(ctx, data)
    return (1).to_bytes(4, "little")
