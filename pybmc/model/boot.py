"""System boot options, and what the BMC records when its machine powers on, off or boots.

The Set/Get System Boot Options parameters (IPMI 2.0 section 28.12, table 28-14) live as raw
bytes in `state.boot`, keyed by parameter number ("5") or by parameter and block ("7.0"), so
every value a client writes reads back byte-for-byte and survives a restart.

The boot flags (parameter 5) are applied at the next boot event the power backend reports:
power-on, reset, power cycle and guest-initiated reboots alike. A one-time override (valid bit
set, persistent bit clear) is cleared when it is used, unless parameter 3 says not to for the
kind of restart that is happening.

Real BMCs also clear the valid bit 60 s after it was set unless a Chassis Control command
arrives (parameter 3 bit 3 turns that off). pybmc does not: on a virtual cluster the boot that
should use the override may be minutes away (a VM that is still being created, a slow
`rsetboot` then `rpower` script), and the timer only ever loses an override the user asked for.
Parameter 3 is still stored and read back, so clients that set bit 3 see what they wrote.

Restart causes (Get System Restart Cause, table 28-11) come from the free-text `cause` of the
backend's PowerEvent. Backends should use these words so the right cause is recorded:
"chassis control" / "power cycle" / "hard reset" (IPMI Chassis Control), "guest" / "reboot" /
"soft reset" (the guest restarted itself), "watchdog", "power button", "reset button",
"power restore" (came up by the restore policy), "wake" / "rtc", "pef".
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING

from pybmc.model.power import BootChoice, PowerEvent
from pybmc.wire.codes import Cc
from pybmc.wire.errors import CommandError

if TYPE_CHECKING:
    from pybmc.model.state import State

log = logging.getLogger("pybmc.boot")

# Parameter selectors (table 28-14).
SET_IN_PROGRESS = 0
SERVICE_PARTITION_SELECTOR = 1
SERVICE_PARTITION_SCAN = 2
VALID_BIT_CLEARING = 3
BOOT_INFO_ACK = 4
BOOT_FLAGS = 5
BOOT_INITIATOR_INFO = 6
BOOT_INITIATOR_MAILBOX = 7

# Completion codes specific to Set/Get System Boot Options.
CC_PARAMETER_NOT_SUPPORTED = 0x80
CC_SET_IN_PROGRESS_CLAIMED = 0x81

# Stored parameters and their data length; parameter 0 is volatile (chassis.py keeps it).
PARAMETER_LENGTHS = {
    SERVICE_PARTITION_SELECTOR: 1,
    SERVICE_PARTITION_SCAN: 1,
    VALID_BIT_CLEARING: 1,
    BOOT_INFO_ACK: 2,
    BOOT_FLAGS: 5,
    BOOT_INITIATOR_INFO: 9,
}
MAILBOX_BLOCK_SIZE = 16
MAILBOX_BLOCKS = 16  # the spec asks for at least 5 (80 bytes)

# Boot flags, data byte 1.
FLAG_VALID = 0x80
FLAG_PERSISTENT = 0x40
FLAG_EFI = 0x20
# Boot flags, data byte 2: the boot device selector.
DEVICE_MASK = 0x3C
DEVICE_SHIFT = 2
DEVICE_BY_SELECTOR = {
    0x1: "pxe",
    0x2: "disk",
    0x3: "disk",  # hard drive, safe mode
    0x4: "disk",  # diagnostic partition
    0x5: "cdrom",
    0x6: "bios",  # BIOS setup
    0x7: "floppy",  # remote floppy / primary removable media
    0x8: "cdrom",  # remote CD/DVD
    0x9: "cdrom",  # primary remote media: a VM's virtual media is a CD image
    0xB: "disk",  # remote hard drive
    0xF: "floppy",  # floppy / primary removable media
}

# Boot info acknowledge (parameter 4, data byte 2): a bit reads 0 once that party has handled
# the boot info; bits 7:5 are reserved.
ACK_BIOS_POST = 0x01
ACK_MASK = 0x1F

# Key in state.boot listing the parameters a client marked invalid/locked (request bit 7).
INVALID_KEY = "invalid"
# Keys in state.boot for UEFI HTTP boot, which IPMI cannot name: the boot flags say PXE with
# the EFI bit, and UEFI_HTTP_KEY (present) says that PXE+EFI was written as Redfish's
# UefiHttp. Any IPMI write of the boot flags drops it (IPMI's view replaces it);
# HTTP_BOOT_URI_KEY is Redfish's Boot.HttpBootUri (UTF-8), kept until Redfish clears it.
UEFI_HTTP_KEY = "uefi_http"
HTTP_BOOT_URI_KEY = "http_boot_uri"


class RestartCause(IntEnum):
    """Get System Restart Cause, byte 1 bits 3:0 (IPMI 2.0 table 28-11)."""

    UNKNOWN = 0x0
    CHASSIS_CONTROL = 0x1
    RESET_BUTTON = 0x2
    POWER_BUTTON = 0x3
    WATCHDOG = 0x4
    OEM = 0x5
    RESTORE_ALWAYS_ON = 0x6
    RESTORE_PREVIOUS = 0x7
    PEF_RESET = 0x8
    PEF_POWER_CYCLE = 0x9
    SOFT_RESET = 0xA
    RTC_WAKEUP = 0xB


# Parameter 3: the bit that says "don't clear the valid bit" for each kind of restart.
# Restarts not listed here (chassis control, power restore, unknown) always clear it.
_KEEP_VALID_BIT = {
    RestartCause.POWER_BUTTON: 0x01,
    RestartCause.RTC_WAKEUP: 0x01,
    RestartCause.RESET_BUTTON: 0x02,
    RestartCause.SOFT_RESET: 0x02,
    RestartCause.WATCHDOG: 0x04,
    RestartCause.PEF_RESET: 0x10,
    RestartCause.PEF_POWER_CYCLE: 0x10,
}

# Cause words, most specific first ("watchdog power cycle" is the watchdog's doing).
_CAUSE_WORDS: tuple[tuple[str, RestartCause], ...] = (
    ("watchdog", RestartCause.WATCHDOG),
    ("pef", RestartCause.PEF_RESET),
    ("reset button", RestartCause.RESET_BUTTON),
    ("power button", RestartCause.POWER_BUTTON),
    ("button", RestartCause.POWER_BUTTON),
    ("restore", RestartCause.RESTORE_PREVIOUS),
    ("wake", RestartCause.RTC_WAKEUP),
    ("rtc", RestartCause.RTC_WAKEUP),
    ("guest", RestartCause.SOFT_RESET),
    ("reboot", RestartCause.SOFT_RESET),
    ("soft reset", RestartCause.SOFT_RESET),
    ("chassis control", RestartCause.CHASSIS_CONTROL),
    ("power cycle", RestartCause.CHASSIS_CONTROL),
    ("hard reset", RestartCause.CHASSIS_CONTROL),
)


def restart_cause_for(cause: str, restore_policy: int) -> RestartCause:
    """Classify a PowerEvent cause as a restart cause."""
    text = cause.lower()
    for word, restart in _CAUSE_WORDS:
        if word in text:
            if restart is RestartCause.PEF_RESET and "cycle" in text:
                return RestartCause.PEF_POWER_CYCLE
            if restart is RestartCause.RESTORE_PREVIOUS and restore_policy == 2:
                return RestartCause.RESTORE_ALWAYS_ON
            return restart
    return RestartCause.UNKNOWN


# ----------------------------------------------------------------- parameter storage
def mailbox_key(block: int) -> str:
    return f"{BOOT_INITIATOR_MAILBOX}.{block}"


def read_parameter(state: State, param: int, block: int = 0) -> bytes:
    """The stored data of a parameter (1-7); zeros until a client writes it."""
    if param == BOOT_INITIATOR_MAILBOX:
        if block >= MAILBOX_BLOCKS:
            raise CommandError(Cc.PARAMETER_OUT_OF_RANGE, reason=f"no mailbox block {block}")
        return bytes([block]) + _stored(state, mailbox_key(block), MAILBOX_BLOCK_SIZE)
    length = PARAMETER_LENGTHS.get(param)
    if length is None:
        raise CommandError(CC_PARAMETER_NOT_SUPPORTED, reason=f"parameter {param}")
    return _stored(state, str(param), length)


def _stored(state: State, key: str, length: int) -> bytes:
    # A hand-edited state file with a wrong length must not break the next boot.
    value = state.boot.get(key)
    return value if value is not None and len(value) == length else bytes(length)


def write_parameter(state: State, param: int, data: bytes) -> None:
    """Store a parameter (1-7) from Set System Boot Options data; raises CommandError."""
    if param == BOOT_INITIATOR_MAILBOX:
        _write_mailbox_block(state, data)
        return
    length = PARAMETER_LENGTHS.get(param)
    if length is None:
        raise CommandError(CC_PARAMETER_NOT_SUPPORTED, reason=f"parameter {param}")
    if len(data) != length:
        raise CommandError(Cc.REQUEST_DATA_LENGTH_INVALID,
                           reason=f"parameter {param} takes {length} bytes, got {len(data)}")
    if param == BOOT_INFO_ACK:
        data = _merged_ack(state, write_mask=data[0], value=data[1])
    if param == BOOT_FLAGS:
        state.boot.pop(UEFI_HTTP_KEY, None)
    state.boot[str(param)] = bytes(data)


def _write_mailbox_block(state: State, data: bytes) -> None:
    if not 1 <= len(data) <= 1 + MAILBOX_BLOCK_SIZE:
        raise CommandError(Cc.REQUEST_DATA_LENGTH_INVALID, reason="mailbox block length")
    block = data[0]
    if block >= MAILBOX_BLOCKS:
        raise CommandError(Cc.PARAMETER_OUT_OF_RANGE, reason=f"no mailbox block {block}")
    # A short write (ipmitool sends only the bytes it has) is the start of the block.
    state.boot[mailbox_key(block)] = data[1:].ljust(MAILBOX_BLOCK_SIZE, b"\x00")


def _merged_ack(state: State, write_mask: int, value: int) -> bytes:
    """Parameter 4 writes only the bits its mask enables; the mask itself reads back as 0."""
    current = read_parameter(state, BOOT_INFO_ACK)[1]
    merged = ((current & ~write_mask) | (value & write_mask)) & ACK_MASK
    return bytes([0x00, merged])


def is_marked_invalid(state: State, param: int) -> bool:
    return param in state.boot.get(INVALID_KEY, b"")


def mark_invalid(state: State, param: int, invalid: bool) -> None:
    """Remember request bit 7 ("mark parameter invalid/locked"); Get reports it back."""
    marked = set(state.boot.get(INVALID_KEY, b""))
    if invalid:
        marked.add(param)
    else:
        marked.discard(param)
    if marked:
        state.boot[INVALID_KEY] = bytes(sorted(marked))
    else:
        state.boot.pop(INVALID_KEY, None)


# ----------------------------------------------------------------- boot override
# The selector each front writes for a device (the first one DEVICE_BY_SELECTOR maps to it).
SELECTOR_BY_DEVICE = {"default": 0x0, "pxe": 0x1, "disk": 0x2, "cdrom": 0x5, "bios": 0x6,
                      "floppy": 0xF}


@dataclass(frozen=True)
class BootOverride:
    """The boot flags (parameter 5) as an override: which device, once or always, EFI or not."""

    device: str  # a SELECTOR_BY_DEVICE key, or "http" (UEFI HTTP boot: PXE + EFI on IPMI)
    enabled: bool
    persistent: bool
    efi: bool


def boot_override(state: State) -> BootOverride:
    """The override parameter 5 holds, as IPMI clients wrote it (or Redfish's UefiHttp)."""
    flags = read_parameter(state, BOOT_FLAGS)
    device = device_name(flags)
    if device == "pxe" and flags[0] & FLAG_EFI and UEFI_HTTP_KEY in state.boot:
        device = "http"
    return BootOverride(device, bool(flags[0] & FLAG_VALID),
                        bool(flags[0] & FLAG_PERSISTENT), bool(flags[0] & FLAG_EFI))


def http_boot_uri(state: State) -> str | None:
    """Redfish's Boot.HttpBootUri, or None when none is set (the URI then comes from DHCP)."""
    value = state.boot.get(HTTP_BOOT_URI_KEY)
    return value.decode("utf-8", "replace") if value else None


def set_http_boot_uri(state: State, uri: str | None) -> None:
    if uri:
        state.boot[HTTP_BOOT_URI_KEY] = uri.encode()
    else:
        state.boot.pop(HTTP_BOOT_URI_KEY, None)


def set_boot_override(state: State, override: BootOverride) -> None:
    """Write parameter 5 as Set System Boot Options would; bytes 3-5 are kept.

    Device "http" is written as PXE with the EFI bit (the nearest IPMI has) and remembered
    as UEFI HTTP boot until IPMI writes the boot flags again."""
    http_boot = override.device == "http"
    if http_boot:
        override = BootOverride("pxe", override.enabled, override.persistent, efi=True)
    flags = bytearray(read_parameter(state, BOOT_FLAGS))
    byte1 = FLAG_EFI if override.efi else 0
    if override.enabled:
        byte1 |= FLAG_VALID | (FLAG_PERSISTENT if override.persistent else 0)
    flags[0] = byte1
    selector = SELECTOR_BY_DEVICE[override.device]
    flags[1] = (flags[1] & ~DEVICE_MASK & 0xFF) | (selector << DEVICE_SHIFT)
    write_parameter(state, BOOT_FLAGS, bytes(flags))
    if http_boot:
        state.boot[UEFI_HTTP_KEY] = b"\x01"
    log.info("boot override set to %s (enabled %s, persistent %s, efi %s)",
             "http" if http_boot else override.device, override.enabled, override.persistent,
             override.efi)


# ----------------------------------------------------------------- the boot itself
def device_name(flags: bytes) -> str:
    """The device a boot flags parameter (5 bytes) selects, as a BootChoice device name."""
    selector = (flags[1] & DEVICE_MASK) >> DEVICE_SHIFT
    return DEVICE_BY_SELECTOR.get(selector, "default")


def take_boot_device(state: State, name: str) -> BootChoice:
    """The device for the boot that is starting now; uses up a one-time override.

    Called by the core at every boot event, after `record_power_event` has recorded the
    restart cause of this boot (parameter 3 is honoured per restart cause); the core saves.
    """
    flags = bytearray(read_parameter(state, BOOT_FLAGS))
    if not flags[0] & FLAG_VALID or is_marked_invalid(state, BOOT_FLAGS):
        return BootChoice()
    choice = BootChoice(device_name(flags), efi=bool(flags[0] & FLAG_EFI))
    if choice.device == "pxe" and choice.efi and UEFI_HTTP_KEY in state.boot:
        choice = BootChoice("pxe", efi=True, http=True, http_uri=http_boot_uri(state))
    _acknowledge_by_bios(state)
    if flags[0] & FLAG_PERSISTENT:
        choice = dataclasses.replace(choice, persistent=True)
    elif not _keeps_valid_bit(state):
        flags[0] &= ~FLAG_VALID & 0xFF
        state.boot[str(BOOT_FLAGS)] = bytes(flags)
        log.info("%s: one-time boot override (%s) used and cleared", name, choice.device)
    return choice


def _acknowledge_by_bios(state: State) -> None:
    ack = read_parameter(state, BOOT_INFO_ACK)
    state.boot[str(BOOT_INFO_ACK)] = bytes([ack[0], ack[1] & ~ACK_BIOS_POST & 0xFF])


def _keeps_valid_bit(state: State) -> bool:
    """Parameter 3 asks to keep the valid bit for the kind of restart now happening."""
    clearing = read_parameter(state, VALID_BIT_CLEARING)[0]
    return bool(clearing & _KEEP_VALID_BIT.get(state.restart_cause, 0))


# ----------------------------------------------------------------- power events
# state.extra keys
LAST_POWER_EVENT_KEY = "last_power_event"  # Chassis Status byte 2
RESTART_CHANNEL_KEY = "restart_channel"  # Get System Restart Cause byte 2
CONTROL_CHANNEL_KEY = "control_channel"  # channel of the last accepted Chassis Control
POH_ON_SINCE_KEY = "poh_on_since"  # wall-clock time of the current power-on, or absent
POH_CARRY_KEY = "poh_carry_seconds"  # seconds beyond state.poh_minutes_base
LAST_EVENT_POWER_ON_BY_IPMI = 0x10


def record_power_event(state: State, event: PowerEvent, wall: float) -> None:
    """Keep the chassis records a real BMC keeps: restart cause, last power event, POH."""
    cause = restart_cause_for(event.cause, state.restore_policy)
    if event.kind == "on":
        _discard_power_on_clock(state)
        state.extra[POH_ON_SINCE_KEY] = wall
        by_ipmi = cause is RestartCause.CHASSIS_CONTROL
        state.extra[LAST_POWER_EVENT_KEY] = LAST_EVENT_POWER_ON_BY_IPMI if by_ipmi else 0
    elif event.kind == "off":
        _bank_power_on_time(state, wall)
    elif event.kind == "boot":
        state.restart_cause = int(cause)
        channel = state.extra.get(CONTROL_CHANNEL_KEY, 0)
        state.extra[RESTART_CHANNEL_KEY] = channel if cause is RestartCause.CHASSIS_CONTROL else 0


def _bank_power_on_time(state: State, wall: float) -> None:
    """Add the power-on period that just ended to the persisted total."""
    since = state.extra.pop(POH_ON_SINCE_KEY, None)
    if since is None:
        return
    total = state.poh_minutes_base * 60 + state.extra.get(POH_CARRY_KEY, 0.0)
    total += max(0.0, wall - since)
    minutes, carry = divmod(total, 60)
    state.poh_minutes_base = int(minutes)
    state.extra[POH_CARRY_KEY] = carry


def _discard_power_on_clock(state: State) -> None:
    # A clock still running when the machine was seen off missed its "off" event (the BMC
    # restarted into "always off"): how long it ran is unknown, so it is not counted.
    state.extra.pop(POH_ON_SINCE_KEY, None)


def power_on_minutes(state: State, powered: bool, wall: float) -> int:
    """Total minutes the machine has been on, across power cycles and BMC restarts."""
    since = state.extra.get(POH_ON_SINCE_KEY)
    running = 0.0
    if powered:
        if since is None:
            # On since before this BMC saw a power-on (initial_state = "on"): count from now.
            state.extra[POH_ON_SINCE_KEY] = since = wall
        running = max(0.0, wall - since)
    total = state.poh_minutes_base * 60 + state.extra.get(POH_CARRY_KEY, 0.0) + running
    return int(total // 60)
