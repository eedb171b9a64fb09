"""Numbers from the IPMI 2.0 sensor and SDR tables that the platform data uses, with config names.

Sensor types: table 42-3. Event/reading types: table 42-1. Units: table 43-15. Entity IDs:
table 43-13. FRU chassis types: SMBIOS 3.x table 17 (as the FRU spec says).
"""

from __future__ import annotations

from enum import IntEnum


class SensorType(IntEnum):
    TEMPERATURE = 0x01
    VOLTAGE = 0x02
    CURRENT = 0x03
    FAN = 0x04
    PHYSICAL_SECURITY = 0x05
    PLATFORM_SECURITY = 0x06
    PROCESSOR = 0x07
    POWER_SUPPLY = 0x08
    POWER_UNIT = 0x09
    COOLING_DEVICE = 0x0A
    OTHER_UNITS = 0x0B  # "Other units-based sensor": the usual type of a power (watts) sensor
    MEMORY = 0x0C
    DRIVE_SLOT = 0x0D
    EVENT_LOGGING_DISABLED = 0x10
    SYSTEM_EVENT = 0x12
    BUTTON = 0x14
    SYSTEM_BOOT = 0x1D  # System Boot / Restart Initiated
    OS_BOOT = 0x1F
    OS_STOP = 0x20
    SLOT_CONNECTOR = 0x21
    ACPI_POWER_STATE = 0x22
    WATCHDOG_2 = 0x23
    ENTITY_PRESENCE = 0x25
    LAN = 0x27
    MANAGEMENT_SUBSYSTEM_HEALTH = 0x28
    BATTERY = 0x29


class ReadingType(IntEnum):
    THRESHOLD = 0x01
    SENSOR_SPECIFIC = 0x6F


class Unit(IntEnum):
    UNSPECIFIED = 0
    CELSIUS = 1
    FAHRENHEIT = 2
    KELVIN = 3
    VOLTS = 4
    AMPS = 5
    WATTS = 6
    JOULES = 7
    RPM = 18
    HERTZ = 19
    SECONDS = 22
    MINUTES = 23


class Entity(IntEnum):
    PROCESSOR = 0x03
    DISK = 0x04
    SYSTEM_MANAGEMENT_MODULE = 0x06
    SYSTEM_BOARD = 0x07
    MEMORY_MODULE = 0x08
    POWER_SUPPLY = 0x0A
    ADD_IN_CARD = 0x0B
    POWER_UNIT = 0x13
    POWER_MANAGEMENT = 0x15
    SYSTEM_CHASSIS = 0x17
    FAN = 0x1D
    COOLING_UNIT = 0x1E
    MEMORY_DEVICE = 0x20
    BIOS = 0x22
    BATTERY = 0x28
    AIR_INLET = 0x40
    BASEBOARD = 0x42


# Config names (lower case, '-' between words) -> codes. Numbers are accepted everywhere too.
SENSOR_TYPE_NAMES: dict[str, int] = {
    "temperature": SensorType.TEMPERATURE,
    "voltage": SensorType.VOLTAGE,
    "current": SensorType.CURRENT,
    "fan": SensorType.FAN,
    "physical-security": SensorType.PHYSICAL_SECURITY,
    "platform-security": SensorType.PLATFORM_SECURITY,
    "processor": SensorType.PROCESSOR,
    "power-supply": SensorType.POWER_SUPPLY,
    "power-unit": SensorType.POWER_UNIT,
    "cooling-device": SensorType.COOLING_DEVICE,
    "power": SensorType.OTHER_UNITS,
    "other-units": SensorType.OTHER_UNITS,
    "memory": SensorType.MEMORY,
    "drive-slot": SensorType.DRIVE_SLOT,
    "event-logging": SensorType.EVENT_LOGGING_DISABLED,
    "system-event": SensorType.SYSTEM_EVENT,
    "button": SensorType.BUTTON,
    "system-boot": SensorType.SYSTEM_BOOT,
    "os-boot": SensorType.OS_BOOT,
    "os-stop": SensorType.OS_STOP,
    "slot-connector": SensorType.SLOT_CONNECTOR,
    "acpi-power-state": SensorType.ACPI_POWER_STATE,
    "watchdog": SensorType.WATCHDOG_2,
    "entity-presence": SensorType.ENTITY_PRESENCE,
    "lan": SensorType.LAN,
    "management-health": SensorType.MANAGEMENT_SUBSYSTEM_HEALTH,
    "battery": SensorType.BATTERY,
}

# Sensor types that are read as numbers with thresholds (everything else is discrete).
ANALOG_SENSOR_TYPES = frozenset({
    SensorType.TEMPERATURE, SensorType.VOLTAGE, SensorType.CURRENT, SensorType.FAN,
    SensorType.OTHER_UNITS, SensorType.COOLING_DEVICE,
})

UNIT_NAMES: dict[str, int] = {
    "none": Unit.UNSPECIFIED,
    "celsius": Unit.CELSIUS,
    "fahrenheit": Unit.FAHRENHEIT,
    "kelvin": Unit.KELVIN,
    "volts": Unit.VOLTS,
    "amps": Unit.AMPS,
    "watts": Unit.WATTS,
    "joules": Unit.JOULES,
    "rpm": Unit.RPM,
    "hertz": Unit.HERTZ,
    "seconds": Unit.SECONDS,
    "minutes": Unit.MINUTES,
}

DEFAULT_UNITS: dict[int, int] = {
    SensorType.TEMPERATURE: Unit.CELSIUS,
    SensorType.VOLTAGE: Unit.VOLTS,
    SensorType.CURRENT: Unit.AMPS,
    SensorType.FAN: Unit.RPM,
    SensorType.OTHER_UNITS: Unit.WATTS,
    SensorType.COOLING_DEVICE: Unit.RPM,
}

ENTITY_NAMES: dict[str, int] = {
    "processor": Entity.PROCESSOR,
    "disk": Entity.DISK,
    "system-management-module": Entity.SYSTEM_MANAGEMENT_MODULE,
    "system-board": Entity.SYSTEM_BOARD,
    "memory-module": Entity.MEMORY_MODULE,
    "power-supply": Entity.POWER_SUPPLY,
    "add-in-card": Entity.ADD_IN_CARD,
    "power-unit": Entity.POWER_UNIT,
    "power-management": Entity.POWER_MANAGEMENT,
    "system-chassis": Entity.SYSTEM_CHASSIS,
    "fan": Entity.FAN,
    "cooling-unit": Entity.COOLING_UNIT,
    "memory": Entity.MEMORY_DEVICE,
    "bios": Entity.BIOS,
    "battery": Entity.BATTERY,
    "air-inlet": Entity.AIR_INLET,
    "baseboard": Entity.BASEBOARD,
}

DEFAULT_ENTITIES: dict[int, int] = {
    SensorType.TEMPERATURE: Entity.SYSTEM_BOARD,
    SensorType.VOLTAGE: Entity.SYSTEM_BOARD,
    SensorType.CURRENT: Entity.POWER_SUPPLY,
    SensorType.FAN: Entity.FAN,
    SensorType.OTHER_UNITS: Entity.POWER_SUPPLY,
    SensorType.PHYSICAL_SECURITY: Entity.SYSTEM_CHASSIS,
    SensorType.PROCESSOR: Entity.PROCESSOR,
    SensorType.POWER_SUPPLY: Entity.POWER_SUPPLY,
    SensorType.POWER_UNIT: Entity.POWER_UNIT,
    SensorType.MEMORY: Entity.MEMORY_DEVICE,
    SensorType.EVENT_LOGGING_DISABLED: Entity.SYSTEM_MANAGEMENT_MODULE,
    SensorType.SYSTEM_BOOT: Entity.BIOS,
    SensorType.ACPI_POWER_STATE: Entity.SYSTEM_CHASSIS,
    SensorType.WATCHDOG_2: Entity.SYSTEM_BOARD,
    SensorType.MANAGEMENT_SUBSYSTEM_HEALTH: Entity.SYSTEM_MANAGEMENT_MODULE,
}

# The sensor-specific offsets (table 42-3) a discrete sensor of this type can report.
SUPPORTED_OFFSETS: dict[int, tuple[int, ...]] = {
    SensorType.PHYSICAL_SECURITY: (0,),  # general chassis intrusion
    SensorType.POWER_SUPPLY: (0, 1, 2, 3),  # presence, failure, predictive failure, AC lost
    SensorType.POWER_UNIT: (0, 1, 4),  # power off/down, power cycle, AC lost
    SensorType.EVENT_LOGGING_DISABLED: (2, 4, 5),  # log cleared, log full, log almost full
    SensorType.SYSTEM_BOOT: (0, 1, 2, 7),  # by power up, hard reset, warm reset, restart
    SensorType.ACPI_POWER_STATE: (0, 5),  # S0/G0 working, S5/G2 soft-off
    SensorType.WATCHDOG_2: (0, 1, 2, 3, 8),  # expired, reset, power down, cycle, interrupt
    SensorType.MANAGEMENT_SUBSYSTEM_HEALTH: (2,),  # management controller off-line
}

CHASSIS_TYPE_NAMES: dict[str, int] = {
    "other": 0x01,
    "unknown": 0x02,
    "desktop": 0x03,
    "tower": 0x07,
    "main-server": 0x11,
    "rack-mount": 0x17,
    "multi-system": 0x19,
    "blade": 0x1C,
    "blade-enclosure": 0x1D,
}
