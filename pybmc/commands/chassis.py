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
from dataclasses import dataclass
from typing import TYPE_CHECKING
from weakref import WeakKeyDictionary

from pybmc.commands.dispatch import CommandTable, Context
from pybmc.model import boot
from pybmc.model.power import PowerAction, PowerError
from pybmc.wire.codes import BMC_SLAVE_ADDRESS, Cc, NetFn, Privilege
from pybmc.wire.errors import CommandError

if TYPE_CHECKING:
    from pybmc.core.bmc import Bmc

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
DEFAULT_CAPABILITIES = bytes([0x00] + [BMC_SLAVE_ADDRESS] * 5)  # flags, FRU, SDR, SEL, SM, bridge

# Front panel buttons (Chassis Status byte 4, Set Front Panel Enables): every button may be
# disabled; bits 3:0 (standby, diagnostic interrupt, reset, power off) say which are.
FRONT_PANEL_KEY = "front_panel_disabled"
FRONT_PANEL_DISABLE_ALLOWED = 0xF0
# Set Power Cycle Interval, seconds; the backend's cycle_interval until a client sets one.
CYCLE_INTERVAL_KEY = "power_cycle_interval"

_CHASSIS_STATUS_IDENTIFY_SUPPORTED = 0x40
_IDENTIFY_TIMED_ON = 0x10
_IDENTIFY_INDEFINITE_ON = 0x20


@dataclass
class _Volatile:
    """What a real BMC forgets when it restarts: the identify LED and the Set In Progress claim."""

    identify_until: float = 0.0  # monotonic time a timed identify ends
    identify_forever: bool = False
    set_in_progress: int = 0  # 0 set complete, 1 set in progress, 2 commit write
    set_in_progress_at: float = 0.0


_VOLATILE: WeakKeyDictionary[Bmc, _Volatile] = WeakKeyDictionary()


def _volatile(bmc: Bmc) -> _Volatile:
    found = _VOLATILE.get(bmc)
    if found is None:
        found = _VOLATILE[bmc] = _Volatile()
    return found


# ----------------------------------------------------------------- capabilities and status
@table.command(NetFn.CHASSIS, 0x00, Privilege.USER, length=0)
def get_chassis_capabilities(ctx: Context, data: bytes) -> bytes:
    return _capabilities(ctx.bmc)


@table.command(NetFn.CHASSIS, 0x05, Privilege.ADMINISTRATOR, length=(5, 6))
def set_chassis_capabilities(ctx: Context, data: bytes) -> bytes:
    # Only bits 1:0 of the flags (intrusion sensor, front panel lockout) are settable; a
    # request without the optional bridge address keeps the one set before.
    current = _capabilities(ctx.bmc)
    updated = bytes([data[0] & 0x03]) + data[1:5] + (data[5:6] or current[5:6])
    ctx.bmc.state.extra[CAPABILITIES_KEY] = updated.hex()
    ctx.bmc.save()
    return b""


def _capabilities(bmc: Bmc) -> bytes:
    stored = bmc.state.extra.get(CAPABILITIES_KEY)
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
    bmc = ctx.bmc
    power = 0x01 if bmc.power.is_on() else 0x00
    power |= (bmc.state.restore_policy & 0x03) << 5
    last_event = int(bmc.state.extra.get(boot.LAST_POWER_EVENT_KEY, 0)) & 0x1F
    misc = _CHASSIS_STATUS_IDENTIFY_SUPPORTED | _identify_state(bmc, ctx.now)
    front_panel = FRONT_PANEL_DISABLE_ALLOWED | _front_panel_disabled(bmc)
    return bytes([power, last_event, misc, front_panel])


@table.command(NetFn.CHASSIS, 0x0A, Privilege.ADMINISTRATOR, length=1)
def set_front_panel_enables(ctx: Context, data: bytes) -> bytes:
    # The machine has no buttons to press; what a client disables only reads back.
    ctx.bmc.state.extra[FRONT_PANEL_KEY] = data[0] & 0x0F
    ctx.bmc.save()
    return b""


def _front_panel_disabled(bmc: Bmc) -> int:
    return int(bmc.state.extra.get(FRONT_PANEL_KEY, 0)) & 0x0F


# ----------------------------------------------------------------- power control
@table.command(NetFn.CHASSIS, 0x02, Privilege.OPERATOR, length=1)
def chassis_control(ctx: Context, data: bytes) -> bytes:
    try:
        action = PowerAction(data[0])
    except ValueError:
        raise CommandError(Cc.INVALID_DATA_FIELD, reason=f"chassis control {data[0]}") from None
    log.info("%s: chassis control %s requested on channel %d", ctx.bmc.name,
             action.name.lower(), ctx.channel)
    # Remembered before the request: a backend may report the boot before returning.
    ctx.bmc.state.extra[boot.CONTROL_CHANNEL_KEY] = ctx.channel
    if action is PowerAction.CYCLE:
        _apply_cycle_interval(ctx.bmc)
    try:
        ctx.bmc.power.request(action)
    except PowerError as err:
        log.info("%s: chassis control %s refused: %s", ctx.bmc.name, action.name.lower(), err)
        raise CommandError(err.cc, reason=str(err)) from None
    return b""


@table.command(NetFn.CHASSIS, 0x0B, Privilege.ADMINISTRATOR, length=1)
def set_power_cycle_interval(ctx: Context, data: bytes) -> bytes:
    ctx.bmc.state.extra[CYCLE_INTERVAL_KEY] = data[0]
    ctx.bmc.save()
    _apply_cycle_interval(ctx.bmc)
    return b""


def _apply_cycle_interval(bmc: Bmc) -> None:
    """Give the backend the interval a client set (it persists; the backend is rebuilt)."""
    seconds = bmc.state.extra.get(CYCLE_INTERVAL_KEY)
    if seconds is not None and hasattr(bmc.power, "cycle_interval"):
        bmc.power.cycle_interval = float(seconds)


@table.command(NetFn.CHASSIS, 0x06, Privilege.OPERATOR, length=1)
def set_power_restore_policy(ctx: Context, data: bytes) -> bytes:
    policy = data[0] & 0x07
    if policy > RESTORE_POLICY_NO_CHANGE:
        raise CommandError(Cc.INVALID_DATA_FIELD, reason=f"restore policy {policy}")
    if policy != RESTORE_POLICY_NO_CHANGE:
        ctx.bmc.state.restore_policy = policy
        ctx.bmc.save()
    return bytes([RESTORE_POLICIES_SUPPORTED])


@table.command(NetFn.CHASSIS, 0x07, Privilege.USER, length=0)
def get_system_restart_cause(ctx: Context, data: bytes) -> bytes:
    state = ctx.bmc.state
    channel = int(state.extra.get(boot.RESTART_CHANNEL_KEY, 0)) & 0x0F
    return bytes([state.restart_cause & 0x0F, channel])


@table.command(NetFn.CHASSIS, 0x0F, Privilege.USER, length=0)
def get_poh_counter(ctx: Context, data: bytes) -> bytes:
    counts = boot.power_on_minutes(ctx.bmc) // POH_MINUTES_PER_COUNT
    return bytes([POH_MINUTES_PER_COUNT]) + (counts & 0xFFFFFFFF).to_bytes(4, "little")


# ----------------------------------------------------------------- identify
@table.command(NetFn.CHASSIS, 0x04, Privilege.OPERATOR, length=(0, 2))
def chassis_identify(ctx: Context, data: bytes) -> bytes:
    interval = data[0] if data else DEFAULT_IDENTIFY_SECONDS
    force = len(data) > 1 and bool(data[1] & 0x01)  # overrides the interval
    volatile = _volatile(ctx.bmc)
    volatile.identify_forever = force
    volatile.identify_until = ctx.now + interval
    if force:
        log.info("%s: chassis identify on", ctx.bmc.name)
    elif interval:
        log.info("%s: chassis identify on for %d s", ctx.bmc.name, interval)
    else:
        log.info("%s: chassis identify off", ctx.bmc.name)
    return b""


def _identify_state(bmc: Bmc, now: float) -> int:
    """Chassis Status byte 3 bits 5:4: off, timed on, or indefinitely on."""
    volatile = _volatile(bmc)
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
        boot.write_parameter(ctx.bmc.state, param, value)
        boot.mark_invalid(ctx.bmc.state, param, invalid=bool(data[0] & 0x80))
        ctx.bmc.save()
    log.debug("%s: boot option %d set to %s", ctx.bmc.name, param, value.hex())
    return b""


@table.command(NetFn.CHASSIS, 0x09, Privilege.OPERATOR, length=3)
def get_system_boot_options(ctx: Context, data: bytes) -> bytes:
    param = data[0] & 0x7F
    if param == boot.SET_IN_PROGRESS:
        value = bytes([_current_set_in_progress(ctx.bmc, ctx.now)])
    else:
        # Byte 2 is the set selector; the mailbox (parameter 7) uses it as the block number.
        value = boot.read_parameter(ctx.bmc.state, param, block=data[1])
    invalid = 0x80 if boot.is_marked_invalid(ctx.bmc.state, param) else 0x00
    return bytes([BOOT_PARAMETER_VERSION, param | invalid]) + value


def _set_in_progress(ctx: Context, value: bytes) -> None:
    """Parameter 0: 0 set complete, 1 set in progress, 2 commit write. Not persisted."""
    if len(value) != 1:
        raise CommandError(Cc.REQUEST_DATA_LENGTH_INVALID, reason="set in progress length")
    request = value[0] & 0x03
    if request == 0x03:
        raise CommandError(Cc.INVALID_DATA_FIELD, reason="set in progress value 3 is reserved")
    if request == 0x01 and _current_set_in_progress(ctx.bmc, ctx.now) != 0x00:
        # Someone else has claimed the parameters (IPMI 2.0 table 28-12, cc 81h).
        raise CommandError(boot.CC_SET_IN_PROGRESS_CLAIMED, reason="set already in progress")
    volatile = _volatile(ctx.bmc)
    volatile.set_in_progress = request
    volatile.set_in_progress_at = ctx.now


def _current_set_in_progress(bmc: Bmc, now: float) -> int:
    volatile = _volatile(bmc)
    if volatile.set_in_progress and now - volatile.set_in_progress_at > SET_IN_PROGRESS_LAPSE:
        volatile.set_in_progress = 0
    return volatile.set_in_progress
