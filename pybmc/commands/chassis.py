"""Chassis commands (NetFn 0x00): power, identify, restore policy, restart cause, boot options.

Byte layouts follow IPMI 2.0 section 28. The boot option parameters and what a boot does with
them live in pybmc.model.boot; this module parses requests and builds responses.

| cmd | command                     | privilege     |
|-----|-----------------------------|---------------|
| 00  | Get Chassis Capabilities    | user          |
| 01  | Get Chassis Status          | user          |
| 02  | Chassis Control             | operator      |
| 04  | Chassis Identify            | operator      |
| 05  | Set Chassis Capabilities    | administrator |
| 06  | Set Power Restore Policy    | operator      |
| 07  | Get System Restart Cause    | user          |
| 0A  | Set Front Panel Enables     | administrator |
| 0B  | Set Power Cycle Interval    | administrator |
| 08  | Set System Boot Options     | operator      |
| 09  | Get System Boot Options     | operator      |
| 0F  | Get POH Counter             | user          |
"""

from __future__ import annotations

import logging
import time

from pybmc.commands.dispatch import CommandTable, Context
from pybmc.model import boot
from pybmc.model.chassis import ChassisRuntime
from pybmc.model.power import PowerAction, PowerError
from pybmc.model.state import State
from pybmc.wire.codes import BMC_SLAVE_ADDRESS, Cc, NetFn, Privilege
from pybmc.wire.errors import CommandError

log = logging.getLogger("pybmc.chassis")

table = CommandTable()

# Chassis Identify: the interval when the request has no data (spec default).
DEFAULT_IDENTIFY_SECONDS = 15
# A Set In Progress claim that nobody released lapses after this long, so a client that died
# half-way through an update cannot lock every other client out (answering 0x81) for ever.
SET_IN_PROGRESS_LAPSE = 60.0
# Boot option parameter version (Get System Boot Options byte 1).
BOOT_PARAMETER_VERSION = 0x01
# Set Power Restore Policy: 0 always off, 1 previous, 2 always on are all supported.
RESTORE_POLICIES_SUPPORTED = 0x07
RESTORE_POLICY_NO_CHANGE = 0x03
# Get POH Counter: one count per hour.
POH_MINUTES_PER_COUNT = 60
# Chassis capabilities (Get/Set Chassis Capabilities), kept in state.extra as hex.
CAPABILITIES_KEY = "chassis_capabilities"
# Flags bit 1 = front panel lockout provided: Chassis Status advertises that every button can
# be disabled (Set Front Panel Enables works), so the capabilities say so too.
CAPABILITY_FRONT_PANEL_LOCKOUT = 0x02
DEFAULT_CAPABILITIES = bytes([CAPABILITY_FRONT_PANEL_LOCKOUT] + [BMC_SLAVE_ADDRESS] * 5)

# Front panel buttons (Chassis Status byte 4, Set Front Panel Enables): every button may be
# disabled; bits 3:0 (standby, diagnostic interrupt, reset, power off) say which are.
FRONT_PANEL_KEY = "front_panel_disabled"
FRONT_PANEL_DISABLE_ALLOWED = 0xF0
# Set Power Cycle Interval, seconds; the backend's cycle_interval until a client sets one.
CYCLE_INTERVAL_KEY = "power_cycle_interval"

_CHASSIS_STATUS_IDENTIFY_SUPPORTED = 0x40
_IDENTIFY_TIMED_ON = 0x10
_IDENTIFY_INDEFINITE_ON = 0x20




# ----------------------------------------------------------------- capabilities and status
@table.command(NetFn.CHASSIS, 0x00, Privilege.USER, length=0)
def get_chassis_capabilities(ctx: Context, data: bytes) -> bytes:
    return _capabilities(ctx.state)


@table.command(NetFn.CHASSIS, 0x05, Privilege.ADMINISTRATOR, length=(5, 6))
def set_chassis_capabilities(ctx: Context, data: bytes) -> bytes:
    # Only bits 1:0 of the flags (intrusion sensor, front panel lockout) are settable; a
    # request without the optional bridge address keeps the one set before.
    current = _capabilities(ctx.state)
    updated = bytes([data[0] & 0x03]) + data[1:5] + (data[5:6] or current[5:6])
    ctx.state.extra[CAPABILITIES_KEY] = updated.hex()
    ctx.changes.mark()
    return b""


def _capabilities(state: State) -> bytes:
    stored = state.extra.get(CAPABILITIES_KEY)
    if isinstance(stored, str):
        try:
            value = bytes.fromhex(stored)
        except ValueError:
            value = b""
        if len(value) == len(DEFAULT_CAPABILITIES):
            return value
    return DEFAULT_CAPABILITIES


@table.command(NetFn.CHASSIS, 0x01, Privilege.USER, length=0)
def get_chassis_status(ctx: Context, data: bytes) -> bytes:
    power = 0x01 if ctx.power.is_on() else 0x00
    power |= (ctx.state.restore_policy & 0x03) << 5
    last_event = int(ctx.state.extra.get(boot.LAST_POWER_EVENT_KEY, 0)) & 0x1F
    misc = _CHASSIS_STATUS_IDENTIFY_SUPPORTED | _identify_state(ctx.chassis, ctx.now)
    front_panel = FRONT_PANEL_DISABLE_ALLOWED | _front_panel_disabled(ctx.state)
    return bytes([power, last_event, misc, front_panel])


@table.command(NetFn.CHASSIS, 0x0A, Privilege.ADMINISTRATOR, length=1)
def set_front_panel_enables(ctx: Context, data: bytes) -> bytes:
    # The machine has no buttons to press; what a client disables only reads back.
    ctx.state.extra[FRONT_PANEL_KEY] = data[0] & 0x0F
    ctx.changes.mark()
    return b""


def _front_panel_disabled(state: State) -> int:
    return int(state.extra.get(FRONT_PANEL_KEY, 0)) & 0x0F


# ----------------------------------------------------------------- power control
@table.command(NetFn.CHASSIS, 0x02, Privilege.OPERATOR, length=1)
def chassis_control(ctx: Context, data: bytes) -> bytes:
    try:
        action = PowerAction(data[0])
    except ValueError:
        raise CommandError(Cc.INVALID_DATA_FIELD, reason=f"chassis control {data[0]}") from None
    log.info("%s: chassis control %s requested on channel %d", ctx.name,
             action.name.lower(), ctx.channel)
    # Remembered before the request: a backend may report the boot before returning.
    ctx.state.extra[boot.CONTROL_CHANNEL_KEY] = ctx.channel
    if action is PowerAction.CYCLE:
        _apply_cycle_interval(ctx)
    try:
        ctx.power.request(action)
    except PowerError as err:
        log.info("%s: chassis control %s refused: %s", ctx.name, action.name.lower(), err)
        raise CommandError(err.cc, reason=str(err)) from None
    return b""


@table.command(NetFn.CHASSIS, 0x0B, Privilege.ADMINISTRATOR, length=1)
def set_power_cycle_interval(ctx: Context, data: bytes) -> bytes:
    ctx.state.extra[CYCLE_INTERVAL_KEY] = data[0]
    ctx.changes.mark()
    _apply_cycle_interval(ctx)
    return b""


def _apply_cycle_interval(ctx: Context) -> None:
    """Give the backend the interval a client set (it persists; the backend is rebuilt)."""
    seconds = ctx.state.extra.get(CYCLE_INTERVAL_KEY)
    if seconds is not None:
        ctx.power.cycle_interval = float(seconds)


@table.command(NetFn.CHASSIS, 0x06, Privilege.OPERATOR, length=1)
def set_power_restore_policy(ctx: Context, data: bytes) -> bytes:
    policy = data[0] & 0x07
    if policy > RESTORE_POLICY_NO_CHANGE:
        raise CommandError(Cc.INVALID_DATA_FIELD, reason=f"restore policy {policy}")
    if policy != RESTORE_POLICY_NO_CHANGE:
        ctx.state.restore_policy = policy
        ctx.changes.mark()
    return bytes([RESTORE_POLICIES_SUPPORTED])


@table.command(NetFn.CHASSIS, 0x07, Privilege.USER, length=0)
def get_system_restart_cause(ctx: Context, data: bytes) -> bytes:
    state = ctx.state
    channel = int(state.extra.get(boot.RESTART_CHANNEL_KEY, 0)) & 0x0F
    return bytes([state.restart_cause & 0x0F, channel])


@table.command(NetFn.CHASSIS, 0x0F, Privilege.USER, length=0)
def get_poh_counter(ctx: Context, data: bytes) -> bytes:
    minutes = boot.power_on_minutes(ctx.state, ctx.power.is_on(), time.time())
    counts = minutes // POH_MINUTES_PER_COUNT
    return bytes([POH_MINUTES_PER_COUNT]) + (counts & 0xFFFFFFFF).to_bytes(4, "little")


# ----------------------------------------------------------------- identify
@table.command(NetFn.CHASSIS, 0x04, Privilege.OPERATOR, length=(0, 2))
def chassis_identify(ctx: Context, data: bytes) -> bytes:
    interval = data[0] if data else DEFAULT_IDENTIFY_SECONDS
    force = len(data) > 1 and bool(data[1] & 0x01)  # overrides the interval
    volatile = ctx.chassis
    volatile.identify_forever = force
    volatile.identify_until = ctx.now + interval
    if force:
        log.info("%s: chassis identify on", ctx.name)
    elif interval:
        log.info("%s: chassis identify on for %d s", ctx.name, interval)
    else:
        log.info("%s: chassis identify off", ctx.name)
    return b""


def _identify_state(chassis: ChassisRuntime, now: float) -> int:
    """Chassis Status byte 3 bits 5:4: off, timed on, or indefinitely on."""
    volatile = chassis
    if volatile.identify_forever:
        return _IDENTIFY_INDEFINITE_ON
    if now < volatile.identify_until:
        return _IDENTIFY_TIMED_ON
    return 0


# ----------------------------------------------------------------- boot options
@table.command(NetFn.CHASSIS, 0x08, Privilege.OPERATOR,
               length=(1, 2 + boot.MAILBOX_BLOCK_SIZE))
def set_system_boot_options(ctx: Context, data: bytes) -> bytes:
    param = data[0] & 0x7F
    value = data[1:]
    if param == boot.SET_IN_PROGRESS:
        _set_in_progress(ctx, value)
    else:
        boot.write_parameter(ctx.state, param, value)
        boot.mark_invalid(ctx.state, param, invalid=bool(data[0] & 0x80))
        ctx.changes.mark()
    log.debug("%s: boot option %d set to %s", ctx.name, param, value.hex())
    return b""


@table.command(NetFn.CHASSIS, 0x09, Privilege.OPERATOR, length=3)
def get_system_boot_options(ctx: Context, data: bytes) -> bytes:
    param = data[0] & 0x7F
    if param == boot.SET_IN_PROGRESS:
        value = bytes([_current_set_in_progress(ctx.chassis, ctx.now)])
    else:
        # Byte 2 is the set selector; the mailbox (parameter 7) uses it as the block number.
        value = boot.read_parameter(ctx.state, param, block=data[1])
    invalid = 0x80 if boot.is_marked_invalid(ctx.state, param) else 0x00
    return bytes([BOOT_PARAMETER_VERSION, param | invalid]) + value


def _set_in_progress(ctx: Context, value: bytes) -> None:
    """Parameter 0: 0 set complete, 1 set in progress, 2 commit write. Not persisted."""
    if len(value) != 1:
        raise CommandError(Cc.REQUEST_DATA_LENGTH_INVALID, reason="set in progress length")
    request = value[0] & 0x03
    if request == 0x03:
        raise CommandError(Cc.INVALID_DATA_FIELD, reason="set in progress value 3 is reserved")
    if request == 0x01 and _current_set_in_progress(ctx.chassis, ctx.now) != 0x00:
        # Someone else has claimed the parameters (IPMI 2.0 table 28-12, cc 81h).
        raise CommandError(boot.CC_SET_IN_PROGRESS_CLAIMED, reason="set already in progress")
    volatile = ctx.chassis
    volatile.set_in_progress = request
    volatile.set_in_progress_at = ctx.now


def _current_set_in_progress(volatile: ChassisRuntime, now: float) -> int:
    if volatile.set_in_progress and now - volatile.set_in_progress_at > SET_IN_PROGRESS_LAPSE:
        volatile.set_in_progress = 0
    return volatile.set_in_progress
