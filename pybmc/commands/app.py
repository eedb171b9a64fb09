"""App NetFn (0x06): the BMC's identity, its channels and its users.

Byte layouts follow IPMI 2.0 chapters 20 (device), 22 (BMC messaging, channels, users) as the
common clients (ipmitool, FreeIPMI, pyghmi, xCAT) read them. The session commands (38-3D, 54),
the watchdog, message flags and payload commands live in their own modules.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from pybmc.commands.dispatch import CommandTable, Context
from pybmc.config.bmc import MAX_USERS
from pybmc.model import acpi, controller_reset
from pybmc.model.state import UserRecord
from pybmc.wire.codes import (
    LAN_CHANNEL,
    SERIAL_CHANNEL,
    SYSTEM_INTERFACE_CHANNEL,
    Cc,
    NetFn,
    Privilege,
)
from pybmc.wire.errors import CommandError

log = logging.getLogger("pybmc.app")

table = CommandTable()

IPMI_VERSION_2_0 = 0x02  # BCD, low nibble = major: "2.0"
# Chassis, IPMB event generator and receiver, FRU, SEL, SDR repository, sensor (no bridge).
ADDITIONAL_DEVICE_SUPPORT = 0xBF
SELF_TEST_PASSED = bytes([0x55, 0x00])
IPMI_FORUM_IANA = (7154).to_bytes(3, "little")  # 0x001BF2, the vendor of standard protocols
FIXED_NAME_USERS = 1  # user 1, the null user, has a fixed (empty) name
NO_ACCESS = 0x0F

# Completion codes specific to one command (IPMI 2.0 chapter 22).
CC_CHANNEL_NOT_SUPPORTED = 0x82  # Get/Set Channel Access on a session-less channel
CC_PASSWORD_MISMATCH = 0x80  # Set User Password, test: wrong password
CC_PASSWORD_WRONG_SIZE = 0x81  # Set User Password, test: stored password does not fit the size
CC_PARAMETER_NOT_SUPPORTED = 0x80  # Get/Set System Info Parameters
CC_SET_IN_PROGRESS = 0x81  # Set System Info Parameters: "set in progress" already claimed


# ------------------------------------------------------------------------------ device
@table.command(NetFn.APP, 0x01, Privilege.USER, length=0)
def get_device_id(ctx: Context, data: bytes) -> bytes:
    identity = ctx.config.identity
    return bytes([
        identity.device_id,
        identity.device_revision & 0x0F,  # bit 7 clear: no device SDRs, the BMC has a repository
        identity.firmware_major & 0x7F,  # bit 7 clear: device available, no update in progress
        identity.firmware_minor,  # already BCD
        IPMI_VERSION_2_0,
        ADDITIONAL_DEVICE_SUPPORT,
    ]) + (identity.manufacturer_id.to_bytes(3, "little")
          + identity.product_id.to_bytes(2, "little")
          + bytes(identity.aux_firmware[:4]).ljust(4, b"\x00"))


@table.command(NetFn.APP, 0x02, Privilege.ADMINISTRATOR, length=0)
def cold_reset(ctx: Context, data: bytes) -> bytes:
    """A BMC reboot (pybmc.model.controller_reset); the host's power is not touched."""
    controller_reset.cold_reset(ctx.state, ctx.name)
    ctx.changes.mark()
    return b""


@table.command(NetFn.APP, 0x03, Privilege.ADMINISTRATOR, length=0)
def warm_reset(ctx: Context, data: bytes) -> bytes:
    controller_reset.warm_reset(ctx.name)
    return b""


@table.command(NetFn.APP, 0x04, Privilege.USER, length=0)
def get_self_test_results(ctx: Context, data: bytes) -> bytes:
    return SELF_TEST_PASSED


@table.command(NetFn.APP, 0x08, Privilege.USER, length=0)
def get_device_guid(ctx: Context, data: bytes) -> bytes:
    """The controller's own GUID: distinct from the System GUID, as on server boards.

    Derived from the System GUID (a name-based UUID) so it is stable across restarts and
    moves with the system's identity without being stored.
    """
    return device_guid(ctx.guid)


def device_guid(system_guid_wire: bytes) -> bytes:
    system = uuid.UUID(bytes=system_guid_wire[::-1])
    return uuid.uuid5(system, "pybmc device").bytes[::-1]


# ------------------------------------------------------------------------------ ACPI power state
SET_STATE = 0x80  # bit 7 of each byte of Set ACPI Power State: set this part


@table.command(NetFn.APP, 0x06, Privilege.ADMINISTRATOR, length=2)
def set_acpi_power_state(ctx: Context, data: bytes) -> bytes:
    """System software's ACPI state; kept until the power changes (pybmc.model.acpi)."""
    system = data[0] & 0x7F if data[0] & SET_STATE else None
    device = data[1] & 0x7F if data[1] & SET_STATE else None
    system = None if system == acpi.NO_CHANGE else system
    device = None if device == acpi.NO_CHANGE else device
    problem = acpi.set_state(ctx.state, ctx.power.is_on(), system, device)
    if problem:
        raise CommandError(Cc.INVALID_DATA_FIELD, reason=problem)
    ctx.changes.mark()
    return b""


@table.command(NetFn.APP, 0x07, Privilege.USER, length=0)
def get_acpi_power_state(ctx: Context, data: bytes) -> bytes:
    now = acpi.current(ctx.state, ctx.power.is_on())
    return bytes([now.system, now.device])


@table.command(NetFn.APP, 0x37, Privilege.NONE, length=0)
def get_system_guid(ctx: Context, data: bytes) -> bytes:
    """The same GUID RAKP uses; clients ask for it before a session exists."""
    return ctx.guid


# ------------------------------------------------------------------------------ global enables
GLOBAL_ENABLES_RESERVED = 0x10


@table.command(NetFn.APP, 0x2E, Privilege.ADMINISTRATOR, length=1)
def set_bmc_global_enables(ctx: Context, data: bytes) -> bytes:
    if data[0] & GLOBAL_ENABLES_RESERVED:
        raise CommandError(Cc.INVALID_DATA_FIELD, reason="reserved global enables bit set")
    ctx.state.global_enables = data[0]
    ctx.changes.mark()
    return b""


@table.command(NetFn.APP, 0x2F, Privilege.USER, length=0)
def get_bmc_global_enables(ctx: Context, data: bytes) -> bytes:
    return bytes([ctx.state.global_enables])


# ------------------------------------------------------------------------------ channels
MEDIUM_IPMB, MEDIUM_LAN_802_3, MEDIUM_RS232, MEDIUM_SYSTEM_INTERFACE = 0x01, 0x04, 0x05, 0x0C
PROTOCOL_IPMB, PROTOCOL_KCS = 0x01, 0x05  # IPMB-1.0 is also serial/modem Basic Mode's
SESSION_LESS, SINGLE_SESSION, MULTI_SESSION = 0x00, 0x40, 0x80  # Get Channel Info byte 4 7:6
NO_INTERRUPT = 0xFF


@dataclass(frozen=True)
class ChannelDescription:
    medium: int
    protocol: int
    session_support: int
    aux: bytes = b"\x00\x00"


CHANNELS: dict[int, ChannelDescription] = {
    0: ChannelDescription(MEDIUM_IPMB, PROTOCOL_IPMB, SESSION_LESS),
    LAN_CHANNEL: ChannelDescription(MEDIUM_LAN_802_3, PROTOCOL_IPMB, MULTI_SESSION),
    # The serial/modem channel server BMCs have (pybmc.model.serial_params): its settings,
    # channel access and user access are kept; no session is ever open on it.
    SERIAL_CHANNEL: ChannelDescription(MEDIUM_RS232, PROTOCOL_IPMB, SINGLE_SESSION),
    # Aux bytes of the system interface: SMS and event-buffer interrupt types, "none".
    SYSTEM_INTERFACE_CHANNEL: ChannelDescription(MEDIUM_SYSTEM_INTERFACE, PROTOCOL_KCS,
                                                 SESSION_LESS, bytes([NO_INTERRUPT] * 2)),
}
# The system interface has no access settings of its own: it is always there, for anyone.
SYSTEM_INTERFACE_ACCESS = bytes([0x02, Privilege.ADMINISTRATOR])
# Channels with Set/Get Channel Access and Set/Get User Access settings of their own.
SESSION_CHANNELS = (LAN_CHANNEL, SERIAL_CHANNEL)


def _known_channel(ctx: Context, raw: int) -> int:
    channel = ctx.resolve_channel(raw)
    if channel not in CHANNELS:
        raise CommandError(Cc.INVALID_DATA_FIELD, reason=f"no channel {channel}")
    return channel


def _active_sessions(ctx: Context, channel: int) -> int:
    """Sessions open on the channel."""
    count = sum(1 for s in ctx.sessions.sessions if s.channel == channel)
    return min(count, 0x3F)


@table.command(NetFn.APP, 0x42, Privilege.USER, length=1)
def get_channel_info(ctx: Context, data: bytes) -> bytes:
    channel = _known_channel(ctx, data[0])
    info = CHANNELS[channel]
    sessions = _active_sessions(ctx, channel) if info.session_support else 0
    return bytes([channel, info.medium, info.protocol, info.session_support | sessions]) + (
        IPMI_FORUM_IANA + info.aux)


def _encode_channel_access(ctx: Context, channel: int, volatile: bool) -> bytes:
    access = ctx.state.channel(channel, volatile)
    flags = (
        (0x20 if access.alerting_disabled else 0)
        | (0x10 if access.per_message_auth_disabled else 0)
        | (0x08 if access.user_level_auth_disabled else 0)
        | (access.access_mode & 0x07)
    )
    return bytes([flags, access.privilege_limit & 0x0F])


# Bits 7:6 of a Get/Set Channel Access byte: which copy a request reads or writes.
KEEP, NON_VOLATILE, VOLATILE = 0, 1, 2


@table.command(NetFn.APP, 0x41, Privilege.USER, length=2)
def get_channel_access(ctx: Context, data: bytes) -> bytes:
    channel = _known_channel(ctx, data[0])
    which = data[1] >> 6
    if which not in (NON_VOLATILE, VOLATILE):
        raise CommandError(Cc.INVALID_DATA_FIELD, reason="neither volatile nor non-volatile")
    if channel == SYSTEM_INTERFACE_CHANNEL:
        return SYSTEM_INTERFACE_ACCESS
    if channel not in SESSION_CHANNELS:
        raise CommandError(CC_CHANNEL_NOT_SUPPORTED, reason=f"channel {channel} is session-less")
    return _encode_channel_access(ctx, channel, volatile=which == VOLATILE)


def _valid_privilege_limit(value: int) -> bool:
    return Privilege.CALLBACK <= value <= Privilege.OEM


@table.command(NetFn.APP, 0x40, Privilege.ADMINISTRATOR, length=3)
def set_channel_access(ctx: Context, data: bytes) -> bytes:
    channel = _known_channel(ctx, data[0])
    if channel not in SESSION_CHANNELS:
        raise CommandError(CC_CHANNEL_NOT_SUPPORTED, reason=f"channel {channel} is session-less")
    access_which, privilege_which = data[1] >> 6, data[2] >> 6
    access_mode, privilege = data[1] & 0x07, data[2] & 0x0F
    # Validate the whole request before changing anything.
    if access_which > VOLATILE or privilege_which > VOLATILE:
        raise CommandError(Cc.INVALID_DATA_FIELD, reason="reserved set selector")
    if access_which != KEEP and access_mode > 3:
        raise CommandError(Cc.INVALID_DATA_FIELD, reason=f"access mode {access_mode}")
    if privilege_which != KEEP and not _valid_privilege_limit(privilege):
        raise CommandError(Cc.INVALID_DATA_FIELD, reason=f"privilege limit {privilege}")
    state = ctx.state
    if access_which != KEEP:
        access = state.channel(channel, volatile=access_which == VOLATILE)
        access.access_mode = access_mode
        access.alerting_disabled = bool(data[1] & 0x20)
        access.per_message_auth_disabled = bool(data[1] & 0x10)
        access.user_level_auth_disabled = bool(data[1] & 0x08)
    if privilege_which != KEEP:
        state.channel(channel, volatile=privilege_which == VOLATILE).privilege_limit = privilege
    ctx.changes.mark()
    log.info("%s: channel %d access set: %s", ctx.name, channel, data.hex())
    return b""


# ------------------------------------------------------------------------------ users
def _user_id(raw: int) -> int:
    uid = raw & 0x3F
    if not 1 <= uid <= MAX_USERS:
        raise CommandError(Cc.INVALID_DATA_FIELD, reason=f"no user id {uid}")
    return uid


def _user(ctx: Context, uid: int) -> UserRecord:
    return ctx.users.records.setdefault(uid, UserRecord(user_id=uid))


def _user_channel(ctx: Context, raw: int) -> int:
    """Users have access settings on the LAN and serial channels; the system interface needs
    none."""
    channel = ctx.resolve_channel(raw)
    if channel not in SESSION_CHANNELS:
        raise CommandError(Cc.INVALID_DATA_FIELD, reason=f"no user access on channel {channel}")
    return channel


def _enabled_users(ctx: Context) -> int:
    return sum(1 for user in ctx.users.records.values()
               if user.enabled and 1 <= user.user_id <= MAX_USERS)


@table.command(NetFn.APP, 0x44, Privilege.OPERATOR, length=2)
def get_user_access(ctx: Context, data: bytes) -> bytes:
    channel = _user_channel(ctx, data[0])
    user = _user(ctx, _user_id(data[1]))
    access = user.access_on(channel)
    enable_status = 0x40 if user.enabled else 0x80  # "enabled / disabled via Set User Password"
    return bytes([
        MAX_USERS,
        enable_status | _enabled_users(ctx),
        FIXED_NAME_USERS,
        (0x40 if access.callback_only else 0)
        | (0x20 if access.link_auth else 0)
        | (0x10 if access.ipmi_messaging else 0)
        | (access.privilege & 0x0F),
    ])


@table.command(NetFn.APP, 0x43, Privilege.ADMINISTRATOR, length=(3, 4))
def set_user_access(ctx: Context, data: bytes) -> bytes:
    channel = _user_channel(ctx, data[0])
    uid = _user_id(data[1])
    privilege = data[2] & 0x0F
    if privilege != NO_ACCESS and not _valid_privilege_limit(privilege):
        raise CommandError(Cc.INVALID_DATA_FIELD, reason=f"privilege limit {privilege}")
    access = _user(ctx, uid).access_on(channel)
    if data[0] & 0x80:  # "change bits in this byte"
        # Callback-only is kept and read back but not enforced: xCAT sets it for LAN users.
        access.callback_only = bool(data[0] & 0x40)
        access.link_auth = bool(data[0] & 0x20)
        access.ipmi_messaging = bool(data[0] & 0x10)
    access.privilege = privilege
    if len(data) == 4:  # byte 4, bits 3:0: the user's simultaneous session limit (0: none)
        access.session_limit = data[3] & 0x0F  # bits 7:4 are reserved: ignored, not refused
    ctx.changes.mark()
    log.info("%s: user %d access on channel %d: %s", ctx.name, uid, channel, data.hex())
    return b""


NAME_LENGTH = 16


@table.command(NetFn.APP, 0x46, Privilege.OPERATOR, length=1)
def get_user_name(ctx: Context, data: bytes) -> bytes:
    user = _user(ctx, _user_id(data[0]))
    return user.name[:NAME_LENGTH].ljust(NAME_LENGTH, b"\x00")


@table.command(NetFn.APP, 0x45, Privilege.ADMINISTRATOR, length=1 + NAME_LENGTH)
def set_user_name(ctx: Context, data: bytes) -> bytes:
    uid = _user_id(data[0])
    name = data[1:].split(b"\x00", 1)[0]  # a C string: whatever follows the first NUL is padding
    if uid == 1 and name:
        raise CommandError(Cc.INVALID_DATA_FIELD, reason="user 1 has a fixed (empty) name")
    # RAKP and Activate Session find users by name, so two users may not share one.
    if name and any(other.name == name for other_uid, other in ctx.users.records.items()
                    if other_uid != uid):
        raise CommandError(Cc.INVALID_DATA_FIELD, reason=f"user name {name!r} is taken")
    _user(ctx, uid).name = name
    ctx.changes.mark()
    log.info("%s: user %d name set to %r", ctx.name, uid, name.decode(errors="replace"))
    return b""


DISABLE_USER, ENABLE_USER, SET_PASSWORD, TEST_PASSWORD = 0, 1, 2, 3
PASSWORD_20_BYTES = 0x80


@table.command(NetFn.APP, 0x47, Privilege.ADMINISTRATOR, length=(2, 22))
def set_user_password(ctx: Context, data: bytes) -> bytes:
    uid = _user_id(data[0])
    size = 20 if data[0] & PASSWORD_20_BYTES else 16
    operation = data[1] & 0x03
    password = data[2:]
    # The password field is absent (enable/disable may omit it) or exactly the size announced.
    if password and len(password) != size:
        raise CommandError(Cc.REQUEST_DATA_LENGTH_INVALID,
                           reason=f"{len(password)}-byte password, {size} announced")
    if not password and operation in (SET_PASSWORD, TEST_PASSWORD):
        raise CommandError(Cc.REQUEST_DATA_LENGTH_INVALID, reason="password missing")
    user = _user(ctx, uid)
    if operation == TEST_PASSWORD:
        _test_password(user, password)
        return b""
    if operation == SET_PASSWORD:
        # Stored without the padding: RAKP pads it again with zeros to 16 or 20 bytes.
        user.password = password.rstrip(b"\x00")
        what = "password set"
    else:
        user.enabled = operation == ENABLE_USER
        what = "enabled" if user.enabled else "disabled"
        if user.enabled:  # the spec's way to end a bad-password lockout before its time
            ctx.lockout.unlock(uid)
    ctx.changes.mark()
    log.info("%s: user %d %s", ctx.name, uid, what)
    return b""


def _test_password(user: UserRecord, password: bytes) -> None:
    if len(user.password) > len(password):
        raise CommandError(CC_PASSWORD_WRONG_SIZE, reason="stored password is a 20-byte one")
    if user.password != password.rstrip(b"\x00"):
        raise CommandError(CC_PASSWORD_MISMATCH, reason="password does not match")


# ------------------------------------------------------------------------------ system info
SYSINFO_REVISION = 0x11
SYSINFO_SET_IN_PROGRESS = 0
SYSINFO_STRINGS = range(1, 8)  # firmware version, system name, primary OS, OS, OS version, URLs
SYSINFO_BLOCKS = 17  # block 0 holds 14 string bytes, the others 16: enough for 255 bytes
SYSINFO_BLOCK_LENGTH = 16


def _sysinfo(ctx: Context) -> dict[str, str]:
    """Stored in state.extra as hex: "0" -> set in progress, "<param>.<block>" -> 16 bytes."""
    return ctx.state.extra.setdefault("sysinfo", {})


@table.command(NetFn.APP, 0x59, Privilege.USER, length=4)
def get_system_info_parameters(ctx: Context, data: bytes) -> bytes:
    revision_only, parameter, block = data[0] & 0x80, data[1], data[2]
    if parameter != SYSINFO_SET_IN_PROGRESS and parameter not in SYSINFO_STRINGS:
        raise CommandError(CC_PARAMETER_NOT_SUPPORTED, reason=f"parameter {parameter}")
    if revision_only:
        return bytes([SYSINFO_REVISION])
    stored = _sysinfo(ctx)
    if parameter == SYSINFO_SET_IN_PROGRESS:
        return bytes([SYSINFO_REVISION]) + bytes.fromhex(stored.get("0", "00"))
    if block >= SYSINFO_BLOCKS:
        raise CommandError(Cc.INVALID_DATA_FIELD, reason=f"set selector {block}")
    value = bytes.fromhex(stored.get(f"{parameter}.{block}", "")).ljust(SYSINFO_BLOCK_LENGTH,
                                                                        b"\x00")
    return bytes([SYSINFO_REVISION, block]) + value


@table.command(NetFn.APP, 0x58, Privilege.ADMINISTRATOR, length=(2, 2 + SYSINFO_BLOCK_LENGTH))
def set_system_info_parameters(ctx: Context, data: bytes) -> bytes:
    parameter = data[0]
    stored = _sysinfo(ctx)
    if parameter == SYSINFO_SET_IN_PROGRESS:
        _set_sysinfo_in_progress(stored, data[1:])
    elif parameter in SYSINFO_STRINGS:
        block = data[1]
        if block >= SYSINFO_BLOCKS:
            raise CommandError(Cc.INVALID_DATA_FIELD, reason=f"set selector {block}")
        # FreeIPMI sends only the used part of block 0; the rest of a block is NUL padding.
        stored[f"{parameter}.{block}"] = data[2:].ljust(SYSINFO_BLOCK_LENGTH, b"\x00").hex()
    else:
        raise CommandError(CC_PARAMETER_NOT_SUPPORTED, reason=f"parameter {parameter}")
    ctx.changes.mark()
    return b""


def _set_sysinfo_in_progress(stored: dict[str, str], value: bytes) -> None:
    if len(value) != 1:
        raise CommandError(Cc.REQUEST_DATA_LENGTH_INVALID, reason="set in progress is 1 byte")
    state = value[0] & 0x03
    if value[0] & 0xFC or state == 3:
        raise CommandError(Cc.INVALID_DATA_FIELD, reason=f"set in progress {value[0]:#x}")
    if state == 1 and stored.get("0") == "01":
        raise CommandError(CC_SET_IN_PROGRESS, reason="set in progress already claimed")
    stored["0"] = f"{state:02x}"
