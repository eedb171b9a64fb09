"""DCMI 1.5 commands (NetFn Group Extension 0x2C, group 0xDC): capabilities, power reading
and limit, asset tag, controller ID string, sensor info, temperatures, thermal limit and the
discovery configuration parameters.

Every request and response starts with the group ID 0xDC; a request for another group
(PICMG 0x00, VSO 0x03, which ipmitool probes) answers 0xC1 as on a BMC without that group.
"""

from __future__ import annotations

import struct

from pybmc.commands.dispatch import CommandTable, Context
from pybmc.model.dcmi import (
    MAX_ASSET_TAG,
    MAX_MC_ID,
    POWER_LIMIT_ACTIONS,
    ROLLING_PERIODS,
    THERMAL_LOG,
    THERMAL_POWER_OFF,
    Dcmi,
)
from pybmc.wire.codes import LAN_CHANNEL, Cc, NetFn, Privilege
from pybmc.wire.errors import CommandError

table = CommandTable()

GROUP = 0xDC
GROUP_BYTE = bytes([GROUP])
CONFORMANCE = bytes([0x01, 0x05])  # DCMI 1.5
CAPABILITY_REVISION = 0x02
CONFIGURATION_REVISION = 0x01
BMC_SLAVE_ADDRESS_7BIT = 0x40  # 20h, shifted as capability parameter 3 carries it
NOT_AVAILABLE = 0xFF

# DCMI completion codes
PARAMETER_NOT_SUPPORTED = 0x80
NO_ACTIVE_POWER_LIMIT = 0x80
POWER_LIMIT_OUT_OF_RANGE = 0x84
CORRECTION_TIME_OUT_OF_RANGE = 0x85
SAMPLING_PERIOD_OUT_OF_RANGE = 0x89

MAX_CORRECTION_MS = 600_000
MAX_SAMPLING_SECONDS = 3600
MAX_READ = 16  # asset tag / ID string bytes per request
MAX_SETS = 8  # sensor record IDs or temperatures per response
POWER_MEASUREMENT_ACTIVE = 0x40
SYSTEM_POWER_STATISTICS = 0x01
ENHANCED_POWER_STATISTICS = 0x02
TEMPERATURE = 0x01


def _group(data: bytes) -> None:
    if data[:1] != GROUP_BYTE:
        raise CommandError(Cc.INVALID_COMMAND, reason="not a DCMI (0xDC) request")


def _dcmi(ctx: Context) -> Dcmi:
    return ctx.dcmi


def _period_byte(seconds: int) -> int:
    """Rolling period as DCMI encodes it: bits 7:6 unit (seconds/minutes), 5:0 value."""
    return seconds if seconds < 60 else 0x40 | (seconds // 60)


def _period_seconds(code: int) -> int:
    unit = code >> 6
    return (code & 0x3F) * (1, 60, 3600, 86400)[unit]


# ----------------------------------------------------------------- capabilities
def _capability_parameter(ctx: Context, selector: int) -> bytes:
    dcmi = _dcmi(ctx)
    if selector == 1:  # supported capabilities: mandatory, optional, manageability access
        mandatory = 0x0F  # identification, SEL, chassis power, temperature monitor
        access = 0x01 | 0x08 | 0x10 | 0x20  # in-band KCS, primary LAN, SOL, VLAN capable
        return bytes([mandatory, 0x01, access])  # optional: power management
    if selector == 2:  # mandatory platform attributes
        entries = ctx.platform.sel.capacity & 0x0FFF
        temperatures = sum(bit for entity, bit in ((0x40, 1), (0x41, 2), (0x42, 4))
                           if dcmi.temperature_sensors(entity))
        return struct.pack("<H", entries) + bytes([0x07, temperatures, 1])
    if selector == 3:  # optional platform attributes: power management by the BMC itself
        return bytes([BMC_SLAVE_ADDRESS_7BIT, 0x00])
    if selector == 4:  # manageability access: primary LAN channel, no secondary, no serial
        return bytes([LAN_CHANNEL, NOT_AVAILABLE, NOT_AVAILABLE])
    if selector == 5:  # enhanced power statistics: the rolling average periods
        return bytes([len(ROLLING_PERIODS)]) + bytes(_period_byte(p) for p in ROLLING_PERIODS)
    raise CommandError(PARAMETER_NOT_SUPPORTED, reason=f"capability parameter {selector}")


@table.command(NetFn.GROUP_EXTENSION, 0x01, Privilege.USER, length=2)
def get_dcmi_capability_info(ctx: Context, data: bytes) -> bytes:
    _group(data)
    return (GROUP_BYTE + CONFORMANCE + bytes([CAPABILITY_REVISION])
            + _capability_parameter(ctx, data[1]))


# ----------------------------------------------------------------- power
@table.command(NetFn.GROUP_EXTENSION, 0x02, Privilege.USER, length=4)
def get_power_reading(ctx: Context, data: bytes) -> bytes:
    _group(data)
    dcmi = _dcmi(ctx)
    mode, attribute = data[1], data[2]
    if mode == SYSTEM_POWER_STATISTICS:
        stats = dcmi.statistics(ctx.now)
    elif mode == ENHANCED_POWER_STATISTICS:
        seconds = _period_seconds(attribute)
        if seconds not in ROLLING_PERIODS:
            raise CommandError(Cc.INVALID_DATA_FIELD, reason=f"rolling period {attribute:#x}")
        stats = dcmi.statistics(ctx.now, seconds)
    else:
        raise CommandError(Cc.INVALID_DATA_FIELD, reason=f"power reading mode {mode:#x}")
    return GROUP_BYTE + struct.pack("<HHHHIIB", stats.current, stats.minimum, stats.maximum,
                                    stats.average, dcmi.timestamp(),
                                    stats.period_seconds * 1000, POWER_MEASUREMENT_ACTIVE)


def _power_limit_bytes(ctx: Context) -> bytes:
    limit = _dcmi(ctx).settings.power_limit
    return GROUP_BYTE + struct.pack("<HBHIHH", 0, limit.action, limit.watts,
                                    limit.correction_ms, 0, limit.sampling_seconds)


@table.command(NetFn.GROUP_EXTENSION, 0x03, Privilege.USER, length=3)
def get_power_limit(ctx: Context, data: bytes) -> bytes:
    _group(data)
    response = _power_limit_bytes(ctx)
    if not _dcmi(ctx).settings.power_limit.active:
        # The limit reads back with 80h "no active power limit", as DCMI says.
        raise CommandError(NO_ACTIVE_POWER_LIMIT, data=response, reason="no active limit")
    return response


@table.command(NetFn.GROUP_EXTENSION, 0x04, Privilege.OPERATOR, length=15)
def set_power_limit(ctx: Context, data: bytes) -> bytes:
    _group(data)
    action = data[4]
    watts, correction_ms, _, sampling = struct.unpack("<HIHH", data[5:15])
    if action not in POWER_LIMIT_ACTIONS:
        raise CommandError(Cc.INVALID_DATA_FIELD, reason=f"exception action {action:#x}")
    sensor = _dcmi(ctx).power_sensor
    # 0 W is "no limit requested", which Get Power Limit reports until one is set: accepted
    # while no limit is active, so that FreeIPMI's DCMI_Conf checkout commits back.
    if (watts == 0 and _dcmi(ctx).settings.power_limit.active) or (
            sensor is not None and watts > sensor.spec.maximum):
        raise CommandError(POWER_LIMIT_OUT_OF_RANGE, reason=f"power limit {watts} W")
    if correction_ms > MAX_CORRECTION_MS:
        raise CommandError(CORRECTION_TIME_OUT_OF_RANGE, reason=f"{correction_ms} ms")
    if not 1 <= sampling <= MAX_SAMPLING_SECONDS:
        raise CommandError(SAMPLING_PERIOD_OUT_OF_RANGE, reason=f"{sampling} s")
    dcmi = _dcmi(ctx)
    limit = dcmi.settings.power_limit
    limit.action, limit.watts = action, watts
    limit.correction_ms, limit.sampling_seconds = correction_ms, sampling
    dcmi.save()
    return GROUP_BYTE


@table.command(NetFn.GROUP_EXTENSION, 0x05, Privilege.OPERATOR, length=4)
def activate_power_limit(ctx: Context, data: bytes) -> bytes:
    _group(data)
    if data[1] not in (0, 1):
        raise CommandError(Cc.INVALID_DATA_FIELD, reason=f"activation {data[1]:#x}")
    dcmi = _dcmi(ctx)
    if data[1] == 1 and not dcmi.settings.power_limit.watts:
        raise CommandError(POWER_LIMIT_OUT_OF_RANGE, reason="activation of a 0 W limit")
    dcmi.settings.power_limit.active = data[1] == 1
    dcmi.save()
    return GROUP_BYTE


# ----------------------------------------------------------------- identity strings
def _read_string(value: str, data: bytes) -> bytes:
    offset, count = data[1], data[2]
    if count > MAX_READ:
        raise CommandError(Cc.INVALID_DATA_FIELD, reason=f"read of {count} bytes")
    raw = value.encode("utf-8")
    return GROUP_BYTE + bytes([len(raw)]) + raw[offset:offset + count]


def _write_string(value: str, data: bytes, limit: int) -> str:
    offset, count, chunk = data[1], data[2], data[3:]
    if count != len(chunk) or count > MAX_READ or offset + count > limit + 1:
        raise CommandError(Cc.INVALID_DATA_FIELD, reason=f"write of {count} at {offset}")
    # NUL, not space, before a write past the end: FreeIPMI clears a tag by writing NULs at
    # offsets 0, 16, 32 and 48, which must leave it empty, as a zeroed buffer would be.
    raw = value.encode("utf-8")[:offset].ljust(offset, b"\x00") + chunk
    return raw.split(b"\x00", 1)[0][:limit].decode("utf-8", "replace")


def _total_written(data: bytes) -> int:
    """DCMI 1.5 Set Asset Tag / Set MC ID String: "the sum of the offset to write plus bytes to
    write", not the stored string's length: FreeIPMI advances its write offset by this value,
    so a write of NULs (clearing the string) answered with 0 made it loop forever."""
    return data[1] + data[2]


@table.command(NetFn.GROUP_EXTENSION, 0x06, Privilege.USER, length=3)
def get_asset_tag(ctx: Context, data: bytes) -> bytes:
    _group(data)
    return _read_string(_dcmi(ctx).settings.asset_tag, data)


@table.command(NetFn.GROUP_EXTENSION, 0x08, Privilege.ADMINISTRATOR, length=(3, 19))
def set_asset_tag(ctx: Context, data: bytes) -> bytes:
    _group(data)
    dcmi = _dcmi(ctx)
    dcmi.settings.asset_tag = _write_string(dcmi.settings.asset_tag, data, MAX_ASSET_TAG)
    dcmi.save()
    return GROUP_BYTE + bytes([_total_written(data)])


@table.command(NetFn.GROUP_EXTENSION, 0x09, Privilege.USER, length=3)
def get_management_controller_id_string(ctx: Context, data: bytes) -> bytes:
    _group(data)
    return _read_string(_dcmi(ctx).settings.mc_id, data)


@table.command(NetFn.GROUP_EXTENSION, 0x0A, Privilege.ADMINISTRATOR, length=(3, 19))
def set_management_controller_id_string(ctx: Context, data: bytes) -> bytes:
    _group(data)
    dcmi = _dcmi(ctx)
    dcmi.settings.mc_id = _write_string(dcmi.settings.mc_id, data, MAX_MC_ID)
    dcmi.save()
    return GROUP_BYTE + bytes([_total_written(data)])


# ----------------------------------------------------------------- temperatures
def _selected_sensors(ctx: Context, data: bytes) -> tuple[int, list]:
    """(total instances, the sensors this request asks for) of a sensor info/temperature
    request: sensor type, entity, instance (0 = all), first instance (1-based)."""
    sensor_type, entity, instance, start = data[1], data[2], data[3], data[4]
    if sensor_type != TEMPERATURE:
        raise CommandError(Cc.INVALID_DATA_FIELD, reason=f"sensor type {sensor_type:#x}")
    sensors = _dcmi(ctx).temperature_sensors(entity)
    if instance:
        return len(sensors), [s for s in sensors if s.spec.entity_instance == instance][:1]
    first = max(start, 1) - 1
    return len(sensors), sensors[first:first + MAX_SETS]


@table.command(NetFn.GROUP_EXTENSION, 0x07, Privilege.USER, length=5)
def get_dcmi_sensor_info(ctx: Context, data: bytes) -> bytes:
    _group(data)
    total, sensors = _selected_sensors(ctx, data)
    ids = b"".join(struct.pack("<H", _dcmi(ctx).record_id(s)) for s in sensors)
    return GROUP_BYTE + bytes([total, len(sensors)]) + ids


@table.command(NetFn.GROUP_EXTENSION, 0x10, Privilege.USER, length=5)
def get_temperature_reading(ctx: Context, data: bytes) -> bytes:
    _group(data)
    total, sensors = _selected_sensors(ctx, data)
    sets = bytearray()
    powered = ctx.platform.powered()
    for sensor in sensors:
        value = sensor.value(ctx.now, powered)
        celsius = round(value) if value is not None else 0
        sign = 0x80 if celsius < 0 else 0x00
        sets += bytes([sign | min(abs(celsius), 0x7F), sensor.spec.entity_instance])
    return GROUP_BYTE + bytes([total, len(sensors)]) + bytes(sets)


def _thermal_entity(data: bytes) -> None:
    if data[1] not in (0x40, 0x37):  # DCMI defines the thermal limit for the inlet only
        raise CommandError(Cc.INVALID_DATA_FIELD, reason=f"thermal entity {data[1]:#x}")


@table.command(NetFn.GROUP_EXTENSION, 0x0B, Privilege.OPERATOR, length=7)
def set_thermal_limit(ctx: Context, data: bytes) -> bytes:
    _group(data)
    _thermal_entity(data)
    actions = data[4] & (THERMAL_POWER_OFF | THERMAL_LOG)
    dcmi = _dcmi(ctx)
    limit = dcmi.settings.thermal_limit
    limit.celsius, limit.actions = data[3], actions
    limit.exception_seconds = struct.unpack("<H", data[5:7])[0]
    dcmi.save()
    return GROUP_BYTE


@table.command(NetFn.GROUP_EXTENSION, 0x0C, Privilege.USER, length=3)
def get_thermal_limit(ctx: Context, data: bytes) -> bytes:
    _group(data)
    _thermal_entity(data)
    limit = _dcmi(ctx).settings.thermal_limit
    return GROUP_BYTE + bytes([limit.celsius, limit.actions]) + struct.pack(
        "<H", limit.exception_seconds)


# ----------------------------------------------------------------- configuration parameters
# selector -> (settings attribute or "" for write-only, data length)
CONFIGURATION = {
    1: ("", 1),  # activate DHCP: write-only, reads 0
    2: ("discovery", 1),
    3: ("dhcp_initial_timeout", 1),
    4: ("dhcp_server_timeout", 2),
    5: ("dhcp_retry_interval", 2),
}


@table.command(NetFn.GROUP_EXTENSION, 0x12, Privilege.ADMINISTRATOR, length=(4, 5))
def set_dcmi_configuration_parameters(ctx: Context, data: bytes) -> bytes:
    _group(data)
    selector, value = data[1], data[3:]
    if selector not in CONFIGURATION:
        raise CommandError(PARAMETER_NOT_SUPPORTED, reason=f"parameter {selector}")
    attribute, size = CONFIGURATION[selector]
    if len(value) != size:
        raise CommandError(Cc.REQUEST_DATA_LENGTH_INVALID, reason=f"parameter {selector}")
    dcmi = _dcmi(ctx)
    if attribute:
        setattr(dcmi.settings, attribute, int.from_bytes(value, "little"))
        dcmi.save()
    # Activate DHCP: the emulated BMC has no DHCP client; the request is accepted.
    return GROUP_BYTE


@table.command(NetFn.GROUP_EXTENSION, 0x13, Privilege.USER, length=3)
def get_dcmi_configuration_parameters(ctx: Context, data: bytes) -> bytes:
    _group(data)
    selector = data[1]
    if selector not in CONFIGURATION:
        raise CommandError(PARAMETER_NOT_SUPPORTED, reason=f"parameter {selector}")
    attribute, size = CONFIGURATION[selector]
    value = getattr(_dcmi(ctx).settings, attribute) if attribute else 0
    return (GROUP_BYTE + CONFORMANCE + bytes([CONFIGURATION_REVISION])
            + int(value).to_bytes(size, "little"))

