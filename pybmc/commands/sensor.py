"""Sensor/Event commands (NetFn 0x04, IPMI 2.0 chapters 29, 30 and 35).

Event receiver and Platform Event Message, PEF capabilities and configuration (stored, not
acted on), the device SDR view for the in-band side, and the sensor commands. The sensors and
their readings live in `ctx.platform`; `ctx.now` drives the readings.
"""

from __future__ import annotations

import struct

from pybmc.commands.dispatch import CommandTable, Context
from pybmc.model.platform import pef
from pybmc.model.platform.sensors import Sensor
from pybmc.wire.codes import BMC_SLAVE_ADDRESS, SYSTEM_INTERFACE_CHANNEL, Cc, NetFn, Privilege
from pybmc.wire.errors import CommandError

table = CommandTable()

SENSOR_EVENT = NetFn.SENSOR_EVENT
SMS_GENERATOR = 0x41  # system management software, ID 20h: in-band events without an ID byte
REMOTE_CONSOLE_GENERATOR = 0x81  # remote console software, ID 40h (what ipmitool sends from)
LINEAR_NEXT_READING = 0xFF  # Get Sensor Reading Factors: one set of factors for all readings
DEVICE_SDR_COUNT = 0x01  # Get Device SDR Info operation bit 0: count SDRs, not sensors
LUN0_HAS_SENSORS = 0x01
REARM_ALL = 0x00  # Re-arm Sensor Events byte 2 bit 7 clear: re-arm all events


def _sensor(ctx: Context, number: int) -> Sensor:
    if ctx.lun != 0:  # every sensor is on LUN 0 of the BMC
        raise CommandError(Cc.NOT_PRESENT, reason=f"no sensors on LUN {ctx.lun}")
    return ctx.platform.sensor(number)


# ------------------------------------------------------------------------------- events
@table.command(SENSOR_EVENT, 0x00, Privilege.ADMINISTRATOR, length=2)
def set_event_receiver(ctx: Context, data: bytes) -> bytes:
    ctx.state.extra["event_receiver"] = bytes([data[0], data[1] & 0x03]).hex()
    ctx.changes.mark()
    return b""


@table.command(SENSOR_EVENT, 0x01, Privilege.USER, length=0)
def get_event_receiver(ctx: Context, data: bytes) -> bytes:
    saved = ctx.state.extra.get("event_receiver")
    if isinstance(saved, str) and len(saved) == 4:
        return bytes.fromhex(saved)
    return bytes([BMC_SLAVE_ADDRESS, 0x00])


@table.command(SENSOR_EVENT, 0x02, Privilege.OPERATOR, length=(7, 8))
def platform_event(ctx: Context, data: bytes) -> bytes:
    """The system interface form has a generator ID first (8 bytes); LAN/IPMB has 7."""
    if len(data) == 8:
        generator, payload = data[0], data[1:]
    else:
        in_band = ctx.channel == SYSTEM_INTERFACE_CHANNEL
        generator = SMS_GENERATOR if in_band else REMOTE_CONSOLE_GENERATOR
        payload = data
    channel = 0 if ctx.channel == SYSTEM_INTERFACE_CHANNEL else ctx.channel & 0x0F
    ctx.platform.platform_event(generator | channel << 12, payload)
    return b""


# ------------------------------------------------------------------------------- PEF
@table.command(SENSOR_EVENT, 0x10, Privilege.USER, length=0)
def get_pef_capabilities(ctx: Context, data: bytes) -> bytes:
    return pef.capabilities()


@table.command(SENSOR_EVENT, 0x11, Privilege.ADMINISTRATOR, length=1)
def arm_pef_postpone_timer(ctx: Context, data: bytes) -> bytes:
    # No postpone timer runs (PEF acts at once); "get present countdown" (FFh) reads 0.
    return bytes([0x00 if data[0] == 0xFF else data[0]])


@table.command(SENSOR_EVENT, 0x12, Privilege.ADMINISTRATOR, length=(1, 64))
def set_pef_configuration_parameters(ctx: Context, data: bytes) -> bytes:
    if ctx.platform.pef.set(data[0], data[1:]):
        ctx.changes.mark()
    return b""


@table.command(SENSOR_EVENT, 0x13, Privilege.OPERATOR, length=3)
def get_pef_configuration_parameters(ctx: Context, data: bytes) -> bytes:
    return ctx.platform.pef.get(data[0], data[1], data[2])


@table.command(SENSOR_EVENT, 0x14, Privilege.ADMINISTRATOR, length=3)
def set_last_processed_event_id(ctx: Context, data: bytes) -> bytes:
    which = "last.bmc" if data[0] & 0x01 else "last.sw"
    ctx.platform.pef.values[which] = data[1:3].hex()
    ctx.changes.mark()
    return b""


@table.command(SENSOR_EVENT, 0x15, Privilege.ADMINISTRATOR, length=0)
def get_last_processed_event_id(ctx: Context, data: bytes) -> bytes:
    platform = ctx.platform
    values = platform.pef.values
    last = platform.sel.last_record_id()
    software = bytes.fromhex(values.get("last.sw", "ffff"))
    bmc_id = bytes.fromhex(values.get("last.bmc", struct.pack("<H", last).hex()))
    return struct.pack("<IH", platform.sel.last_add, last) + software + bmc_id


# ------------------------------------------------------------------------------- device SDRs
@table.command(SENSOR_EVENT, 0x20, Privilege.USER, length=(0, 1))
def get_device_sdr_info(ctx: Context, data: bytes) -> bytes:
    platform = ctx.platform
    if data and data[0] & DEVICE_SDR_COUNT:
        count = len(platform.device_sdr.records)
    else:
        count = len(platform.sensors)
    return bytes([min(count, 0xFF), LUN0_HAS_SENSORS])  # static sensor population


@table.command(SENSOR_EVENT, 0x21, Privilege.USER, length=6)
def get_device_sdr(ctx: Context, data: bytes) -> bytes:
    reservation_id, record_id, offset, count = struct.unpack("<HHBB", data)
    return ctx.platform.device_sdr.read(reservation_id, record_id, offset, count)


@table.command(SENSOR_EVENT, 0x22, Privilege.USER, length=0)
def reserve_device_sdr_repository(ctx: Context, data: bytes) -> bytes:
    return struct.pack("<H", ctx.platform.device_sdr.reservation.reserve())


# ------------------------------------------------------------------------------- sensors
@table.command(SENSOR_EVENT, 0x23, Privilege.USER, length=2)
def get_sensor_reading_factors(ctx: Context, data: bytes) -> bytes:
    sensor = _sensor(ctx, data[0])
    if sensor.linear is None:
        raise CommandError(Cc.ILLEGAL_FOR_SENSOR, reason=f"{sensor.name} has no reading")
    return bytes([LINEAR_NEXT_READING]) + sensor.linear.encode()


@table.command(SENSOR_EVENT, 0x24, Privilege.OPERATOR, length=4)
def set_sensor_hysteresis(ctx: Context, data: bytes) -> bytes:
    sensor = _sensor(ctx, data[0])
    sensor.set_hysteresis(data[2], data[3])
    ctx.platform.save_sensor_settings(sensor)
    return b""


@table.command(SENSOR_EVENT, 0x25, Privilege.USER, length=(1, 2))
def get_sensor_hysteresis(ctx: Context, data: bytes) -> bytes:
    return _sensor(ctx, data[0]).hysteresis_response()


@table.command(SENSOR_EVENT, 0x26, Privilege.OPERATOR, length=8)
def set_sensor_thresholds(ctx: Context, data: bytes) -> bytes:
    sensor = _sensor(ctx, data[0])
    sensor.set_thresholds(data[1], data[2:8])
    ctx.platform.save_sensor_settings(sensor)
    return b""


@table.command(SENSOR_EVENT, 0x27, Privilege.USER, length=1)
def get_sensor_thresholds(ctx: Context, data: bytes) -> bytes:
    return _sensor(ctx, data[0]).thresholds_response()


@table.command(SENSOR_EVENT, 0x28, Privilege.OPERATOR, length=(2, 6))
def set_sensor_event_enable(ctx: Context, data: bytes) -> bytes:
    sensor = _sensor(ctx, data[0])
    sensor.set_event_enable(data[1], data[2:])
    ctx.platform.save_sensor_settings(sensor)
    return b""


@table.command(SENSOR_EVENT, 0x29, Privilege.USER, length=1)
def get_sensor_event_enable(ctx: Context, data: bytes) -> bytes:
    return _sensor(ctx, data[0]).event_enable_response()


@table.command(SENSOR_EVENT, 0x2A, Privilege.OPERATOR, length=(2, 6))
def rearm_sensor_events(ctx: Context, data: bytes) -> bytes:
    sensor = _sensor(ctx, data[0])
    if (data[1] & 0x80) == REARM_ALL or len(data) == 2:
        sensor.rearm()
    else:
        # Re-arm only the given events: forget them, so a standing condition asserts again.
        rearm = int.from_bytes((data[2:6] + bytes(4))[:2], "little")
        sensor.asserted -= {offset for offset in range(15) if rearm & (1 << offset)}
    return b""


@table.command(SENSOR_EVENT, 0x2B, Privilege.USER, length=1)
def get_sensor_event_status(ctx: Context, data: bytes) -> bytes:
    sensor = _sensor(ctx, data[0])
    reading = ctx.platform.read(sensor, ctx.now)
    return sensor.event_status_response(reading)


@table.command(SENSOR_EVENT, 0x2D, Privilege.USER, length=1)
def get_sensor_reading(ctx: Context, data: bytes) -> bytes:
    sensor = _sensor(ctx, data[0])
    return ctx.platform.read(sensor, ctx.now).encode(sensor.enable_flags)


@table.command(SENSOR_EVENT, 0x2E, Privilege.OPERATOR, length=3)
def set_sensor_type(ctx: Context, data: bytes) -> bytes:
    """A sensor's type comes from the platform config; a client may only confirm it."""
    spec = _sensor(ctx, data[0]).spec
    if (data[1], data[2] & 0x7F) != (spec.sensor_type, spec.reading_type):
        raise CommandError(Cc.ILLEGAL_FOR_SENSOR,
                           reason=f"sensor {data[0]:#04x}: its type is fixed by the config")
    return b""


@table.command(SENSOR_EVENT, 0x2F, Privilege.USER, length=1)
def get_sensor_type(ctx: Context, data: bytes) -> bytes:
    spec = _sensor(ctx, data[0]).spec
    return bytes([spec.sensor_type, spec.reading_type])


@table.command(SENSOR_EVENT, 0x30, Privilege.OPERATOR, length=(2, 10))
def set_sensor_reading_and_event_status(ctx: Context, data: bytes) -> bytes:
    """For the parts pybmc keeps: see Sensor.set_reading_and_status. Not persisted: the
    readings are the running machine's."""
    sensor = _sensor(ctx, data[0])
    padded = data[2:] + bytes(8)
    sensor.set_reading_and_status(data[1], padded[0], int.from_bytes(padded[1:3], "little"))
    return b""
