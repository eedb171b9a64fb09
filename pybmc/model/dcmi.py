"""DCMI 1.5: the power meter, power limit, thermal limit, identity strings and discovery
settings a data-center server's BMC adds to IPMI (NetFn Group Extension, group 0xDC).

The power meter samples the platform's power sensor (the one in watts) once per sensor
update, so readings follow the machine: standby watts when off, idle plus load when on. An
active power limit caps that draw as a real BMC's throttling does, down to the machine's idle
power; a limit below idle cannot be met, and after the correction time the exception action
is taken (a SEL record, and a hard power off when asked). A thermal limit watches the inlet
temperature the same way. Settings persist in the BMC's state (`state.extra["dcmi"]`).
"""

from __future__ import annotations

import logging
from array import array
from dataclasses import asdict, dataclass, field
from typing import Any

from pybmc.model.platform import Platform
from pybmc.model.platform.sensors import Sensor
from pybmc.model.power import PowerAction, PowerBackend, PowerError
from pybmc.model.state import Changes, State
from pybmc.wire.platform_codes import SensorType, Unit

log = logging.getLogger("pybmc.dcmi")

STATE_KEY = "dcmi"
HISTORY_SECONDS = 300  # samples kept: the longest rolling average period
ROLLING_PERIODS = (10, 60, 300)  # seconds, announced in capability parameter 5
STANDBY_WATTS = 8.0  # a machine without a power sensor: off, and on
RUNNING_WATTS = 160.0

# Exception actions (Set Power Limit byte 5; Set Thermal Limit bits 6:5)
ACTION_NONE = 0x00
ACTION_POWER_OFF = 0x01  # hard power off and log to the SEL
ACTION_LOG = 0x11  # log to the SEL only
POWER_LIMIT_ACTIONS = (ACTION_NONE, ACTION_POWER_OFF, ACTION_LOG)
THERMAL_POWER_OFF = 0x40
THERMAL_LOG = 0x20

# Threshold event data 1: data 2 = the reading, data 3 = the limit; upper critical going high.
OVER_LIMIT_EVENT = 0x50 | 0x09
THRESHOLD_READING = 0x01

MAX_ASSET_TAG = 63
MAX_MC_ID = 63


@dataclass
class PowerLimit:
    action: int = ACTION_NONE
    watts: int = 0
    correction_ms: int = 1000
    sampling_seconds: int = 1
    active: bool = False


@dataclass
class ThermalLimit:
    celsius: int = 0
    actions: int = 0  # THERMAL_POWER_OFF | THERMAL_LOG bits
    exception_seconds: int = 0


@dataclass(slots=True)
class DcmiSettings:
    """What a client sets over DCMI; persisted as a dict."""

    power_limit: PowerLimit = field(default_factory=PowerLimit)
    thermal_limit: ThermalLimit = field(default_factory=ThermalLimit)
    asset_tag: str = ""
    mc_id: str = ""
    discovery: int = 0x01  # option 12 (host name) on, option 60/43 off, no random back-off
    dhcp_initial_timeout: int = 4  # seconds
    dhcp_server_timeout: int = 120
    dhcp_retry_interval: int = 64

    @classmethod
    def load(cls, data: Any, default_mc_id: str) -> DcmiSettings:
        settings = cls(mc_id=default_mc_id)
        if not isinstance(data, dict):
            return settings
        try:
            settings.power_limit = PowerLimit(**data.get("power_limit", {}))
            settings.thermal_limit = ThermalLimit(**data.get("thermal_limit", {}))
            for key in ("asset_tag", "mc_id"):
                if isinstance(data.get(key), str):
                    setattr(settings, key, data[key])
            for key in ("discovery", "dhcp_initial_timeout", "dhcp_server_timeout",
                        "dhcp_retry_interval"):
                if isinstance(data.get(key), int):
                    setattr(settings, key, data[key])
        except TypeError:
            log.warning("DCMI settings in the state are not readable; using defaults")
            return cls(mc_id=default_mc_id)
        return settings


@dataclass(frozen=True)
class PowerStatistics:
    current: int
    minimum: int
    maximum: int
    average: int
    period_seconds: int


class PowerMeter:
    """Watts sampled once a second, the last HISTORY_SECONDS kept (2 bytes each)."""

    def __init__(self) -> None:
        self._samples = array("H", bytes(2 * HISTORY_SECONDS))
        self._count = 0
        self._next = 0

    def sample(self, watts: float) -> None:
        self._samples[self._next] = max(0, min(0xFFFF, round(watts)))
        self._next = (self._next + 1) % HISTORY_SECONDS
        self._count = min(self._count + 1, HISTORY_SECONDS)

    def statistics(self, current: float, seconds: int) -> PowerStatistics:
        """Minimum, maximum and average over the last `seconds` samples (or all there are)."""
        now = max(0, min(0xFFFF, round(current)))
        count = min(seconds, self._count)
        if count == 0:
            return PowerStatistics(now, now, now, now, 0)
        recent = [self._samples[(self._next - 1 - i) % HISTORY_SECONDS] for i in range(count)]
        return PowerStatistics(now, min(recent), max(recent), round(sum(recent) / count), count)


class Dcmi:
    """One BMC's DCMI state and the limits it enforces (ticked with the sensors)."""

    def __init__(self, name: str, state: State, changes: Changes, platform: Platform,
                 power: PowerBackend) -> None:
        self.name = name
        self.state = state
        self.changes = changes
        self.platform = platform
        self.power = power
        self.settings = DcmiSettings.load(state.extra.get(STATE_KEY), default_mc_id=name)
        self.meter = PowerMeter()
        self.power_sensor = next((s for s in platform.sensors
                                  if s.analog and s.spec.unit == Unit.WATTS), None)
        self._over_power_since: float | None = None
        self._over_temperature_since: float | None = None
        self._power_exception_taken = False
        self._thermal_exception_taken = False
        self._apply_cap()

    # ---------------------------------------------------------------- persistence
    def save(self) -> None:
        self.state.extra[STATE_KEY] = asdict(self.settings)
        self._apply_cap()
        self.changes.mark()

    # ---------------------------------------------------------------- power
    def watts(self, now: float) -> float:
        powered = self.platform.powered()
        if self.power_sensor is None:
            return RUNNING_WATTS if powered else STANDBY_WATTS
        value = self.power_sensor.value(now, powered)
        return value if value is not None else 0.0

    def statistics(self, now: float, seconds: int | None = None) -> PowerStatistics:
        """Over the last `seconds` (a rolling period), or all that is kept (system statistics)."""
        window = HISTORY_SECONDS if seconds is None else seconds
        return self.meter.statistics(self.watts(now), window)

    def timestamp(self) -> int:
        return self.platform.sel.now()

    def _apply_cap(self) -> None:
        """Throttling: an active limit caps the power sensor (never below idle power)."""
        if self.power_sensor is None:
            return
        limit = self.settings.power_limit
        self.power_sensor.cap = float(limit.watts) if limit.active and limit.watts else None

    # ---------------------------------------------------------------- time
    def tick(self, now: float) -> None:
        """Once a second, with the sensor update: sample, and check the limits."""
        watts = self.watts(now)
        self.meter.sample(watts)
        self._check_power_limit(now, watts)
        self._check_thermal_limit(now)

    def _check_power_limit(self, now: float, watts: float) -> None:
        limit = self.settings.power_limit
        if not (limit.active and limit.watts and self.platform.powered()
                and watts > limit.watts):
            self._over_power_since = None
            self._power_exception_taken = False
            return
        if self._over_power_since is None:
            self._over_power_since = now
        if self._power_exception_taken or \
                now - self._over_power_since < limit.correction_ms / 1000:
            return
        self._power_exception_taken = True
        log.warning("%s: DCMI power limit exception: %.0f W over the %d W limit for %.1f s",
                    self.name, watts, limit.watts, now - self._over_power_since)
        if limit.action in (ACTION_POWER_OFF, ACTION_LOG):
            self._log_over_limit(self.power_sensor, watts, limit.watts)
        if limit.action == ACTION_POWER_OFF:
            self._power_off("DCMI power limit")

    def _check_thermal_limit(self, now: float) -> None:
        limit = self.settings.thermal_limit
        inlet = self.temperature_sensors(0x40)
        value = inlet[0].value(now, self.platform.powered()) if inlet else None
        if not limit.actions or not limit.celsius or value is None or value <= limit.celsius:
            self._over_temperature_since = None
            self._thermal_exception_taken = False
            return
        if self._over_temperature_since is None:
            self._over_temperature_since = now
        if self._thermal_exception_taken or \
                now - self._over_temperature_since < limit.exception_seconds:
            return
        self._thermal_exception_taken = True
        log.warning("%s: DCMI thermal limit exception: inlet %.0f C over %d C", self.name,
                    value, limit.celsius)
        self._log_over_limit(inlet[0], value, limit.celsius)
        if limit.actions & THERMAL_POWER_OFF:
            self._power_off("DCMI thermal limit")

    def _log_over_limit(self, sensor: Sensor | None, value: float, limit: float) -> None:
        if sensor is None or sensor.linear is None:
            self.platform.add_event(SensorType.OTHER_UNITS, THRESHOLD_READING,
                                    bytes([OVER_LIMIT_EVENT, 0xFF, 0xFF]))
            return
        self.platform.add_event(sensor.spec.sensor_type, THRESHOLD_READING,
                                bytes([OVER_LIMIT_EVENT, sensor.linear.to_raw(value),
                                       sensor.linear.to_raw(limit)]),
                                sensor_number=sensor.number)

    def _power_off(self, cause: str) -> None:
        try:
            self.power.request(PowerAction.OFF, cause=cause)
        except PowerError as err:
            log.warning("%s: %s: power off refused: %s", self.name, cause, err)

    # ---------------------------------------------------------------- temperatures
    def temperature_sensors(self, entity: int) -> list[Sensor]:
        """The temperature sensors of a DCMI entity (0x40 inlet, 0x41 CPU, 0x42 baseboard),
        also found by the matching IPMI entity IDs (air inlet 0x37, processor, system board)."""
        wanted = DCMI_ENTITIES.get(entity)
        if wanted is None:
            return []
        return [s for s in self.platform.sensors
                if s.analog and s.spec.sensor_type == SensorType.TEMPERATURE
                and s.spec.entity in wanted]

    def record_id(self, sensor: Sensor) -> int:
        """The sensor's SDR record ID (records are numbered in sensor order from 1)."""
        return self.platform.sensors.index(sensor) + 1


DCMI_ENTITIES: dict[int, tuple[int, ...]] = {
    0x40: (0x40, 0x37), 0x37: (0x40, 0x37),  # inlet air
    0x41: (0x41, 0x03), 0x03: (0x41, 0x03),  # processor
    0x42: (0x42, 0x07), 0x07: (0x42, 0x07),  # baseboard
}
