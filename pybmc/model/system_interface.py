"""The host's system interface state: message flags, receive queue and event buffer (§22.1-22.8).

The Linux ipmi_si driver reads Get Message Flags whenever the BMC raises ATN, then fetches what
the flags announce: Get Message for the receive queue, Read Event Message Buffer for an event,
and Clear Message Flags for the watchdog pre-timeout. `SystemInterface` holds that state for one
BMC; the in-band link (pybmc/edge/inband.py) listens to it to raise and drop ATN.
"""

from __future__ import annotations

import logging
from collections import deque

from pybmc.model.listeners import Listener, Listeners
from pybmc.model.state import State

log = logging.getLogger("pybmc.sysif")

# Get Message Flags bits (IPMI 2.0 table 22-?, "Get Message Flags response").
RECEIVE_MESSAGE_AVAILABLE = 0x01
EVENT_BUFFER_FULL = 0x02
WATCHDOG_PRETIMEOUT = 0x08
OEM_FLAGS = 0xE0

# BMC Global Enables bits (IPMI 2.0 section 22.1).
ENABLE_RECEIVE_INTERRUPT = 0x01
ENABLE_EVENT_BUFFER_INTERRUPT = 0x02
ENABLE_EVENT_BUFFER = 0x04

# Completion codes specific to these commands.
DATA_NOT_AVAILABLE = 0x80  # Get Message / Read Event Message Buffer: queue or buffer empty
NAK_ON_WRITE = 0x83  # Send Message: nobody acknowledged the IPMB write

IPMB_CHANNEL = 0
RECEIVE_QUEUE_DEPTH = 16  # real BMCs keep a handful; the oldest message goes when it is full
EVENT_MESSAGE_LENGTH = 16


class SystemInterface:
    """Message flags, receive queue and event buffer of one BMC's system interface."""

    def __init__(self, name: str, state: State) -> None:
        self.name = name
        self.state = state
        self._messages: deque[bytes] | None = None  # made on first use (~0.8 KB per BMC)
        self.event: bytes | None = None
        self.watchdog_pretimeout = False
        self.oem_flags = 0
        self._listeners = Listeners(log, "system interface")

    @property
    def messages(self) -> deque[bytes]:
        """The receive message queue."""
        if self._messages is None:
            self._messages = deque(maxlen=RECEIVE_QUEUE_DEPTH)
        return self._messages

    # --------------------------------------------------------------- what the host sees
    @property
    def flags(self) -> int:
        """The Get Message Flags byte."""
        flags = self.oem_flags & OEM_FLAGS
        if self._messages:
            flags |= RECEIVE_MESSAGE_AVAILABLE
        if self.event is not None:
            flags |= EVENT_BUFFER_FULL
        if self.watchdog_pretimeout:
            flags |= WATCHDOG_PRETIMEOUT
        return flags

    def attention(self) -> tuple[bool, bool]:
        """(raise ATN, with an interrupt) as the flags and Global Enables say."""
        flags = self.flags
        enables = self.state.global_enables
        irq = bool(
            (flags & (RECEIVE_MESSAGE_AVAILABLE | WATCHDOG_PRETIMEOUT)
             and enables & ENABLE_RECEIVE_INTERRUPT)
            or (flags & EVENT_BUFFER_FULL and enables & ENABLE_EVENT_BUFFER_INTERRUPT)
        )
        return flags != 0, irq

    # --------------------------------------------------------------- changes
    def add_listener(self, listener: Listener) -> None:
        """`listener()` runs after every change of the flags (the in-band link re-sends ATN)."""
        self._listeners.add(listener)

    def remove_listener(self, listener: Listener) -> None:
        self._listeners.remove(listener)

    def _changed(self) -> None:
        self._listeners.notify(self.name)

    def queue_message(self, channel_info: int, message: bytes) -> None:
        """Add a message for Get Message: `channel_info` is its first response byte."""
        if len(self.messages) == self.messages.maxlen:
            log.warning("%s: receive message queue full; oldest message dropped", self.name)
        self.messages.append(bytes([channel_info & 0xFF]) + message)
        self._changed()

    def post_event(self, event: bytes) -> bool:
        """Offer a 16-byte event message; kept only if the buffer is enabled and empty."""
        if len(event) != EVENT_MESSAGE_LENGTH:
            raise ValueError(f"an event message is 16 bytes, not {len(event)}")
        if not self.state.global_enables & ENABLE_EVENT_BUFFER or self.event is not None:
            return False
        self.event = bytes(event)
        self._changed()
        return True

    def set_watchdog_pretimeout(self) -> None:
        self.watchdog_pretimeout = True
        self._changed()

    def clear(self, mask: int) -> None:
        """Clear Message Flags: bit 0 flushes the queue, bit 1 the event buffer, ..."""
        if mask & RECEIVE_MESSAGE_AVAILABLE:
            self.messages.clear()
        if mask & EVENT_BUFFER_FULL:
            self.event = None
        if mask & WATCHDOG_PRETIMEOUT:
            self.watchdog_pretimeout = False
        self.oem_flags &= ~mask & 0xFF
        self._changed()

    def take_message(self) -> bytes | None:
        message = self.messages.popleft() if self.messages else None
        self._changed()
        return message

    def take_event(self) -> bytes | None:
        event, self.event = self.event, None
        self._changed()
        return event

    def host_reset(self) -> None:
        """The host was reset: what was waiting for its old OS is of no use to the next one."""
        self.messages.clear()
        self.event = None
        self.watchdog_pretimeout = False
        self.oem_flags = 0
        self._changed()
