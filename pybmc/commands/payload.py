"""Payload commands (IPMI 2.0 section 24): activating SOL and who may use which payload."""

from __future__ import annotations

import logging
import struct

from pybmc.commands.dispatch import CommandTable, Context
from pybmc.wire.codes import LAN_CHANNEL, Cc, NetFn, PayloadType, Privilege
from pybmc.wire.errors import CommandError

log = logging.getLogger("pybmc.sol")

table = CommandTable()

SOL_INSTANCE = 1
SOL_INSTANCE_CAPACITY = 1
NO_VLAN = 0xFFFF
# Default user payload access: SOL (standard payload 1) for every user, as most BMCs ship.
DEFAULT_PAYLOAD_ACCESS = bytes([0x02, 0x00, 0x00, 0x00])

ERR_ALREADY_ACTIVE = 0x80
ERR_PAYLOAD_DISABLED = 0x81
ERR_LIMIT_REACHED = 0x82
ERR_NEEDS_NO_ENCRYPTION = 0x83
ERR_NEEDS_ENCRYPTION = 0x84
ERR_ALREADY_DEACTIVATED = 0x80


def _check_sol_request(data: bytes) -> None:
    if data[0] & 0x3F != PayloadType.SOL:
        raise CommandError(Cc.INVALID_DATA_FIELD, reason="only SOL payloads can be activated")
    if data[1] & 0x0F != SOL_INSTANCE:
        raise CommandError(Cc.INVALID_DATA_FIELD, reason="SOL has one instance")


def payload_access(ctx: Context, user_id: int) -> bytes:
    stored = ctx.state.extra.get("payload_access", {}).get(str(user_id))
    return bytes.fromhex(stored) if stored else DEFAULT_PAYLOAD_ACCESS


@table.command(NetFn.APP, 0x48, Privilege.USER, length=6)
def activate_payload(ctx: Context, data: bytes) -> bytes:
    _check_sol_request(data)
    session = ctx.session
    if session is None:
        raise CommandError(Cc.NOT_SUPPORTED_IN_PRESENT_STATE, reason="SOL needs a LAN session")
    settings = ctx.lan.sol_settings()
    if not settings.enabled:
        raise CommandError(ERR_PAYLOAD_DISABLED)
    if not payload_access(ctx, session.user_id)[0] & 0x02:
        raise CommandError(ERR_PAYLOAD_DISABLED, reason="user has no SOL payload access")
    if session.privilege < max(settings.privilege, Privilege.USER):
        raise CommandError(Cc.INSUFFICIENT_PRIVILEGE)
    encrypt = bool(data[2] & 0x80)
    session_encrypts = session.encrypted
    if encrypt and not session_encrypts:
        raise CommandError(ERR_NEEDS_NO_ENCRYPTION)
    if settings.force_encryption and not session_encrypts:
        raise CommandError(ERR_NEEDS_ENCRYPTION)
    sol = ctx.sol
    if sol.active is not None:
        raise CommandError(ERR_ALREADY_ACTIVE, reason="SOL is active on another session")
    sol.activate(session, encrypted=encrypt, authenticated=bool(data[2] & 0x40),
                 retry_count=settings.retry_count,
                 retry_interval=max(settings.retry_interval_ms, 10) / 1000, now=ctx.now)
    return struct.pack("<4sHHHH", b"\x00" * 4, 255, 255, ctx.config.port, NO_VLAN)


@table.command(NetFn.APP, 0x49, Privilege.USER, length=6)
def deactivate_payload(ctx: Context, data: bytes) -> bytes:
    _check_sol_request(data)
    active = ctx.sol.active
    if active is None:
        raise CommandError(ERR_ALREADY_DEACTIVATED)
    owner = active.session
    if owner is not ctx.session and getattr(owner, "active", True):
        # Another live session's SOL: ended only by a session of at least its privilege, so
        # that Ironic's and xCAT's "sol deactivate" from a second administrator session works
        # but a USER session cannot take over an administrator's console.
        if ctx.privilege < owner.privilege:
            log.warning("%s: Deactivate Payload refused: SOL belongs to session %#010x (%s), "
                        "the request came with %s privilege", ctx.name, owner.session_id,
                        owner.privilege.name, ctx.privilege.name)
            raise CommandError(Cc.INSUFFICIENT_PRIVILEGE,
                               reason="SOL is held by a session of higher privilege")
        reason = f"Deactivate Payload from another session ({ctx.privilege.name})"
    else:
        reason = "Deactivate Payload"
    ctx.sol.deactivate(reason)
    return b""


@table.command(NetFn.APP, 0x4A, Privilege.USER, length=1)
def get_payload_activation_status(ctx: Context, data: bytes) -> bytes:
    if data[0] & 0x3F != PayloadType.SOL:
        return bytes([0, 0, 0])
    active = 0x01 if ctx.sol.active is not None else 0x00
    return bytes([SOL_INSTANCE_CAPACITY, active, 0x00])


@table.command(NetFn.APP, 0x4B, Privilege.USER, length=2)
def get_payload_instance_info(ctx: Context, data: bytes) -> bytes:
    _check_sol_request(data)
    active = ctx.sol.active
    session_id = active.session.session_id if active is not None else 0
    # Payload-specific part for SOL: byte 1 is the system serial port number (0).
    return struct.pack("<I", session_id) + bytes(8)


def _user_id(data: bytes) -> int:
    user_id = data[1] & 0x3F
    if not 1 <= user_id <= 16:
        raise CommandError(Cc.INVALID_DATA_FIELD, reason="no such user id")
    return user_id


def _lan_channel(ctx: Context, channel: int) -> None:
    if ctx.resolve_channel(channel) != LAN_CHANNEL:
        raise CommandError(Cc.INVALID_DATA_FIELD, reason="payloads live on the LAN channel")


@table.command(NetFn.APP, 0x4C, Privilege.ADMINISTRATOR, length=6)
def set_user_payload_access(ctx: Context, data: bytes) -> bytes:
    _lan_channel(ctx, data[0])
    user_id = _user_id(data)
    operation = (data[1] >> 6) & 0x03
    if operation > 1:
        raise CommandError(Cc.INVALID_DATA_FIELD)
    current = bytearray(payload_access(ctx, user_id))
    # Byte 1 bit 0 is reserved for payload 0 (IPMI), which cannot be switched off.
    change = bytes([data[2] & 0xFE, data[3], data[4], data[5]])
    for index, bits in enumerate(change):
        current[index] = (current[index] | bits) if operation == 0 else (current[index] & ~bits)
    ctx.state.extra.setdefault("payload_access", {})[str(user_id)] = bytes(current).hex()
    ctx.changes.mark()
    return b""


@table.command(NetFn.APP, 0x4D, Privilege.OPERATOR, length=2)
def get_user_payload_access(ctx: Context, data: bytes) -> bytes:
    _lan_channel(ctx, data[0])
    return payload_access(ctx, _user_id(data))


@table.command(NetFn.APP, 0x4E, Privilege.USER, length=1)
def get_channel_payload_support(ctx: Context, data: bytes) -> bytes:
    _lan_channel(ctx, data[0])
    # Standard payloads: IPMI (0) and SOL (1); session setup payloads 0x10-0x15.
    return bytes([0x03, 0x00, 0x3F, 0x00, 0x00, 0x00, 0x00, 0x00])


@table.command(NetFn.APP, 0x4F, Privilege.USER, length=2)
def get_channel_payload_version(ctx: Context, data: bytes) -> bytes:
    _lan_channel(ctx, data[0])
    if data[1] not in (PayloadType.IPMI, PayloadType.SOL, *range(0x10, 0x16)):
        raise CommandError(0x80, reason="payload type not available on this channel")
    return bytes([0x10])
