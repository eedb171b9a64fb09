"""Platform data a real BMC describes its server with: sensors, SDR repository, SEL, FRU.

`Platform` is built once per BMC by the core. It hears every PowerEvent through
`on_power_event`, logs what happens in the SEL (power on/off/cycle/reset/soft-off, BMC start,
SEL clear, threshold crossings, watchdog expiry via `add_event`), and computes sensor readings
from time. The server's timer may call `tick(now)` every few seconds so threshold crossings are
logged even when no client reads the sensors.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pybmc.config.platform import PlatformConfig, SensorSpec, parse_platform_config
from pybmc.model.platform.eeprom import FruEeprom
from pybmc.model.platform.event_text import event_words
from pybmc.model.platform.fru import PSU_FRU, FruStore
from pybmc.model.platform.pef import PefConfig
from pybmc.model.platform.pef_filter import PefEngine
from pybmc.model.platform.sdr import (
    CLEAR_SIGNATURE,
    INITIATE_ERASE,
    SdrRepository,
    fru_locator_record,
    mc_locator_record,
)
from pybmc.model.platform.sdr_store import SdrStore
from pybmc.model.platform.sel import (
    BMC_GENERATOR,
    Sel,
    system_event_record,
)
from pybmc.model.platform.sensors import Reading, Sensor, SensorEvent, bitmask
from pybmc.model.power import PowerEvent
from pybmc.model.state import Changes, State, fingerprint
from pybmc.wire.codes import Cc
from pybmc.wire.errors import CommandError
from pybmc.wire.platform_codes import Entity

if TYPE_CHECKING:
    from pybmc.config.bmc import BmcConfig

log = logging.getLogger("pybmc.platform")

SYSTEM_EVENT_LOGGING = 0x08  # BMC Global Enables bit 3
# Get Device ID "additional device support", repeated in the MC locator record: chassis,
# IPMB event generator and receiver, FRU, SEL, SDR repository, sensor device.
MC_CAPABILITIES = 0xBF
MC_NAME = "BMC"
SDR_STAMP_EPOCH = 1704067200  # 2024-01-01 00:00 UTC
SDR_STAMP_SPAN = 1 << 24  # about 194 days

# Sensor-specific offsets (table 42-3) of the events pybmc writes.
POWER_UNIT_OFF = 0x00  # Power Unit: power off / power down
POWER_UNIT_CYCLE = 0x01  # Power Unit: power cycle
ACPI_WORKING = 0x00  # ACPI Power State: S0/G0 working
ACPI_SOFT_OFF = 0x05  # ACPI Power State: S5/G2 soft-off
BOOT_POWER_UP = 0x00  # System Boot Initiated: by power up
BOOT_HARD_RESET = 0x01  # System Boot Initiated: by hard reset
BOOT_RESTART = 0x07  # System Boot Initiated: system restart
LOG_CLEARED = 0x02  # Event Logging Disabled: log area reset/cleared
LOG_FULL = 0x04
LOG_ALMOST_FULL = 0x05
MC_OFFLINE = 0x02  # Management Subsystem Health: controller off-line (deasserted: back)


@dataclass(frozen=True)
class PlatformNotice:
    """What happened, for fronts that report events (Redfish EventService): the machine's
    power went "on" or "off", or a "sel" record was logged."""

    kind: str
    cause: str = ""
    record_id: int = 0
    record: bytes = b""


NoticeListener = Callable[[PlatformNotice], None]


class SensorIndex:
    """A BMC's sensors by number or behaviour: `get` as a dict's, over the BMC's own sensors
    and a map to their positions that every BMC with the same specs shares."""

    __slots__ = ("_positions", "_sensors")

    def __init__(self, sensors: list[Sensor], positions: dict[object, int]) -> None:
        self._sensors = sensors
        self._positions = positions

    def get(self, key: object, default: Sensor | None = None) -> Sensor | None:
        index = self._positions.get(key)
        return self._sensors[index] if index is not None else default


@functools.lru_cache(maxsize=256)
def _positions(specs: tuple[SensorSpec, ...], key: str) -> dict[object, int]:
    """Where each spec's `key` (number, behaviour) is in `specs`; the last one wins."""
    return {getattr(spec, key): index for index, spec in enumerate(specs)}


@functools.lru_cache(maxsize=256)
def _records_stamp(records: tuple[bytes, ...]) -> int:
    """Platform._sdr_timestamp, once per distinct repository (most BMCs share one)."""
    digest = fingerprint([record.hex() for record in records])
    return SDR_STAMP_EPOCH + int(digest, 16) % SDR_STAMP_SPAN


class Platform:
    def __init__(self, config: BmcConfig, state: State, powered: Callable[[], bool],
                 changes: Changes, clock: Callable[[], float] = time.monotonic,
                 wall_clock: Callable[[], float] = time.time) -> None:
        self.name = config.name
        self.state = state
        self.powered = powered  # the machine's power state, as the power backend last saw it
        self.changes = changes
        self.clock = clock  # power events bring no `now`; readings use the caller's `now`
        self.config: PlatformConfig = parse_platform_config(config)
        self.sensors = [Sensor(spec) for spec in self.config.sensors]
        self.by_number = SensorIndex(self.sensors, _positions(self.config.sensors, "number"))
        self.by_behaviour = SensorIndex(self.sensors,
                                        _positions(self.config.sensors, "behaviour"))
        self.sel = Sel(config.state_dir, self.config.sel.capacity, wall_clock)
        self.fru = FruStore(config.state_dir, self.config.fru, config.name)
        self.fru_eeprom = FruEeprom(self.fru)
        self._apply_sensor_settings()
        records = self._sdr_records()
        stamp = self._sdr_timestamp(records)
        # Get SDR: generated, until written (then state_dir/sdr.json: sdr_store.py).
        self.sdr = SdrStore(config.state_dir, records, stamp, self.sel.now)
        self.device_sdr = SdrRepository(records, stamp)  # Get Device SDR: same records
        self.pef = PefConfig(state)
        self.pef_engine = PefEngine(config.name, self.pef, clock)
        self._started = False
        self._last_power_kind = ""
        self.notice_listeners: list[NoticeListener] = []

    def log_start(self, defer_write: bool = False) -> None:
        """The BMC came up: its controller is back on line (called once, when it serves).
        `defer_write`: the SEL file is written later (`sel.write_unsaved()`, or with the
        next change of the SEL)."""
        self.sel.defer_saves = defer_write
        try:
            self.log_event_for("bmc-health", MC_OFFLINE, assertion=False)
        finally:
            self.sel.defer_saves = False

    # ------------------------------------------------------------------ SDR repository
    def _sdr_records(self) -> list[bytes]:
        records = [sensor.record(0) for sensor in self.sensors]
        records.append(fru_locator_record(0, PSU_FRU, self.fru.device(PSU_FRU).name,
                                          Entity.POWER_SUPPLY, 1))
        records.append(mc_locator_record(0, MC_NAME, MC_CAPABILITIES,
                                         Entity.SYSTEM_MANAGEMENT_MODULE, 1))
        return records

    @staticmethod
    def _sdr_timestamp(records: list[bytes]) -> int:
        """The "most recent addition" time: a function of the records alone.

        Clients cache SDRs keyed on it (pyghmi per process, FreeIPMI on disk), so equal
        repositories must have equal stamps and different ones (almost surely) different
        stamps, across BMCs and restarts alike; a date within 2024 is as good as any.
        """
        return _records_stamp(tuple(records))

    # ------------------------------------------------------------------ sensors
    def sensor(self, number: int) -> Sensor:
        sensor = self.by_number.get(number)
        if sensor is None:
            raise CommandError(Cc.NOT_PRESENT, reason=f"no sensor {number:#04x}")
        return sensor

    def find_sensor(self, name: str) -> Sensor | None:
        return next((sensor for sensor in self.sensors if sensor.name == name), None)

    def _start(self, now: float, powered: bool) -> None:
        if not self._started:
            for sensor in self.sensors:
                sensor.load.start(powered, now)
            self._started = True

    def read(self, sensor: Sensor, now: float) -> Reading:
        """The sensor's reading now; threshold crossings since the last one are logged."""
        powered = self.powered()
        self._start(now, powered)
        if not sensor.analog:
            return Reading(states=self._discrete_states(sensor, powered))
        reading = sensor.analog_reading(now, powered)
        if reading.available:
            for event in sensor.threshold_events(reading.raw):
                if sensor.allows(event):
                    self._log(event)
        return reading

    def _discrete_states(self, sensor: Sensor, powered: bool) -> int:
        behaviour = sensor.spec.behaviour
        if behaviour == "power-unit":
            return 0 if powered else bitmask([POWER_UNIT_OFF])
        if behaviour == "acpi":
            return bitmask([ACPI_WORKING if powered else ACPI_SOFT_OFF])
        if behaviour == "event-log":
            if self.sel.full:
                return bitmask([LOG_FULL])
            return bitmask([LOG_ALMOST_FULL]) if self.sel.almost_full else 0
        return sensor.states  # static, watchdog (latched), system boot, BMC health

    def tick(self, now: float) -> None:
        """Take every analog reading, so crossings are logged without a client asking."""
        for sensor in self.sensors:
            if sensor.analog:
                self.read(sensor, now)

    def set_value(self, name: str, value: float | None) -> None:
        """Pin an analog sensor to a value (None: back to the model); for .emu and tests."""
        sensor = self.find_sensor(name)
        if sensor is None or not sensor.analog:
            raise KeyError(f"no analog sensor {name!r}")
        sensor.override = value

    def set_states(self, name: str, offsets: list[int], now: float | None = None) -> None:
        """Set a discrete sensor's asserted offsets, logging each change as an event."""
        sensor = self.find_sensor(name)
        if sensor is None or sensor.analog:
            raise KeyError(f"no discrete sensor {name!r}")
        new = bitmask(offsets)
        changed = new ^ sensor.states
        sensor.states = new
        for offset in range(15):
            if changed & (1 << offset):
                event = SensorEvent(sensor.spec.sensor_type, sensor.number,
                                    sensor.spec.reading_type, bytes([offset, 0xFF, 0xFF]),
                                    assertion=bool(new & (1 << offset)))
                if sensor.allows(event):
                    self._log(event)

    # ------------------------------------------------------------------ persisted settings
    def _settings(self) -> dict[str, dict[str, object]]:
        return self.state.extra.setdefault("sensors", {})

    def _apply_sensor_settings(self) -> None:
        """Thresholds, hysteresis and event enables set over IPMI, while the sensor's config
        is unchanged."""
        settings = self._settings()
        for sensor in self.sensors:
            saved = settings.get(sensor.name)
            if not isinstance(saved, dict) or saved.get("spec") != fingerprint(repr(sensor.spec)):
                continue
            try:
                thresholds = saved.get("thresholds", {})
                for key, raw in dict(thresholds).items():  # type: ignore[call-overload]
                    if key in sensor.thresholds:
                        sensor.thresholds[key] = int(raw) & 0xFF
                hysteresis = saved.get("hysteresis")
                if isinstance(hysteresis, list) and len(hysteresis) == 2:
                    sensor.hysteresis = (int(hysteresis[0]) & 0xFF, int(hysteresis[1]) & 0xFF)
                enables = saved.get("event_enable")
                if isinstance(enables, list) and len(enables) == 3:
                    can_assert, can_deassert = sensor.event_masks()
                    sensor.enable_flags = int(enables[0]) & 0xC0
                    sensor.assertion_enables = int(enables[1]) & can_assert
                    sensor.deassertion_enables = int(enables[2]) & can_deassert
            except (TypeError, ValueError):
                log.warning("%s: saved settings of sensor %s are unreadable; ignored",
                            self.name, sensor.name)

    def save_sensor_settings(self, sensor: Sensor) -> None:
        """After Set Sensor Thresholds/Hysteresis/Event Enable: persist, and show them in the
        SDR too."""
        self._settings()[sensor.name] = {
            "spec": fingerprint(repr(sensor.spec)),
            "thresholds": dict(sensor.thresholds),
            "hysteresis": list(sensor.hysteresis),
            "event_enable": [sensor.enable_flags, sensor.assertion_enables,
                             sensor.deassertion_enables],
        }
        self.changes.mark()
        records = self._sdr_records()
        stamp = self._sdr_timestamp(records)
        self.sdr.replace(records, stamp)
        self.device_sdr.replace(records, stamp)

    # ------------------------------------------------------------------ events
    def logging_enabled(self) -> bool:
        return bool(self.state.global_enables & SYSTEM_EVENT_LOGGING)

    def _log(self, event: SensorEvent, generator: int = BMC_GENERATOR) -> int | None:
        if not self.logging_enabled():
            return None
        record = system_event_record(generator, event.sensor_type, event.sensor_number,
                                     event.reading_type, event.event_data, event.assertion)
        record_id = self.sel.add(record)
        if record_id is not None:
            sensor = self.by_number.get(event.sensor_number)
            log.info("%s: SEL %04x: %s: %s (%s)", self.name, record_id,
                     sensor.name if sensor is not None else f"sensor {event.sensor_number}",
                     event_words(event.sensor_type, event.reading_type, event.event_data),
                     "asserted" if event.assertion else "deasserted")
            self._notify(PlatformNotice("sel", record_id=record_id, record=record))
            record = self.sel.entries[-1]  # with its ID and time stamp
        self.pef_engine.process(record)  # PEF sees the event even when the SEL is full
        return record_id

    def _notify(self, notice: PlatformNotice) -> None:
        for listener in list(self.notice_listeners):
            try:
                listener(notice)
            except Exception:  # a front's bug must not stop the BMC logging its events
                log.exception("%s: platform notice listener failed", self.name)

    def log_event_for(self, behaviour: str, offset: int, assertion: bool = True,
                      data2: int = 0xFF, data3: int = 0xFF) -> int | None:
        """Log a sensor-specific event against the system sensor with this behaviour."""
        sensor = self.by_behaviour.get(behaviour)
        if sensor is None:
            return None
        data1 = offset if data2 == 0xFF else 0xC0 | offset  # C0h: byte 2 is an extension code
        return self._log(SensorEvent(sensor.spec.sensor_type, sensor.number,
                                     sensor.spec.reading_type, bytes([data1, data2, data3]),
                                     assertion))

    def add_event(self, sensor_type: int, reading_type: int, event_data: bytes,
                  assertion: bool = True, sensor_number: int | None = None) -> int | None:
        """An event from elsewhere in the BMC (the watchdog); the sensor is found by type."""
        if sensor_number is None:
            sensor = next((s for s in self.sensors if s.spec.sensor_type == sensor_type), None)
            sensor_number = sensor.number if sensor is not None else 0xFF
        sensor = self.by_number.get(sensor_number)
        if sensor is not None and sensor.spec.behaviour == "watchdog" and event_data:
            sensor.states = bitmask([event_data[0] & 0x0F])  # the last expiry action
        return self._log(SensorEvent(sensor_type, sensor_number, reading_type,
                                     (event_data + b"\xff\xff\xff")[:3], assertion))

    def platform_event(self, generator: int, payload: bytes) -> int | None:
        """Platform Event Message: EvMRev, sensor type, number, dir|type, data 1-3."""
        event = SensorEvent(payload[1], payload[2], payload[3] & 0x7F, payload[4:7],
                            assertion=not payload[3] & 0x80)
        return self._log(event, generator)

    def on_power_event(self, event: PowerEvent) -> None:
        now = self.clock()
        self._start(now, powered=event.kind != "on")  # the state just before this event
        previous, self._last_power_kind = self._last_power_kind, event.kind
        if event.kind in ("on", "off"):
            self._notify(PlatformNotice(event.kind, cause=event.cause))
        if event.kind in ("on", "boot"):
            self.pef_engine.machine_started()  # the PEF startup delays count from here
        if event.kind == "on":
            for sensor in self.sensors:
                sensor.load.head_for(1.0, now)
            self.log_event_for("acpi", ACPI_WORKING)
        elif event.kind == "off":
            for sensor in self.sensors:
                sensor.load.head_for(0.0, now)
            self._log_power_off(event.cause)
        elif event.kind == "boot" and previous != "on":
            # A boot right after power-on is the power-on itself; others are resets.
            offset = BOOT_HARD_RESET if "reset" in event.cause else BOOT_RESTART
            self.log_event_for("system-boot", offset)

    def _log_power_off(self, cause: str) -> None:
        if "soft" in cause:
            self.log_event_for("acpi", ACPI_SOFT_OFF)
        elif "cycle" in cause:
            self.log_event_for("power-unit", POWER_UNIT_CYCLE)
        else:
            self.log_event_for("power-unit", POWER_UNIT_OFF)

    def clear_sel(self, reservation_id: int, signature: bytes, action: int) -> int:
        """Clear SEL; a real erase is itself logged, as BMCs do."""
        erasing = action == INITIATE_ERASE
        progress = self.sel.clear(reservation_id, signature, action)
        if erasing:
            self.log_event_for("event-log", LOG_CLEARED)
        return progress

    def erase_sel(self) -> None:
        """Clear the whole SEL at once (Redfish ClearLog): the same erase, logged the same
        way, as a Clear SEL under a fresh reservation."""
        reservation = self.sel.reservation.reserve()
        self.clear_sel(reservation, CLEAR_SIGNATURE, INITIATE_ERASE)

