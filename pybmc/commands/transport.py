"""Transport NetFn (0x0C): LAN, Serial/Modem and SOL configuration parameters, ARP
suspension, statistics.

The parameter model (defaults, validation, storage, the set-in-progress lock) is in
pybmc/model/lan.py; these handlers only decode requests, pick the channel and encode replies.
"""

from __future__ import annotations

import logging

from pybmc.commands.dispatch import CommandTable, Context
from pybmc.model import lan_params as params
from pybmc.model.lan import CIPHER_PRIVILEGES_PARAMETER
from pybmc.model.serial_params import SERIAL_PARAMETERS
from pybmc.wire.codes import (
    LAN_CHANNEL,
    SERIAL_CHANNEL,
    SYSTEM_INTERFACE_CHANNEL,
    Cc,
    NetFn,
    Privilege,
)
from pybmc.wire.errors import CommandError
from pybmc.wire.redact import redact_request

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


def serial_channel(ctx: Context, channel_byte: int) -> int:
    """The serial/modem channel a request names; any other has no Serial/Modem parameters."""
    channel = ctx.resolve_channel(channel_byte & 0x0F)
    if channel != SERIAL_CHANNEL:
        raise CommandError(Cc.INVALID_DATA_FIELD,
                           reason=f"channel {channel} is not a serial/modem channel")
    return channel


def _family_channel(ctx: Context, family: params.ParameterFamily, channel_byte: int) -> int:
    if family is SERIAL_PARAMETERS:
        return serial_channel(ctx, channel_byte)
    return lan_channel(ctx, channel_byte)


def _get_parameter(ctx: Context, family: params.ParameterFamily, data: bytes) -> bytes:
    channel_byte, number, selector, block = data
    _family_channel(ctx, family, channel_byte)
    revision = bytes([params.PARAMETER_REVISION])
    if channel_byte & GET_REVISION_ONLY:
        return revision
    try:
        if number == 0:
            return revision + bytes([ctx.lan.set_lock(family, ctx.now).state])
        return revision + ctx.lan.get(family, number, selector, block)
    except params.ParameterError as err:
        raise CommandError(err.cc, reason=str(err)) from None


def _set_parameter(ctx: Context, family: params.ParameterFamily, data: bytes,
                   cmd: int) -> bytes:
    _family_channel(ctx, family, data[0])
    number, value = data[1], data[2:]
    shown = redact_request(NetFn.TRANSPORT, cmd, data, start=2)  # the community string is secret
    try:
        if number == 0:
            ctx.lan.write_set_in_progress(family, value, ctx.now)
            return b""
        ctx.lan.set(family, number, value)
    except params.ParameterError as err:
        log.info("%s: Set %s parameter %d (%s) refused: %s", ctx.name, family.name, number,
                 shown, err)
        raise CommandError(err.cc, reason=str(err)) from None
    ctx.changes.mark()
    log.info("%s: %s parameter %d set to %s", ctx.name, family.name, number, shown)
    ctx.lan.note_parameter_set(family, number, ctx.now)
    if family is params.LAN_PARAMETERS and number == int(CIPHER_PRIVILEGES_PARAMETER):
        idle = ctx.lan.idle_cipher_privilege_nibbles()
        if idle:
            log.warning("%s: cipher suites %s have a privilege level but stay refused: "
                        "[security] cipher_suites enables only %s", ctx.name, idle,
                        list(ctx.lan.cipher_suites()))
    return b""


# --------------------------------------------------------------------------- LAN
@table.command(NetFn.TRANSPORT, 0x01, Privilege.ADMINISTRATOR, length=(2, 255))
def set_lan_configuration_parameters(ctx: Context, data: bytes) -> bytes:
    return _set_parameter(ctx, params.LAN_PARAMETERS, data, 0x01)


@table.command(NetFn.TRANSPORT, 0x02, Privilege.OPERATOR, length=4)
def get_lan_configuration_parameters(ctx: Context, data: bytes) -> bytes:
    return _get_parameter(ctx, params.LAN_PARAMETERS, data)


@table.command(NetFn.TRANSPORT, 0x03, Privilege.ADMINISTRATOR, length=2)
def suspend_bmc_arps(ctx: Context, data: bytes) -> bytes:
    """Suspend (bit set) or resume gratuitous ARPs (bit 0) and ARP responses (bit 1); the
    reply says which of them are occurring now, given parameter 10 as well."""
    lan_channel(ctx, data[0])
    if data[1] & 0xFC:
        raise CommandError(Cc.INVALID_DATA_FIELD, reason="reserved bits set")
    ctx.lan.arp_suspended = data[1] & 0x03
    enabled = ctx.lan.get(params.LAN_PARAMETERS, 10)[0] & 0x03
    return bytes([enabled & ~ctx.lan.arp_suspended & 0x03])


@table.command(NetFn.TRANSPORT, 0x04, Privilege.USER, length=2)
def get_ip_udp_rmcp_statistics(ctx: Context, data: bytes) -> bytes:
    """Nine 16-bit counters, least significant byte first; bit 0 of byte 2 clears them after."""
    lan_channel(ctx, data[0])
    statistics = ctx.lan.statistics
    reply = statistics.encode()
    if data[1] & 0x01:
        statistics.clear()
    return reply


# --------------------------------------------------------------------------- serial/modem
@table.command(NetFn.TRANSPORT, 0x10, Privilege.ADMINISTRATOR, length=(2, 255))
def set_serial_modem_configuration(ctx: Context, data: bytes) -> bytes:
    return _set_parameter(ctx, SERIAL_PARAMETERS, data, 0x10)


@table.command(NetFn.TRANSPORT, 0x11, Privilege.OPERATOR, length=4)
def get_serial_modem_configuration(ctx: Context, data: bytes) -> bytes:
    return _get_parameter(ctx, SERIAL_PARAMETERS, data)


# --------------------------------------------------------------------------- SOL
@table.command(NetFn.TRANSPORT, 0x21, Privilege.ADMINISTRATOR, length=(2, 255))
def set_sol_configuration_parameters(ctx: Context, data: bytes) -> bytes:
    return _set_parameter(ctx, params.SOL_PARAMETERS, data, 0x21)


@table.command(NetFn.TRANSPORT, 0x22, Privilege.USER, length=4)
def get_sol_configuration_parameters(ctx: Context, data: bytes) -> bytes:
    return _get_parameter(ctx, params.SOL_PARAMETERS, data)
