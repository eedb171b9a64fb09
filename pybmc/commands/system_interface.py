"""The BMC's side of the host's system interface (KCS or BT): message flags, the receive message
queue, the event message buffer, Send Message and the interface's capabilities (IPMI 2.0
sections 22.1-22.10).

The state these handlers read and change is `pybmc.model.system_interface.SystemInterface`
(`ctx.system_interface`); Get/Set BMC Global Enables live in app.py.
"""

from __future__ import annotations

import logging

from pybmc.commands.dispatch import CommandTable, Context
from pybmc.wire.codes import (
    BMC_SLAVE_ADDRESS,
    LAN_CHANNEL,
    SYSTEM_INTERFACE_CHANNEL,
    Cc,
    NetFn,
    Privilege,
)
from pybmc.wire.errors import CommandError
from pybmc.wire.message import MessageError, decode_request, encode_response

log = logging.getLogger("pybmc.sysif")

table = CommandTable()

DATA_NOT_AVAILABLE = 0x80  # Get Message / Read Event Message Buffer: queue or buffer empty
NAK_ON_WRITE = 0x83  # Send Message: nobody acknowledged the IPMB write
IPMB_CHANNEL = 0

def _require_system_interface(ctx: Context) -> None:
    """These commands belong to the host's interface; a LAN session may not drain its queue."""
    if ctx.channel != SYSTEM_INTERFACE_CHANNEL:
        raise CommandError(Cc.INSUFFICIENT_PRIVILEGE, reason="system interface only")


# ------------------------------------------------------------------------------- commands
@table.command(NetFn.APP, 0x30, Privilege.ADMINISTRATOR, length=1)
def clear_message_flags(ctx: Context, data: bytes) -> bytes:
    _require_system_interface(ctx)
    ctx.system_interface.clear(data[0])
    return b""


@table.command(NetFn.APP, 0x31, Privilege.ADMINISTRATOR, length=0)
def get_message_flags(ctx: Context, data: bytes) -> bytes:
    _require_system_interface(ctx)
    return bytes([ctx.system_interface.flags])


@table.command(NetFn.APP, 0x33, Privilege.ADMINISTRATOR, length=0)
def get_message(ctx: Context, data: bytes) -> bytes:
    _require_system_interface(ctx)
    message = ctx.system_interface.take_message()
    if message is None:
        raise CommandError(DATA_NOT_AVAILABLE, reason="receive message queue empty")
    return message


@table.command(NetFn.APP, 0x35, Privilege.ADMINISTRATOR, length=0)
def read_event_message_buffer(ctx: Context, data: bytes) -> bytes:
    _require_system_interface(ctx)
    event = ctx.system_interface.take_event()
    if event is None:
        raise CommandError(DATA_NOT_AVAILABLE, reason="event message buffer empty")
    return event


@table.command(NetFn.APP, 0x34, Privilege.USER, length=(2, 255))
def send_message(ctx: Context, data: bytes) -> bytes:
    """Bridge a message to another channel. There is one BMC and no other IPMB device here."""
    channel = data[0] & 0x0F
    if channel == IPMB_CHANNEL:
        return _send_ipmb(ctx, data[1:])
    if channel == LAN_CHANNEL:
        # Would go to a LAN session as an unsolicited message; there is none to address.
        raise CommandError(Cc.DESTINATION_UNAVAILABLE, reason="no LAN destination")
    raise CommandError(Cc.INVALID_DATA_FIELD, reason=f"Send Message to channel {channel}")


def _send_ipmb(ctx: Context, message: bytes) -> bytes:
    try:
        request = decode_request(message)
    except MessageError as err:
        raise CommandError(Cc.INVALID_DATA_FIELD, reason=f"bad IPMB message: {err}") from err
    if request.rs_addr != BMC_SLAVE_ADDRESS or ctx.channel != SYSTEM_INTERFACE_CHANNEL:
        # No other controller on the bus: the write is never acknowledged.
        raise CommandError(NAK_ON_WRITE, reason=f"no IPMB device at {request.rs_addr:#04x}")
    # Addressed to the BMC itself: answer it, and queue the response for Get Message, as the
    # IPMB response would arrive (its first byte, the requester's address, is not returned).
    result = ctx.execute(IPMB_CHANNEL, Privilege.ADMINISTRATOR, request.netfn, request.cmd,
                         request.data)
    response = encode_response(request, result)
    ctx.system_interface.queue_message(IPMB_CHANNEL, response[1:])
    return b""


# ------------------------------------------------------------------------- interface capabilities
# The guest's interface is QEMU's isa-ipmi-kcs or isa-ipmi-bt ([qemu] in_band_interface), whose
# buffers hold more than one byte can say: both report the one-byte maximum.
SSIF, KCS, SMIC = 0x00, 0x01, 0x02
KCS_VERSION_1_0 = 0x00
MAX_MESSAGE_SIZE = 0xFF
BT_OUTSTANDING_REQUESTS = 1  # QEMU's BT interface holds one request at a time
BT_RESPONSE_TIME = 5  # seconds the host should allow for an answer
BT_RETRIES = 2


@table.command(NetFn.APP, 0x57, Privilege.USER, length=1)
def get_system_interface_capabilities(ctx: Context, data: bytes) -> bytes:
    """KCS when the guest's interface is KCS; SSIF and SMIC are never there (0xCC)."""
    kind = data[0] & 0x0F
    if data[0] & 0xF0:
        raise CommandError(Cc.INVALID_DATA_FIELD, reason="reserved bits set")
    if kind != KCS or ctx.config.qemu.in_band_interface != "kcs":
        raise CommandError(Cc.INVALID_DATA_FIELD,
                           reason=f"system interface type {kind} is not present")
    return bytes([0x00, KCS_VERSION_1_0, MAX_MESSAGE_SIZE])


@table.command(NetFn.APP, 0x36, Privilege.USER, length=0)
def get_bt_interface_capabilities(ctx: Context, data: bytes) -> bytes:
    """Only a BMC whose guest talks BT has a BT interface to describe."""
    if ctx.config.qemu.in_band_interface != "bt":
        raise CommandError(Cc.INVALID_COMMAND, reason="the system interface is not BT")
    return bytes([BT_OUTSTANDING_REQUESTS, MAX_MESSAGE_SIZE, MAX_MESSAGE_SIZE,
                  BT_RESPONSE_TIME, BT_RETRIES])
