"""Transport NetFn (0x0C): LAN and SOL configuration parameters, ARP suspension, statistics.

The parameter model (defaults, validation, storage, the set-in-progress lock) is in
pybmc/lan.py; these handlers only decode requests, pick the channel and encode replies.
"""

from __future__ import annotations

import logging

from pybmc.commands.dispatch import CommandTable, Context
from pybmc.model import lan
from pybmc.wire.codes import LAN_CHANNEL, SYSTEM_INTERFACE_CHANNEL, Cc, NetFn, Privilege
from pybmc.wire.errors import CommandError

log = logging.getLogger("pybmc.transport")

table = CommandTable()

GET_REVISION_ONLY = 0x80


def lan_channel(ctx: Context, channel_byte: int) -> int:
    """The LAN channel a request names; anything else has no LAN or SOL parameters (0xCC).

    0x0E is "this channel". In-band (system interface) it still means the LAN channel:
    xCAT's genesis runs `ipmitool sol info` and `lan print` that way."""
    channel = ctx.resolve_channel(channel_byte & 0x0F)
    if channel == SYSTEM_INTERFACE_CHANNEL and channel_byte & 0x0F == 0x0E:
        channel = LAN_CHANNEL
    if channel != LAN_CHANNEL:
        raise CommandError(Cc.INVALID_DATA_FIELD, reason=f"channel {channel} is not a LAN channel")
    return channel


def _get_parameter(ctx: Context, family: lan.ParameterFamily, data: bytes) -> bytes:
    channel_byte, number, selector, _block = data
    lan_channel(ctx, channel_byte)
    revision = bytes([lan.PARAMETER_REVISION])
    if channel_byte & GET_REVISION_ONLY:
        return revision
    try:
        if number == 0:
            return revision + bytes([lan.set_lock(ctx.bmc, family, ctx.now).state])
        return revision + family.get(ctx.bmc, number, selector)
    except lan.ParameterError as err:
        raise CommandError(err.cc, reason=str(err)) from None


def _set_parameter(ctx: Context, family: lan.ParameterFamily, data: bytes) -> bytes:
    lan_channel(ctx, data[0])
    number, value = data[1], data[2:]
    try:
        if number == 0:
            lan.write_set_in_progress(ctx.bmc, family, value, ctx.now)
            return b""
        family.set(ctx.bmc, number, value)
    except lan.ParameterError as err:
        log.info("%s: Set %s parameter %d (%s) refused: %s", ctx.bmc.name, family.name, number,
                 value.hex(), err)
        raise CommandError(err.cc, reason=str(err)) from None
    ctx.bmc.save()
    log.info("%s: %s parameter %d set to %s", ctx.bmc.name, family.name, number, value.hex())
    lan.note_parameter_set(ctx.bmc, family, number, ctx.now)
    return b""


# --------------------------------------------------------------------------- LAN
@table.command(NetFn.TRANSPORT, 0x01, Privilege.ADMINISTRATOR, length=(2, 255))
def set_lan_configuration_parameters(ctx: Context, data: bytes) -> bytes:
    return _set_parameter(ctx, lan.LAN_PARAMETERS, data)


@table.command(NetFn.TRANSPORT, 0x02, Privilege.OPERATOR, length=4)
def get_lan_configuration_parameters(ctx: Context, data: bytes) -> bytes:
    return _get_parameter(ctx, lan.LAN_PARAMETERS, data)


@table.command(NetFn.TRANSPORT, 0x03, Privilege.ADMINISTRATOR, length=2)
def suspend_bmc_arps(ctx: Context, data: bytes) -> bytes:
    """Suspend (bit set) or resume gratuitous ARPs (bit 0) and ARP responses (bit 1); the
    reply says which of them are occurring now, given parameter 10 as well."""
    lan_channel(ctx, data[0])
    if data[1] & 0xFC:
        raise CommandError(Cc.INVALID_DATA_FIELD, reason="reserved bits set")
    state = lan.runtime(ctx.bmc)
    state.arp_suspended = data[1] & 0x03
    enabled = lan.LAN_PARAMETERS.get(ctx.bmc, 10)[0] & 0x03
    return bytes([enabled & ~state.arp_suspended & 0x03])


@table.command(NetFn.TRANSPORT, 0x04, Privilege.USER, length=2)
def get_ip_udp_rmcp_statistics(ctx: Context, data: bytes) -> bytes:
    """Nine 16-bit counters, least significant byte first; bit 0 of byte 2 clears them after."""
    lan_channel(ctx, data[0])
    statistics = lan.lan_statistics(ctx.bmc)
    reply = statistics.encode()
    if data[1] & 0x01:
        statistics.clear()
    return reply


# --------------------------------------------------------------------------- SOL
@table.command(NetFn.TRANSPORT, 0x21, Privilege.ADMINISTRATOR, length=(2, 255))
def set_sol_configuration_parameters(ctx: Context, data: bytes) -> bytes:
    return _set_parameter(ctx, lan.SOL_PARAMETERS, data)


@table.command(NetFn.TRANSPORT, 0x22, Privilege.USER, length=4)
def get_sol_configuration_parameters(ctx: Context, data: bytes) -> bytes:
    return _get_parameter(ctx, lan.SOL_PARAMETERS, data)
