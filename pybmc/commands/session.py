"""Session commands (NetFn App): authentication capabilities, cipher suites, session privilege,
Close Session and Get Session Info. Get Session Challenge and Activate Session live in the
session layer (pybmc/protocol/rmcp/session.py): they create sessions rather than run in one.
"""

from __future__ import annotations

import ipaddress

from pybmc.commands.dispatch import CommandTable, Context, SessionView
from pybmc.protocol.rmcp.crypto import CIPHER_SUITES
from pybmc.wire.codes import LAN_CHANNEL, AuthType, Cc, NetFn, Privilege
from pybmc.wire.errors import CommandError

table = CommandTable()

# Get Channel Authentication Capabilities, byte 3 (login status).
ANONYMOUS_LOGIN = 0x01
NULL_USER_NAMES = 0x02
NON_NULL_USER_NAMES = 0x04
KG_NOT_DEFAULT = 0x20  # K_G is set (not all zero): a client needs it to log in
# Byte 4 (extended capabilities): which session formats the channel takes.
SUPPORTS_IPMI_15 = 0x01
SUPPORTS_IPMI_20 = 0x02
IPMI_20_EXTENDED = 0x80

CIPHER_LIST_CHUNK = 16
LIST_BY_SUITE = 0x80
# Set Session Privilege Level completion codes (IPMI 2.0 table 22-22).
CC_LEVEL_NOT_AVAILABLE_FOR_USER = 0x80
CC_LEVEL_EXCEEDS_LIMIT = 0x81
# Close Session completion codes (table 22-24).
CC_INVALID_SESSION_ID = 0x87
CC_INVALID_SESSION_HANDLE = 0x88
# Get Session Info session index values (table 22-25).
INFO_BY_HANDLE = 0xFE
INFO_BY_SESSION_ID = 0xFF
PROTOCOL_RMCPPLUS = 0x10


def _lan_channel(ctx: Context, channel_byte: int) -> int:
    """The requested channel; only the LAN channel has authentication and cipher suites."""
    channel = ctx.resolve_channel(channel_byte & 0x0F)
    if channel != LAN_CHANNEL:
        raise CommandError(Cc.INVALID_DATA_FIELD, reason=f"channel {channel} is not LAN")
    return channel


def _login_status(ctx: Context) -> int:
    """Which kinds of user can log in: named users, the null user with/without password."""
    status = 0
    for user in ctx.users.records.values():
        if not user.enabled:
            continue
        if user.name:
            status |= NON_NULL_USER_NAMES
        elif user.password:
            status |= NULL_USER_NAMES
        else:
            status |= ANONYMOUS_LOGIN
    return status


@table.command(NetFn.APP, 0x39, Privilege.NONE)
def get_session_challenge(ctx: Context, data: bytes) -> bytes:
    """06 39: only before a session, on the LAN: the session layer hands out the challenge."""
    if ctx.login is None:
        raise CommandError(Cc.INVALID_COMMAND)
    return _data_or_error(ctx.login.get_session_challenge(data))


@table.command(NetFn.APP, 0x3A, Privilege.NONE)
def activate_session(ctx: Context, data: bytes) -> bytes:
    """06 3A: only on the temporary session ID a challenge gave; the session layer checked
    the packet's authcode and makes the session."""
    if ctx.login is None:
        raise CommandError(Cc.INVALID_COMMAND)
    return _data_or_error(ctx.login.activate_session(data))


def _data_or_error(reply: bytes) -> bytes:
    """The session layer answers completion code + data; handlers return data or raise."""
    if reply[0] != Cc.OK:
        raise CommandError(reply[0])
    return reply[1:]


@table.command(NetFn.APP, 0x38, Privilege.NONE, length=2)
def get_channel_authentication_capabilities(ctx: Context, data: bytes) -> bytes:
    channel = _lan_channel(ctx, data[0])
    extended = bool(data[0] & IPMI_20_EXTENDED)
    requested = data[1] & 0x0F
    if not Privilege.CALLBACK <= requested <= Privilege.OEM:
        raise CommandError(Cc.INVALID_DATA_FIELD, reason=f"privilege {requested}")
    if requested > ctx.users.channel_privilege_limit(channel):
        raise CommandError(Cc.INVALID_DATA_FIELD, reason="privilege above the channel limit")
    auth_types = ctx.lan.auth_types_enabled(Privilege(requested))
    capabilities = 0
    if extended:
        capabilities = (SUPPORTS_IPMI_15 if auth_types else 0) | (
            SUPPORTS_IPMI_20 if ctx.lan.cipher_suites() else 0)
    return bytes([channel, auth_types | (IPMI_20_EXTENDED if extended else 0),
                  _login_status(ctx) | (KG_NOT_DEFAULT if ctx.lan.bmc_key() else 0),
                  capabilities, 0, 0, 0, 0])


def _cipher_suite_list(ctx: Context, by_suite: bool) -> bytes:
    suites = [CIPHER_SUITES[i] for i in ctx.lan.cipher_suites() if i in CIPHER_SUITES]
    if by_suite:
        return b"".join(suite.record() for suite in suites)
    auth = sorted({s.auth.number for s in suites})
    integrity = sorted({0x40 | s.integrity.number for s in suites})
    confidentiality = sorted({0x80 | s.confidentiality.number for s in suites})
    return bytes(auth + integrity + confidentiality)


@table.command(NetFn.APP, 0x54, Privilege.NONE, length=3)
def get_channel_cipher_suites(ctx: Context, data: bytes) -> bytes:
    channel = _lan_channel(ctx, data[0])
    payload_type = data[1] & 0x3F
    if payload_type > 1:  # the same suites serve IPMI (0) and SOL (1)
        raise CommandError(Cc.INVALID_DATA_FIELD, reason=f"payload type {payload_type}")
    index = data[2] & 0x3F
    listing = _cipher_suite_list(ctx, bool(data[2] & LIST_BY_SUITE))
    chunk = listing[index * CIPHER_LIST_CHUNK:(index + 1) * CIPHER_LIST_CHUNK]
    return bytes([channel]) + chunk  # a short chunk tells the client the list has ended


def _session_or_fail(ctx: Context) -> SessionView:
    if ctx.session is None:
        raise CommandError(Cc.NOT_SUPPORTED_IN_PRESENT_STATE, reason="no session")
    return ctx.session


@table.command(NetFn.APP, 0x3B, Privilege.CALLBACK, length=1)
def set_session_privilege_level(ctx: Context, data: bytes) -> bytes:
    session = _session_or_fail(ctx)
    requested = data[0] & 0x0F
    if requested == 0:  # "no change": report the present level
        return bytes([session.privilege])
    if requested > Privilege.OEM:
        raise CommandError(Cc.INVALID_DATA_FIELD, reason=f"privilege {requested}")
    user = ctx.users.records.get(session.user_id)
    user_limit = (ctx.users.privilege_limit(user, session.channel) if user is not None
                  else Privilege.NONE)
    if requested > user_limit:
        raise CommandError(CC_LEVEL_EXCEEDS_LIMIT, reason="above the user/channel limit")
    if requested > session.max_privilege:
        raise CommandError(CC_LEVEL_NOT_AVAILABLE_FOR_USER, reason="above the session limit")
    session.set_privilege(Privilege(requested))
    return bytes([requested])


@table.command(NetFn.APP, 0x3C, Privilege.CALLBACK, length=(4, 5))
def close_session(ctx: Context, data: bytes) -> bytes:
    sessions = ctx.sessions
    session_id = int.from_bytes(data[0:4], "little")
    if session_id == 0:
        if len(data) < 5:
            raise CommandError(Cc.REQUEST_DATA_LENGTH_INVALID, reason="handle missing")
        target = sessions.find_by_handle(data[4])
        if target is None:
            raise CommandError(CC_INVALID_SESSION_HANDLE)
    else:
        target = sessions.find_session(session_id)
        if target is None:
            raise CommandError(CC_INVALID_SESSION_ID)
    if target is not ctx.session and ctx.privilege < Privilege.ADMINISTRATOR:
        raise CommandError(Cc.INSUFFICIENT_PRIVILEGE, reason="closing another session")
    target.close()
    return b""


def _info_target(ctx: Context, data: bytes, active: list) -> SessionView | None:
    index = data[0]
    if index == 0:
        return ctx.session
    if index == INFO_BY_SESSION_ID:
        if len(data) != 5:
            raise CommandError(Cc.REQUEST_DATA_LENGTH_INVALID)
        return ctx.sessions.find_session(int.from_bytes(data[1:5], "little"))
    if index == INFO_BY_HANDLE:
        if len(data) != 2:
            raise CommandError(Cc.REQUEST_DATA_LENGTH_INVALID)
        return ctx.sessions.find_by_handle(data[1])
    return active[index - 1] if index <= len(active) else None


def _remote_ip(remote: tuple[str, int]) -> bytes:
    try:
        return ipaddress.IPv4Address(remote[0]).packed
    except ValueError:
        return bytes(4)


@table.command(NetFn.APP, 0x3D, Privilege.USER, length=(1, 5))
def get_session_info(ctx: Context, data: bytes) -> bytes:
    active = ctx.sessions.sessions
    slots = int(ctx.config.security.max_sessions) & 0x3F
    head = bytes([0, slots, len(active) & 0x3F])
    target = _info_target(ctx, data, active)
    if target is None:
        return head  # no such session: handle 0 and the counts only
    protocol = PROTOCOL_RMCPPLUS if target.auth_type == AuthType.RMCPPLUS else 0
    return (bytes([target.handle, slots, len(active) & 0x3F, target.user_id & 0x3F,
                   target.privilege & 0x0F, protocol | (target.channel & 0x0F)])
            + _remote_ip(target.remote) + bytes(6)  # console MAC: not known over UDP
            + (target.remote[1] & 0xFFFF).to_bytes(2, "little"))


# Set Channel Security Keys (IPMI 2.0 section 22.25). K_G changes how RMCP+ session keys are
# made. K_R is stored and read back (FreeIPMI's bmc-config checks it out) but not used: RAKP
# nonces come from the random source, as the specification allows.
KEY_READ, KEY_SET, KEY_LOCK = 0x00, 0x01, 0x02
KEY_ID_KR, KEY_ID_KG = 0x00, 0x01
KR_STATE_KEY = "channel_key_kr"
KEY_NOT_LOCKABLE = 0x00
KEY_LENGTH = 20
CC_INSUFFICIENT_KEY_BYTES = 0x81
CC_TOO_MANY_KEY_BYTES = 0x82


@table.command(NetFn.APP, 0x56, Privilege.ADMINISTRATOR, length=(3, 3 + KEY_LENGTH + 1))
def set_channel_security_keys(ctx: Context, data: bytes) -> bytes:
    _lan_channel(ctx, data[0])
    operation, key_id, value = data[1] & 0x03, data[2], data[3:]
    if key_id not in (KEY_ID_KR, KEY_ID_KG):
        raise CommandError(Cc.INVALID_DATA_FIELD, reason=f"key ID {key_id:#x}")
    if operation == KEY_READ:
        return bytes([KEY_NOT_LOCKABLE]) + _key(ctx, key_id)
    if operation != KEY_SET:  # lock: the keys are not lockable here
        raise CommandError(Cc.INVALID_DATA_FIELD, reason="key lock is not supported")
    if len(value) < KEY_LENGTH:
        raise CommandError(CC_INSUFFICIENT_KEY_BYTES, reason=f"{len(value)} key bytes")
    if len(value) > KEY_LENGTH:
        raise CommandError(CC_TOO_MANY_KEY_BYTES, reason=f"{len(value)} key bytes")
    if key_id == KEY_ID_KG:
        ctx.lan.set_bmc_key(value)
    else:
        ctx.state.extra[KR_STATE_KEY] = value.hex()
    ctx.changes.mark()
    return bytes([KEY_NOT_LOCKABLE])


def _key(ctx: Context, key_id: int) -> bytes:
    if key_id == KEY_ID_KG:
        return ctx.lan.bmc_key() or bytes(KEY_LENGTH)
    stored = ctx.state.extra.get(KR_STATE_KEY)
    try:
        key = bytes.fromhex(stored) if isinstance(stored, str) else b""
    except ValueError:
        key = b""
    return key if len(key) == KEY_LENGTH else bytes(KEY_LENGTH)
