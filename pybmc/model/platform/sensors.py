"""Sensors whose readings follow the machine, computed from time (no background task).

Every analog sensor has a load L(t) in 0..1: it rises towards 1 while the machine is on and falls
back towards 0 while it is off, exponentially with the sensor's time constant. Temperatures are
rest + L * (nominal - rest); fans and power idle + L * (nominal - idle) while on. A little noise,
the same within one second, is added. Threshold crossings become events (with hysteresis) when a
reading is taken: on Get Sensor Reading, or from Platform.tick(now).
"""

from __future__ import annotations

import hashlib
import math
import struct
from dataclasses import dataclass

from pybmc.config.platform import THRESHOLD_KEYS, UPPER_THRESHOLDS, SensorSpec
from pybmc.model.platform.sdr import SensorRecordFields, compact_sensor_record, full_sensor_record
from pybmc.wire.codes import Cc
from pybmc.wire.errors import CommandError
from pybmc.wire.linear import Linear

# Get Sensor Reading byte 2.
# Discrete sensors whose states the platform computes from the machine at each reading.
MACHINE_STATE_BEHAVIOURS = frozenset({"power-unit", "acpi", "event-log"})
EVENTS_ENABLED = 0x80
SCANNING_ENABLED = 0x40
READING_UNAVAILABLE = 0x20
# Byte 4 of a reading: bit 7 is reserved and returned as 1.
STATES_HIGH_RESERVED = 0x80
THRESHOLD_RESERVED = 0xC0

# Generic threshold event offsets (table 42-2): lower thresholds assert "going low", upper ones
# "going high".
THRESHOLD_EVENT_OFFSETS = {"lnc": 0x00, "lc": 0x02, "lnr": 0x04,
                           "unc": 0x07, "uc": 0x09, "unr": 0x0B}
# Bits 12..14 of the assertion (lower) and deassertion (upper) masks: "comparison returned".
READING_MASK_BITS = {"lnc": 12, "lc": 13, "lnr": 14, "unc": 12, "uc": 13, "unr": 14}
THRESHOLD_EVENT_DATA = 0x50  # event data 2 = trigger reading, 3 = trigger threshold
DEFAULT_HYSTERESIS_STEPS = 2


def noise(key: str, tick: int) -> float:
    """A value in -1..1 that depends only on (key, tick): readings repeat within a second."""
    digest = hashlib.blake2b(f"{key}:{tick}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") / 0xFFFFFFFF * 2 - 1


def bitmask(offsets: tuple[int, ...] | list[int] | set[int]) -> int:
    mask = 0
    for offset in offsets:
        mask |= 1 << offset
    return mask


class Load:
    """0 at rest, 1 in steady operation; moves exponentially towards its target."""

    __slots__ = ("since", "start_value", "target", "time_constant")

    def __init__(self, time_constant: float) -> None:
        self.time_constant = time_constant
        self.start_value = 0.0
        self.since = 0.0
        self.target = 0.0

    def start(self, powered: bool, now: float) -> None:
        """The machine's state when the BMC starts: taken as steady, on or off."""
        self.start_value = self.target = 1.0 if powered else 0.0
        self.since = now

    def at(self, now: float) -> float:
        if self.time_constant <= 0:
            return self.target
        elapsed = max(0.0, now - self.since)
        return self.target + (self.start_value - self.target) * math.exp(
            -elapsed / self.time_constant)

    def head_for(self, target: float, now: float) -> None:
        self.start_value = self.at(now)
        self.since = now
        self.target = target


@dataclass(frozen=True)
class Reading:
    raw: int = 0
    available: bool = True
    states: int = 0  # threshold comparison bits 0..5, or discrete states 0..14
    threshold: bool = False  # a threshold sensor's reply has no discrete byte

    def encode(self, enables: int = EVENTS_ENABLED | SCANNING_ENABLED) -> bytes:
        """Get Sensor Reading response data (IPMI 2.0 table 35-15); `enables` is the
        sensor's event messages / scanning bits (Sensor.enable_flags).

        A threshold sensor answers 3 bytes, its comparison byte's reserved bits 7:6 set as
        the spec says; a discrete sensor adds the optional fourth byte (states 8-14, bit 7
        reserved as 1). A fourth byte on a threshold sensor makes ipmitool print an empty
        "Assertion Events" line for it.
        """
        flags = enables & (EVENTS_ENABLED | SCANNING_ENABLED)
        if not self.available:
            flags |= READING_UNAVAILABLE
        raw = self.raw if self.available else 0x00
        states = self.states if self.available else 0
        if self.threshold:
            return bytes([raw, flags, THRESHOLD_RESERVED | (states & 0x3F)])
        return bytes([raw, flags, states & 0xFF, STATES_HIGH_RESERVED | ((states >> 8) & 0x7F)])


@dataclass(frozen=True)
class SensorEvent:
    """One assertion or deassertion, ready to become an SEL record."""

    sensor_type: int
    sensor_number: int
    reading_type: int
    event_data: bytes
    assertion: bool = True


NONE_ASSERTED: frozenset[int] = frozenset()


class Sensor:
    __slots__ = (
        "asserted",
        "assertion_enables",
        "cap",
        "deassertion_enables",
        "enable_flags",
        "hysteresis",
        "linear",
        "load",
        "override",
        "spec",
        "states",
        "thresholds",
    )

    def __init__(self, spec: SensorSpec) -> None:
        self.spec = spec
        self.linear = Linear.for_range(spec.minimum, spec.maximum) if spec.analog else None
        self.load = Load(spec.time_constant)
        self.states = bitmask(spec.states)  # discrete: the asserted states
        self.cap: float | None = None  # a power sensor under an active DCMI power limit
        # Threshold event offsets now asserted; frozen, so that one empty set is every
        # sensor's until an event (a set is ~0.2 KB, seven per BMC).
        self.asserted: frozenset[int] = NONE_ASSERTED
        self.override: float | None = None  # a fixed value instead of the model (.emu, tests)
        self.thresholds = self._initial_thresholds()
        self.hysteresis = self._initial_hysteresis()
        # Set Sensor Event Enable: event messages and scanning on, every event it can make.
        self.enable_flags = EVENTS_ENABLED | SCANNING_ENABLED
        self.assertion_enables, self.deassertion_enables = self.event_masks()

    # ------------------------------------------------------------------ identity
    @property
    def number(self) -> int:
        return self.spec.number

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def analog(self) -> bool:
        return self.linear is not None

    def _initial_thresholds(self) -> dict[str, int]:
        if self.linear is None:
            return {}
        values = self.spec.threshold_values
        return {key: self.linear.to_raw(values[key]) for key in THRESHOLD_KEYS if key in values}

    def _initial_hysteresis(self) -> tuple[int, int]:
        if self.linear is None:
            return (0, 0)
        if self.spec.hysteresis is None:
            return (DEFAULT_HYSTERESIS_STEPS, DEFAULT_HYSTERESIS_STEPS)
        steps = self.linear.to_raw_delta(self.spec.hysteresis)
        return (steps, steps)

    # ------------------------------------------------------------------ SDR
    def record(self, record_id: int) -> bytes:
        if self.linear is None:
            return compact_sensor_record(record_id, self._discrete_fields())
        return full_sensor_record(record_id, self._analog_fields(self.linear))

    def _analog_fields(self, linear: Linear) -> SensorRecordFields:
        spec = self.spec
        assertion = deassertion = readable = 0
        for index, key in enumerate(THRESHOLD_KEYS):
            if key not in self.thresholds:
                continue
            readable |= 1 << index
            event_bit = 1 << THRESHOLD_EVENT_OFFSETS[key]
            assertion |= event_bit
            deassertion |= event_bit
            if key in UPPER_THRESHOLDS:
                deassertion |= 1 << READING_MASK_BITS[key]
            else:
                assertion |= 1 << READING_MASK_BITS[key]
        raw = self.thresholds
        return SensorRecordFields(
            number=spec.number, name=spec.name, sensor_type=spec.sensor_type,
            reading_type=spec.reading_type, entity=spec.entity,
            entity_instance=spec.entity_instance, assertion_mask=assertion,
            deassertion_mask=deassertion, reading_mask=readable | readable << 8,
            unit=spec.unit, linear=linear.encode(), nominal=linear.to_raw(spec.nominal),
            normal_max=raw.get("unc", linear.to_raw(spec.maximum)),
            normal_min=raw.get("lnc", linear.to_raw(spec.minimum)),
            thresholds=(raw.get("unr", 0), raw.get("uc", 0), raw.get("unc", 0),
                        raw.get("lnr", 0), raw.get("lc", 0), raw.get("lnc", 0)),
            hysteresis=self.hysteresis,
        )

    def _discrete_fields(self) -> SensorRecordFields:
        spec = self.spec
        mask = bitmask(spec.offsets)
        return SensorRecordFields(
            number=spec.number, name=spec.name, sensor_type=spec.sensor_type,
            reading_type=spec.reading_type, entity=spec.entity,
            entity_instance=spec.entity_instance, assertion_mask=mask, deassertion_mask=mask,
            reading_mask=mask)

    # ------------------------------------------------------------------ readings
    def value(self, now: float, powered: bool) -> float | None:
        """The analog value now, or None when the reading is unavailable (machine off)."""
        spec = self.spec
        if not powered and spec.when_off == "unavailable":
            return None
        if self.override is not None:
            return self.override
        load = self.load.at(now)
        if spec.behaviour == "thermal":
            base = spec.rest + load * (spec.nominal - spec.rest)
        elif spec.behaviour in ("fan", "power"):
            base = spec.idle + load * (spec.nominal - spec.idle) if powered else spec.rest
        else:  # rail, constant
            base = spec.nominal if powered else spec.rest
        value = base + spec.noise * noise(spec.name, math.floor(now))
        if self.cap is not None and powered:
            # Throttling holds the draw at the limit, but never below the idle power.
            value = min(value, max(self.cap, spec.idle))
        return min(spec.maximum, max(spec.minimum, value))

    def analog_reading(self, now: float, powered: bool) -> Reading:
        assert self.linear is not None
        value = self.value(now, powered)
        if value is None:
            return Reading(available=False, threshold=True)
        raw = self.linear.to_raw(value)
        return Reading(raw=raw, states=self.comparison_status(raw), threshold=True)

    def comparison_status(self, raw: int) -> int:
        """Get Sensor Reading byte 3 for a threshold sensor: at or beyond each threshold."""
        status = 0
        for index, key in enumerate(THRESHOLD_KEYS):
            limit = self.thresholds.get(key)
            if limit is None:
                continue
            beyond = raw >= limit if key in UPPER_THRESHOLDS else raw <= limit
            if beyond:
                status |= 1 << index
        return status

    # ------------------------------------------------------------------ events
    def threshold_events(self, raw: int) -> list[SensorEvent]:
        """Crossings since the last reading; deassertion needs the hysteresis margin."""
        events = []
        positive, negative = self.hysteresis
        for key in THRESHOLD_KEYS:
            limit = self.thresholds.get(key)
            if limit is None:
                continue
            offset = THRESHOLD_EVENT_OFFSETS[key]
            active = offset in self.asserted
            if key in UPPER_THRESHOLDS:
                crossed, cleared = raw >= limit, raw < limit - negative
            else:
                crossed, cleared = raw <= limit, raw > limit + positive
            if not active and crossed:
                self.asserted = self.asserted | {offset}
                events.append(self._threshold_event(offset, raw, limit, assertion=True))
            elif active and cleared:
                self.asserted = self.asserted - {offset}
                events.append(self._threshold_event(offset, raw, limit, assertion=False))
        return events

    def _threshold_event(self, offset: int, raw: int, limit: int,
                         assertion: bool) -> SensorEvent:
        return SensorEvent(self.spec.sensor_type, self.number, self.spec.reading_type,
                           bytes([THRESHOLD_EVENT_DATA | offset, raw, limit]), assertion)

    def rearm(self) -> None:
        self.asserted = NONE_ASSERTED

    # ------------------------------------------------------------------ threshold commands
    def require_thresholds(self) -> None:
        if not self.analog:
            raise CommandError(Cc.ILLEGAL_FOR_SENSOR, reason=f"{self.name} has no thresholds")

    def thresholds_response(self) -> bytes:
        """Get Sensor Thresholds: readable mask, then lnc lc lnr unc uc unr."""
        self.require_thresholds()
        mask = 0
        for index, key in enumerate(THRESHOLD_KEYS):
            if key in self.thresholds:
                mask |= 1 << index
        return bytes([mask, *(self.thresholds.get(key, 0) for key in THRESHOLD_KEYS)])

    def set_thresholds(self, mask: int, values: bytes) -> None:
        self.require_thresholds()
        for index, key in enumerate(THRESHOLD_KEYS):
            if mask & (1 << index) and key not in self.thresholds:
                raise CommandError(Cc.INVALID_DATA_FIELD,
                                   reason=f"{self.name}: threshold {key} is not settable")
        if mask & ~0x3F:
            raise CommandError(Cc.INVALID_DATA_FIELD, reason="reserved threshold mask bits")
        for index, key in enumerate(THRESHOLD_KEYS):
            if mask & (1 << index):
                self.thresholds[key] = values[index]

    def hysteresis_response(self) -> bytes:
        self.require_thresholds()
        return bytes(self.hysteresis)

    def set_hysteresis(self, positive: int, negative: int) -> None:
        self.require_thresholds()
        self.hysteresis = (positive, negative)

    def event_masks(self) -> tuple[int, int]:
        """The assertion and deassertion events this sensor can generate (bits 0..14)."""
        if self.analog:
            bits = bitmask([THRESHOLD_EVENT_OFFSETS[key] for key in self.thresholds])
            return bits, bits
        mask = bitmask(self.spec.offsets)
        return mask, mask

    def event_enable_response(self) -> bytes:
        return bytes([self.enable_flags]) + struct.pack(
            "<HH", self.assertion_enables, self.deassertion_enables)

    def set_event_enable(self, flags: int, masks: bytes) -> None:
        """Set Sensor Event Enable byte 2 and the optional mask bytes (IPMI 2.0 table 35-11):
        bits 5:4 = 01b enable, 10b disable the selected events; events the sensor cannot
        generate stay disabled."""
        action = (flags >> 4) & 0x03
        if action == 0x03 or flags & 0x0F:
            raise CommandError(Cc.INVALID_DATA_FIELD, reason="reserved event enable bits set")
        self.enable_flags = flags & (EVENTS_ENABLED | SCANNING_ENABLED)
        if action == 0:
            return
        assertion, deassertion = struct.unpack("<HH", (masks + bytes(4))[:4])
        can_assert, can_deassert = self.event_masks()
        if action == 0x01:
            self.assertion_enables |= assertion & can_assert
            self.deassertion_enables |= deassertion & can_deassert
        else:
            self.assertion_enables &= ~assertion & 0x7FFF
            self.deassertion_enables &= ~deassertion & 0x7FFF

    def allows(self, event: SensorEvent) -> bool:
        """Whether this event may become an SEL record, given the sensor's event enables."""
        if not self.enable_flags & EVENTS_ENABLED:
            return False
        enables = self.assertion_enables if event.assertion else self.deassertion_enables
        return bool(enables & (1 << (event.event_data[0] & 0x0F)))

    def set_reading_and_status(self, operation: int, reading: int, assertion: int) -> None:
        """Set Sensor Reading and Event Status (IPMI 2.0 table 35-19) for what pybmc keeps:
        an analog sensor's reading (pinned, as .emu does) and its asserted threshold events,
        a discrete sensor's asserted states. Deassertion status is not kept (0x80)."""
        if (operation >> 2) & 0x03:
            raise CommandError(0x80, reason="deassertion event status is not settable")
        if operation & 0x03 == 0x01:
            if self.linear is None:
                raise CommandError(0x80, reason=f"{self.name} has no settable reading")
            self.override = self.linear.to_value(reading)
        how = (operation >> 4) & 0x03
        if how == 0:
            return
        if not self.analog and self.spec.behaviour in MACHINE_STATE_BEHAVIOURS:
            raise CommandError(0x80, reason=f"{self.name} follows the machine's state")
        current = bitmask(self.asserted) if self.analog else self.states
        possible = self.event_masks()[0] if self.analog else 0x7FFF
        if assertion & ~possible & 0x7FFF:
            raise CommandError(0x80, reason=f"{self.name} has no such events to assert")
        new = {0x01: current | assertion, 0x02: current & ~assertion, 0x03: assertion}[how]
        new &= 0x7FFF
        if self.analog:
            self.asserted = frozenset(offset for offset in range(15) if new & (1 << offset))
        else:
            self.states = new

    def event_status_response(self, reading: Reading) -> bytes:
        flags = self.enable_flags
        if not reading.available:
            flags |= READING_UNAVAILABLE
        asserted = bitmask(self.asserted) if self.analog else reading.states
        return bytes([flags]) + struct.pack("<HH", asserted & 0x7FFF, 0)
