"""The [[sensors]], [fru] and [sel] sections: parsed and checked here, from `BmcConfig.raw`.

`check_platform_config(config)` validates them (check-config calls it); `parse_platform_config`
returns the frozen specs the Platform is built from. Errors are one line naming file and key.

Sensors
-------
Without [[sensors]] a BMC has the sensors in default_sensors.toml (DEFAULT_SENSORS_TOML); a
[[sensors]] list replaces that set as a whole. The sensors pybmc writes events against
(system_sensors.toml, SYSTEM_SENSORS_TOML: Watchdog, Power Unit, ACPI State, System Boot,
Event Log, BMC Health) are always there; a
[[sensors]] entry with the same behaviour replaces one (to rename or renumber it).

Keys of one [[sensors]] entry:
  name             required; 3..16 ASCII characters, unique
  type             required; temperature | voltage | current | fan | power | power-supply |
                   physical-security | processor | memory | watchdog | ... or a number (42-3)
  number           sensor number 0..254; default: the next free one from 1
  behaviour        how the reading follows the machine (default from the type):
                     thermal   rest + L * (nominal - rest); L, the machine's load, rises from 0
                               towards 1 while on and falls back while off, with the time
                               constant `time_constant` (temperatures)
                     fan       idle + L * (nominal - idle) while on: fans follow the temperature
                     power     idle + L * (nominal - idle) while on, `rest` while off
                     rail      nominal while on (voltages)
                     constant  nominal, on or off
                     static    a discrete sensor with the fixed `states`
  unit             celsius | volts | amps | watts | rpm | ... or a number (43-15)
  entity           processor | system-board | air-inlet | fan | power-supply | ... or a number
  entity_instance  1..127, default 1
  nominal, idle, rest, min, max     values in the unit; min..max is the range 0..255 covers
  noise            +- amplitude added to readings (default 0.4 % of max - min)
  time_constant    seconds, default 30
  when_off         rest | unavailable: what a reading is while the machine is off
                   (thermal, power, constant: rest; fan, rail: unavailable)
  thresholds       { lnr, lc, lnc, unc, uc, unr }: lower/upper non-recoverable, critical and
                   non-critical, in the unit; crossing one logs an SEL event
  hysteresis       in the unit (default 2 raw steps)
  states           discrete sensors: the asserted offsets (power-supply default [0] presence)
  offsets          discrete sensors: the offsets it can report (default from the type)

FRU
---
[fru] size = 256 (bytes of FRU 0), and three tables, every key optional:
  [fru.chassis] type ("rack-mount" or an SMBIOS number), part_number, serial_number
  [fru.board]   manufacturer, product_name, serial_number, part_number, manufacture_date
                (a TOML date/datetime or "YYYY-MM-DD[ HH:MM]", UTC, 1996..2027)
  [fru.product] manufacturer, product_name, part_number, version, serial_number, asset_tag
Serial numbers default to ones derived from the BMC name (stable for a name).

SEL
---
[sel] capacity = 1024 (entries of 16 bytes; 16..4095).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import itertools
import math
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pybmc.config.bmc import ConfigError, _Section
from pybmc.config.share import memo_by_section
from pybmc.wire.linear import Linear
from pybmc.wire.platform_codes import (
    CHASSIS_TYPE_NAMES,
    DEFAULT_ENTITIES,
    DEFAULT_UNITS,
    ENTITY_NAMES,
    SENSOR_TYPE_NAMES,
    SUPPORTED_OFFSETS,
    UNIT_NAMES,
    ReadingType,
    SensorType,
    Unit,
)

if TYPE_CHECKING:
    from pybmc.config.bmc import BmcConfig

# The order of Get/Set Sensor Thresholds, and of their mask bits 0..5.
THRESHOLD_KEYS = ("lnc", "lc", "lnr", "unc", "uc", "unr")
UPPER_THRESHOLDS = ("unc", "uc", "unr")
ANALOG_BEHAVIOURS = ("thermal", "fan", "power", "rail", "constant")
# Discrete sensors whose state pybmc itself keeps, and the only type each can have.
SYSTEM_BEHAVIOURS: dict[str, int] = {
    "watchdog": SensorType.WATCHDOG_2,
    "power-unit": SensorType.POWER_UNIT,
    "acpi": SensorType.ACPI_POWER_STATE,
    "system-boot": SensorType.SYSTEM_BOOT,
    "event-log": SensorType.EVENT_LOGGING_DISABLED,
    "bmc-health": SensorType.MANAGEMENT_SUBSYSTEM_HEALTH,
}
DISCRETE_BEHAVIOURS = ("static", *SYSTEM_BEHAVIOURS)
DEFAULT_BEHAVIOURS: dict[int, str] = {
    SensorType.TEMPERATURE: "thermal",
    SensorType.VOLTAGE: "rail",
    SensorType.CURRENT: "power",
    SensorType.FAN: "fan",
    SensorType.COOLING_DEVICE: "fan",
    SensorType.OTHER_UNITS: "power",
    **{sensor_type: behaviour for behaviour, sensor_type in SYSTEM_BEHAVIOURS.items()},
}
DEFAULT_STATES: dict[int, tuple[int, ...]] = {SensorType.POWER_SUPPLY: (0,)}
MAX_SENSOR_NUMBER = 0xFE  # 0xFF is reserved
FRU_TEXT_MAX = 63  # a FRU type/length byte holds 6 bits of length
FRU_EPOCH = dt.datetime(1996, 1, 1, tzinfo=dt.UTC)
FRU_DATE_LIMIT = FRU_EPOCH + dt.timedelta(minutes=0xFFFFFF)


def _package_text(name: str) -> str:
    """A TOML file shipped in pybmc.config (package data, so wheels carry it too): read beside
    this module when it is a file (importlib.resources loads zipfile, ~0.5 MB of memory)."""
    beside = Path(__file__).with_name(name)
    if beside.is_file():
        return beside.read_text(encoding="utf-8")
    import importlib.resources

    return importlib.resources.files("pybmc.config").joinpath(name).read_text(encoding="utf-8")


DEFAULT_SENSORS_TOML = _package_text("default_sensors.toml")

SYSTEM_SENSORS_TOML = _package_text("system_sensors.toml")


@dataclass(frozen=True)
class SensorSpec:
    name: str
    sensor_type: int
    behaviour: str
    number: int = -1  # -1 until numbered
    reading_type: int = ReadingType.THRESHOLD
    unit: int = Unit.UNSPECIFIED
    entity: int = 0x07
    entity_instance: int = 1
    nominal: float = 0.0
    idle: float = 0.0
    rest: float = 0.0
    minimum: float = 0.0
    maximum: float = 255.0
    noise: float = 0.0
    time_constant: float = 30.0
    when_off: str = "rest"
    thresholds: tuple[tuple[str, float], ...] = ()
    hysteresis: float | None = None
    states: tuple[int, ...] = ()
    offsets: tuple[int, ...] = ()

    @property
    def analog(self) -> bool:
        return self.behaviour in ANALOG_BEHAVIOURS

    @property
    def threshold_values(self) -> dict[str, float]:
        return dict(self.thresholds)


@dataclass(frozen=True)
class ChassisInfo:
    chassis_type: int = CHASSIS_TYPE_NAMES["rack-mount"]
    part_number: str = "PYBMC-CHS-1U"
    serial_number: str = ""


@dataclass(frozen=True)
class BoardInfo:
    manufacturer: str = "pybmc"
    product_name: str = "Virtual Mainboard"
    serial_number: str = ""
    part_number: str = "PYBMC-MB-01"
    manufacture_date: dt.datetime = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class ProductInfo:
    manufacturer: str = "pybmc"
    product_name: str = "Virtual Server"
    part_number: str = "PYBMC-VS-1"
    version: str = "1.0"
    serial_number: str = ""
    asset_tag: str = ""


@dataclass(frozen=True)
class FruSpec:
    chassis: ChassisInfo = ChassisInfo()
    board: BoardInfo = BoardInfo()
    product: ProductInfo = ProductInfo()
    size: int = 256


@dataclass(frozen=True)
class SelSpec:
    capacity: int = 1024


@dataclass(frozen=True)
class PlatformConfig:
    sensors: tuple[SensorSpec, ...] = ()
    fru: FruSpec = field(default_factory=FruSpec)
    sel: SelSpec = field(default_factory=SelSpec)


# ------------------------------------------------------------------------------- entry points
def check_platform_config(config: BmcConfig) -> None:
    """Raise ConfigError if [[sensors]], [fru] or [sel] of this BMC's config is wrong."""
    parse_platform_config(config)


def parse_platform_config(config: BmcConfig) -> PlatformConfig:
    raw = config.raw
    items = raw.get("sensors")
    return PlatformConfig(
        # The sensor specs depend on [[sensors]] alone: parsed once per distinct section.
        sensors=memo_by_section("sensors", items,
                                lambda: parse_sensors(config.source, items)),
        fru=parse_fru(config.source, raw.get("fru", {}), config.name),
        sel=parse_sel(config.source, raw.get("sel", {})),
    )


# ------------------------------------------------------------------------------- table reader
class _Table(_Section):
    """One TOML table of the platform sections, with the readers only they need."""

    def has(self, key: str) -> bool:
        return key in self.table

    def finite_number(self, key: str, default: float | None = None,
                      required: bool = False) -> float:
        """A finite number; NaN when the key is absent and there is no default."""
        value = self.get(key, (int, float), default, required)
        if value is None:
            return math.nan
        if not math.isfinite(value):
            raise self.error(key, f"must be a finite number, got {value!r}")
        return float(value)

    def code(self, key: str, names: dict[str, int], default: int | None,
             high: int = 0xFF) -> int:
        """A name from `names` or a number 0..high."""
        value = self.get(key, (str, int), default, required=default is None)
        if isinstance(value, int):
            if not 0 <= value <= high:
                raise self.error(key, f"must be between 0 and {high}, got {value}")
            return value
        if value not in names:
            raise self.error(key, f"must be a number or one of {', '.join(names)}; "
                                  f"got {value!r}")
        return names[value]

    def text(self, key: str, default: str, limit: int) -> str:
        value = self.get(key, (str,), default)
        try:
            encoded = value.encode("latin-1")
        except UnicodeEncodeError:
            raise self.error(key, "must be Latin-1 text") from None
        if len(encoded) > limit:
            raise self.error(key, f"must be at most {limit} bytes, got {len(encoded)}")
        return value


# ------------------------------------------------------------------------------- sensors
def parse_sensors(source: str, items: Any) -> tuple[SensorSpec, ...]:
    """The configured (or default) sensors plus the system sensors, all numbered."""
    if items is None:
        specs = list(_builtin_sensors("<built-in defaults>", DEFAULT_SENSORS_TOML))
    else:
        if not isinstance(items, list):
            raise ConfigError(f"{source}: [[sensors]]: must be an array of tables")
        specs = _parse_sensor_list(source, items)
    given = {spec.behaviour for spec in specs}
    system = [spec for spec in _builtin_sensors("<built-in>", SYSTEM_SENSORS_TOML)
              if spec.behaviour not in given]
    return _number_sensors(source, specs, system)


@functools.cache
def _builtin_sensors(source: str, text: str) -> tuple[SensorSpec, ...]:
    """The built-in sensor lists, parsed once per process: the specs are frozen, and
    parsing the TOML again for every BMC was half of a simulated BMC's build time."""
    return tuple(_parse_sensor_list(source, tomllib.loads(text)["sensors"]))


def _parse_sensor_list(source: str, items: list[Any]) -> list[SensorSpec]:
    specs: list[SensorSpec] = []
    for index, item in enumerate(items):
        spec = parse_sensor(source, index, item)
        if any(other.name == spec.name for other in specs):
            raise ConfigError(f"{source}: [sensors.{index}] name: {spec.name!r} is used twice")
        if spec.behaviour in SYSTEM_BEHAVIOURS and any(
                other.behaviour == spec.behaviour for other in specs):
            raise ConfigError(f"{source}: [sensors.{index}] behaviour: only one sensor may "
                              f"have behaviour {spec.behaviour!r}")
        specs.append(spec)
    return specs


def _number_sensors(source: str, specs: list[SensorSpec],
                    system: list[SensorSpec]) -> tuple[SensorSpec, ...]:
    taken: dict[int, str] = {}
    for index, spec in enumerate(specs):
        if spec.number >= 0:
            if spec.number in taken:
                raise ConfigError(f"{source}: [sensors.{index}] number: {spec.number} is "
                                  f"already used by {taken[spec.number]!r}")
            taken[spec.number] = spec.name
    names = {spec.name for spec in specs}
    system = [_renamed_if_taken(spec, names) for spec in system]
    pending = [spec for spec in system if spec.number in taken]
    for spec in system:
        if spec.number not in taken:
            taken[spec.number] = spec.name
    numbered: list[SensorSpec] = []
    next_free = 1
    for spec in [*specs, *system]:
        if spec.number < 0 or spec in pending:
            while next_free in taken:
                next_free += 1
            if next_free > MAX_SENSOR_NUMBER:
                raise ConfigError(f"{source}: [[sensors]]: more than {MAX_SENSOR_NUMBER} sensors")
            taken[next_free] = spec.name
            spec = _replace(spec, number=next_free)
        numbered.append(spec)
    return tuple(numbered)


def _renamed_if_taken(spec: SensorSpec, names: set[str]) -> SensorSpec:
    """A system sensor whose name a configured sensor already has gets a suffix."""
    if spec.name not in names:
        return spec
    suffix = 2
    while f"{spec.name} {suffix}" in names:
        suffix += 1
    return _replace(spec, name=f"{spec.name} {suffix}")


def _replace(spec: SensorSpec, **changes: Any) -> SensorSpec:
    return replace(spec, **changes)


def parse_sensor(source: str, index: int, item: Any) -> SensorSpec:
    table = _Table(source, f"sensors.{index}", item)
    name = _sensor_name(table)
    sensor_type = table.code("type", SENSOR_TYPE_NAMES, None)
    behaviours = (*ANALOG_BEHAVIOURS, *DISCRETE_BEHAVIOURS)
    behaviour = table.get("behaviour", (str,), DEFAULT_BEHAVIOURS.get(sensor_type, "static"))
    if behaviour not in behaviours:
        raise table.error("behaviour", f"must be one of {', '.join(behaviours)}; "
                                       f"got {behaviour!r}")
    if behaviour in SYSTEM_BEHAVIOURS and SYSTEM_BEHAVIOURS[behaviour] != sensor_type:
        raise table.error("type", f"behaviour {behaviour!r} needs type "
                                  f"{SYSTEM_BEHAVIOURS[behaviour]:#04x}")
    common: dict[str, Any] = {
        "name": name,
        "sensor_type": sensor_type,
        "behaviour": behaviour,
        "number": table.integer("number", -1, 0, MAX_SENSOR_NUMBER) if table.has("number")
        else -1,
        "entity": table.code("entity", ENTITY_NAMES, DEFAULT_ENTITIES.get(sensor_type, 0x07)),
        "entity_instance": table.integer("entity_instance", 1, 0, 127),
    }
    if behaviour in ANALOG_BEHAVIOURS:
        spec = _parse_analog(table, common)
    else:
        spec = _parse_discrete(table, common)
    table.finish()
    return spec


def _sensor_name(table: _Table) -> str:
    name = table.get("name", (str,), required=True)
    if not (3 <= len(name) <= 16 and name.isascii() and name.isprintable()):
        # xCAT ignores IDs of 2 characters or fewer; an SDR ID string holds 16 bytes.
        raise table.error("name", f"must be 3 to 16 printable ASCII characters; got {name!r}")
    return name


def _parse_analog(table: _Table, common: dict[str, Any]) -> SensorSpec:
    sensor_type = common["sensor_type"]
    behaviour = common["behaviour"]
    unit = table.code("unit", UNIT_NAMES, DEFAULT_UNITS.get(sensor_type, Unit.UNSPECIFIED))
    nominal = table.finite_number("nominal", required=True)
    thresholds = _parse_thresholds(table)
    minimum = table.finite_number("min", 0.0)
    top = max([nominal, *thresholds.values()])
    default_max = 127.0 if sensor_type == SensorType.TEMPERATURE else max(2 * top, minimum + 1)
    maximum = table.finite_number("max", default_max)
    if not maximum > minimum:
        raise table.error("max", f"must be above min ({minimum}), got {maximum}")
    idle_default = {"fan": 0.6 * nominal, "power": 0.5 * nominal}.get(behaviour, nominal)
    idle = table.finite_number("idle", idle_default)
    rest_default = {"thermal": min(nominal, 25.0), "power": 0.05 * nominal,
                    "fan": minimum}.get(behaviour, nominal)
    rest = table.finite_number("rest", rest_default)
    for key, value in (("nominal", nominal), ("idle", idle), ("rest", rest),
                       *thresholds.items()):
        if not minimum <= value <= maximum:
            raise table.error(key if key in ("nominal", "idle", "rest") else f"thresholds.{key}",
                              f"{value} is outside min..max ({minimum}..{maximum})")
    noise = table.finite_number("noise", 0.004 * (maximum - minimum))
    time_constant = table.finite_number("time_constant", 30.0)
    hysteresis = table.finite_number("hysteresis") if table.has("hysteresis") else None
    for key, value in (("noise", noise), ("time_constant", time_constant),
                       ("hysteresis", hysteresis)):
        if value is not None and value < 0:
            raise table.error(key, f"must not be negative, got {value}")
    when_off_default = "unavailable" if behaviour in ("fan", "rail") else "rest"
    when_off = table.get("when_off", (str,), when_off_default)
    if when_off not in ("rest", "unavailable"):
        raise table.error("when_off", f"must be rest or unavailable; got {when_off!r}")
    if table.has("states") or table.has("offsets"):
        raise table.error("states" if table.has("states") else "offsets",
                          f"is for discrete sensors, not behaviour {behaviour!r}")
    try:
        Linear.for_range(minimum, maximum)
    except ValueError as err:
        raise table.error("max", str(err)) from None
    return SensorSpec(
        **common, reading_type=ReadingType.THRESHOLD, unit=unit, nominal=nominal, idle=idle,
        rest=rest, minimum=minimum, maximum=maximum, noise=noise, time_constant=time_constant,
        when_off=when_off, thresholds=tuple(thresholds.items()), hysteresis=hysteresis)


def _parse_thresholds(table: _Table) -> dict[str, float]:
    raw = table.get("thresholds", (dict,), {})
    thresholds: dict[str, float] = {}
    for key, value in raw.items():
        if key not in THRESHOLD_KEYS:
            raise table.error(f"thresholds.{key}", f"is not one of {', '.join(THRESHOLD_KEYS)}")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise table.error(f"thresholds.{key}", f"must be a number, got {value!r}")
        thresholds[key] = float(value)
    # Ordered from the bottom: lnr <= lc <= lnc < unc <= uc <= unr.
    ordered = [key for key in ("lnr", "lc", "lnc", "unc", "uc", "unr") if key in thresholds]
    for low, high in itertools.pairwise(ordered):
        if thresholds[low] > thresholds[high]:
            raise table.error(f"thresholds.{high}",
                              f"{thresholds[high]} is below {low} ({thresholds[low]})")
    return thresholds


def _parse_discrete(table: _Table, common: dict[str, Any]) -> SensorSpec:
    sensor_type = common["sensor_type"]
    reading_type = table.integer("reading_type", ReadingType.SENSOR_SPECIFIC, 0x02, 0x7F)
    states = _offset_list(table, "states", DEFAULT_STATES.get(sensor_type, ()))
    default_offsets = SUPPORTED_OFFSETS.get(sensor_type, ()) if reading_type == 0x6F else ()
    offsets = _offset_list(table, "offsets", tuple(sorted({*default_offsets, *states})))
    missing = sorted(set(states) - set(offsets))
    if missing:
        raise table.error("states", f"offset {missing[0]} is not in offsets")
    for key in ("nominal", "idle", "rest", "min", "max", "noise", "thresholds", "hysteresis",
                "unit", "when_off", "time_constant"):
        if table.has(key):
            raise table.error(key, f"is for sensors with a reading, not behaviour "
                                   f"{common['behaviour']!r}")
    if common["behaviour"] != "static" and table.has("states"):
        raise table.error("states", f"behaviour {common['behaviour']!r} keeps its own states")
    return SensorSpec(**common, reading_type=reading_type, states=states, offsets=offsets)


def _offset_list(table: _Table, key: str, default: tuple[int, ...]) -> tuple[int, ...]:
    values = table.get(key, (list,), list(default))
    for value in values:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 14:
            raise table.error(key, f"must be offsets 0..14, got {value!r}")
    return tuple(sorted(set(values)))


# ------------------------------------------------------------------------------- FRU
def derived_serials(bmc_name: str) -> tuple[str, str]:
    """(system serial, board serial): stable for a BMC name, different between names."""
    digest = hashlib.sha256(f"pybmc:{bmc_name}".encode()).hexdigest().upper()
    return f"PB{digest[:8]}", f"MB{digest[8:16]}"


def parse_fru(source: str, table_data: Any, bmc_name: str) -> FruSpec:
    table = _Table(source, "fru", table_data)
    system_serial, board_serial = derived_serials(bmc_name)
    size = table.integer("size", 256, 64, 4096)
    chassis = _parse_chassis(_Table(source, "fru.chassis", table.get("chassis", (dict,), {})),
                             system_serial)
    board = _parse_board(_Table(source, "fru.board", table.get("board", (dict,), {})),
                         board_serial)
    product = _parse_product(_Table(source, "fru.product", table.get("product", (dict,), {})),
                             system_serial)
    table.finish()
    return FruSpec(chassis=chassis, board=board, product=product, size=size)


def _parse_chassis(table: _Table, serial: str) -> ChassisInfo:
    defaults = ChassisInfo()
    info = ChassisInfo(
        chassis_type=table.code("type", CHASSIS_TYPE_NAMES, defaults.chassis_type, high=0x7F),
        part_number=table.text("part_number", defaults.part_number, FRU_TEXT_MAX),
        serial_number=table.text("serial_number", serial, FRU_TEXT_MAX),
    )
    table.finish()
    return info


def _parse_board(table: _Table, serial: str) -> BoardInfo:
    defaults = BoardInfo()
    info = BoardInfo(
        manufacturer=table.text("manufacturer", defaults.manufacturer, FRU_TEXT_MAX),
        product_name=table.text("product_name", defaults.product_name, FRU_TEXT_MAX),
        serial_number=table.text("serial_number", serial, FRU_TEXT_MAX),
        part_number=table.text("part_number", defaults.part_number, FRU_TEXT_MAX),
        manufacture_date=_fru_date(table, "manufacture_date", defaults.manufacture_date),
    )
    table.finish()
    return info


def _parse_product(table: _Table, serial: str) -> ProductInfo:
    defaults = ProductInfo()
    info = ProductInfo(
        manufacturer=table.text("manufacturer", defaults.manufacturer, FRU_TEXT_MAX),
        product_name=table.text("product_name", defaults.product_name, FRU_TEXT_MAX),
        part_number=table.text("part_number", defaults.part_number, FRU_TEXT_MAX),
        version=table.text("version", defaults.version, FRU_TEXT_MAX),
        serial_number=table.text("serial_number", serial, FRU_TEXT_MAX),
        asset_tag=table.text("asset_tag", defaults.asset_tag, FRU_TEXT_MAX),
    )
    table.finish()
    return info


def _fru_date(table: _Table, key: str, default: dt.datetime) -> dt.datetime:
    value = table.get(key, (str, dt.date), default)
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            raise table.error(key, f"must be a date like 2024-01-31 08:00; got {value!r}") from None
    if not isinstance(value, dt.datetime):  # a TOML date without a time
        value = dt.datetime(value.year, value.month, value.day)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    if not FRU_EPOCH <= value < FRU_DATE_LIMIT:
        raise table.error(key, f"must be between {FRU_EPOCH:%Y-%m-%d} and "
                               f"{FRU_DATE_LIMIT:%Y-%m-%d} (the FRU date range)")
    return value


# ------------------------------------------------------------------------------- SEL
def parse_sel(source: str, table_data: Any) -> SelSpec:
    table = _Table(source, "sel", table_data)
    # 4095 entries of 16 bytes still fit the 16-bit free-space field of Get SEL Info.
    spec = SelSpec(capacity=table.integer("capacity", 1024, 16, 4095))
    table.finish()
    return spec
