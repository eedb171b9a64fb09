"""PEF configuration parameters (IPMI 2.0 section 30.3, table 30-6): stored and read back.

Every value clients configure (xCAT's `rspconfig alert` sets alert policy entry 1, parameter
9; FreeIPMI's ipmi-pef-config every section, alert strings included) reads back and survives
a restart (kept in the state's `extra["pef"]`, as hex). The event filters are run by
pybmc.model.platform.pef_filter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pybmc.wire.codes import Cc
from pybmc.wire.errors import CommandError

if TYPE_CHECKING:
    from pybmc.model.state import State

PEF_VERSION = 0x51
PARAMETER_REVISION = 0x11
REVISION_ONLY = 0x80
EVENT_FILTERS = 8
ALERT_POLICIES = 8
# Get PEF Capabilities action support: alert, power down, reset, power cycle, diagnostic
# interrupt (pef_filter carries them out; no OEM action).
ACTION_SUPPORT = 0x2F

# Completion codes of Get/Set PEF Configuration Parameters.
CC_PARAMETER_NOT_SUPPORTED = 0x80
CC_SET_IN_PROGRESS = 0x81
CC_READ_ONLY = 0x82

SET_IN_PROGRESS = 0
PEF_CONTROL = 1
ACTION_GLOBAL_CONTROL = 2
STARTUP_DELAY = 3
ALERT_STARTUP_DELAY = 4
FILTER_COUNT = 5
FILTER_TABLE = 6
FILTER_DATA_1 = 7
POLICY_COUNT = 8
POLICY_TABLE = 9
SYSTEM_GUID = 10
ALERT_STRING_COUNT = 11
ALERT_STRING_KEYS = 12
ALERT_STRINGS = 13

ALERT_STRING_SETS = 4  # strings 1..4, plus the volatile string 0
ALERT_STRING_BLOCK = 16  # parameter 13 carries a string 16 bytes at a time
ALERT_STRING_BLOCKS = 4  # up to 64 bytes a string (63 and the NUL)
# Alert string keys and strings have a set selector 0 too: the volatile string.
ZERO_SELECTOR = (ALERT_STRING_KEYS, ALERT_STRINGS)


@dataclass(frozen=True)
class Parameter:
    size: int  # data bytes, without the set selector
    sets: int = 0  # number of set selectors 1..sets (0: not a table)
    read_only: bool = False
    default: bytes = b""

    def initial(self) -> bytes:
        return self.default or bytes(self.size)


PARAMETERS: dict[int, Parameter] = {
    SET_IN_PROGRESS: Parameter(1),
    PEF_CONTROL: Parameter(1, default=b"\x01"),  # PEF enabled
    ACTION_GLOBAL_CONTROL: Parameter(1, default=b"\x01"),  # alert action enabled
    STARTUP_DELAY: Parameter(1, default=b"\x3c"),
    ALERT_STARTUP_DELAY: Parameter(1, default=b"\x3c"),
    FILTER_COUNT: Parameter(1, read_only=True, default=bytes([EVENT_FILTERS])),
    FILTER_TABLE: Parameter(20, sets=EVENT_FILTERS),
    FILTER_DATA_1: Parameter(1, sets=EVENT_FILTERS),  # byte 1 of a filter table entry
    POLICY_COUNT: Parameter(1, read_only=True, default=bytes([ALERT_POLICIES])),
    POLICY_TABLE: Parameter(3, sets=ALERT_POLICIES),
    SYSTEM_GUID: Parameter(17),
    ALERT_STRING_COUNT: Parameter(1, read_only=True, default=bytes([ALERT_STRING_SETS])),
    ALERT_STRING_KEYS: Parameter(2, sets=ALERT_STRING_SETS),  # event filter, string set
    ALERT_STRINGS: Parameter(ALERT_STRING_BLOCK * ALERT_STRING_BLOCKS, sets=ALERT_STRING_SETS),
}


def capabilities() -> bytes:
    """Get PEF Capabilities response data."""
    return bytes([PEF_VERSION, ACTION_SUPPORT, EVENT_FILTERS])


class PefConfig:
    def __init__(self, state: State) -> None:
        self.values: dict[str, str] = state.extra.setdefault("pef", {})
        self.in_progress = 0  # volatile, as set-in-progress is on every BMC

    def _key(self, parameter: int, selector: int) -> str:
        # Filter data 1 is byte 1 of the filter table entry: one stored value, two views.
        if parameter == FILTER_DATA_1:
            parameter = FILTER_TABLE
        return f"{parameter}.{selector}" if PARAMETERS[parameter].sets else str(parameter)

    def _stored(self, parameter: int, selector: int) -> bytes:
        base = FILTER_TABLE if parameter == FILTER_DATA_1 else parameter
        text = self.values.get(self._key(parameter, selector))
        return bytes.fromhex(text) if text else PARAMETERS[base].initial()

    def get(self, parameter: int, selector: int, block: int = 0) -> bytes:
        """Get PEF Configuration Parameters response data (after the completion code)."""
        revision_only = parameter & REVISION_ONLY
        parameter &= 0x7F
        if parameter not in PARAMETERS:
            raise CommandError(CC_PARAMETER_NOT_SUPPORTED, reason=f"PEF parameter {parameter}")
        if revision_only:
            return bytes([PARAMETER_REVISION])
        spec = PARAMETERS[parameter]
        if parameter == SET_IN_PROGRESS:
            return bytes([PARAMETER_REVISION, self.in_progress])
        if not spec.sets:
            return bytes([PARAMETER_REVISION]) + self._stored(parameter, 0)
        self._check_selector(spec, selector, parameter)
        data = self._stored(parameter, selector)
        if parameter == FILTER_DATA_1:
            data = data[:1]
        if parameter == ALERT_STRINGS:
            start = self._block_start(block)
            return bytes([PARAMETER_REVISION, selector, block]) + \
                data[start:start + ALERT_STRING_BLOCK]
        return bytes([PARAMETER_REVISION, selector]) + data

    def set(self, parameter: int, data: bytes) -> bool:
        """Set PEF Configuration Parameters; True when persisted values changed (save them)."""
        parameter &= 0x7F
        spec = PARAMETERS.get(parameter)
        if spec is None:
            raise CommandError(CC_PARAMETER_NOT_SUPPORTED, reason=f"PEF parameter {parameter}")
        if spec.read_only:
            raise CommandError(CC_READ_ONLY, reason=f"PEF parameter {parameter} is read-only")
        if parameter == ALERT_STRINGS:
            return self._set_string_block(data)
        if len(data) != spec.size + (1 if spec.sets else 0):
            raise CommandError(Cc.REQUEST_DATA_LENGTH_INVALID,
                               reason=f"PEF parameter {parameter}: {len(data)} bytes")
        if parameter == SET_IN_PROGRESS:
            return self._set_in_progress(data[0])
        if not spec.sets:
            self.values[self._key(parameter, 0)] = data.hex()
            return True
        selector = data[0] & 0x7F
        self._check_selector(spec, selector, parameter)
        value = data[1:]
        if parameter == FILTER_DATA_1:
            value = value + self._stored(FILTER_TABLE, selector)[1:]
        self.values[self._key(parameter, selector)] = value.hex()
        return True

    def _set_string_block(self, data: bytes) -> bool:
        """Parameter 13: set selector, block selector (1-based), up to 16 bytes of string."""
        if not 3 <= len(data) <= 2 + ALERT_STRING_BLOCK:
            raise CommandError(Cc.REQUEST_DATA_LENGTH_INVALID,
                               reason=f"alert string block: {len(data)} bytes")
        selector, block = data[0] & 0x7F, data[1]
        self._check_selector(PARAMETERS[ALERT_STRINGS], selector, ALERT_STRINGS)
        start = self._block_start(block)
        text = bytearray(self._stored(ALERT_STRINGS, selector))
        # A short block is the string's end: the rest of the block reads back as NULs.
        text[start:start + ALERT_STRING_BLOCK] = data[2:].ljust(ALERT_STRING_BLOCK, b"\0")
        self.values[self._key(ALERT_STRINGS, selector)] = bytes(text).hex()
        return True

    @staticmethod
    def _block_start(block: int) -> int:
        if not 1 <= block <= ALERT_STRING_BLOCKS:
            raise CommandError(Cc.PARAMETER_OUT_OF_RANGE, reason=f"block selector {block}")
        return (block - 1) * ALERT_STRING_BLOCK

    def alert_string(self, selector: int) -> bytes:
        """Alert string `selector` up to its NUL (what a PET or page would carry)."""
        return self._stored(ALERT_STRINGS, selector).split(b"\0", 1)[0]

    def _set_in_progress(self, value: int) -> bool:
        state = value & 0x03
        if state == 3:
            raise CommandError(Cc.INVALID_DATA_FIELD, reason="set in progress 3 is reserved")
        if state == 1 and self.in_progress == 1:
            raise CommandError(CC_SET_IN_PROGRESS, reason="PEF set already in progress")
        # Values apply at once, so "commit write" (2) ends the set like "set complete" (0).
        self.in_progress = 1 if state == 1 else 0
        return False

    @staticmethod
    def _check_selector(spec: Parameter, selector: int, parameter: int) -> None:
        lowest = 0 if parameter in ZERO_SELECTOR else 1
        if not lowest <= selector <= spec.sets:
            raise CommandError(Cc.PARAMETER_OUT_OF_RANGE, reason=f"set selector {selector}")
