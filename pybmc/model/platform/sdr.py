"""The SDR repository: record encodings (IPMI 2.0 section 43) and reads with reservations.

Record layouts, 1-based byte numbers as in the spec tables:
- Full sensor (01h, table 43-1): 48 bytes + ID string; analog sensors with M, B, exponents,
  nominal and threshold values.
- Compact sensor (02h, table 43-2): 32 bytes + ID string; discrete sensors.
- FRU device locator (11h, table 43-7): 16 bytes + ID string.
- Management controller device locator (12h, table 43-8): 16 bytes + ID string.
A reservation is cancelled by the next Reserve and when the records change (Set Sensor
Thresholds or Hysteresis rewrites the sensor's record), as the spec says; clients then reserve
again and go on.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from pybmc.wire.codes import BMC_SLAVE_ADDRESS, Cc
from pybmc.wire.errors import CommandError
from pybmc.wire.platform_codes import ReadingType

SDR_VERSION = 0x51
FULL_SENSOR = 0x01
COMPACT_SENSOR = 0x02
FRU_DEVICE_LOCATOR = 0x11
MC_DEVICE_LOCATOR = 0x12
HEADER_SIZE = 5
ENTIRE_RECORD = 0xFF
FIRST_RECORD = 0x0000
LAST_RECORD = 0xFFFF  # also "no next record"
ALLOCATION_UNIT = 16
REPOSITORY_UNITS = 256  # 4 KiB, as small BMCs have; the free space is what we do not use

# Operation support (Get SDR Repository Info byte 14): reserve + get allocation info.
SDR_OPS_RESERVE = 0x02
SDR_OPS_ALLOCATION_INFO = 0x01

# Sensor initialization (byte 11): init scanning, events, thresholds, hysteresis, type;
# event generation and scanning enabled.
INIT_ANALOG = 0x7F
INIT_DISCRETE = 0x67
# Sensor capabilities (byte 12): auto re-arm; hysteresis and thresholds readable and settable;
# per-threshold / per-state event message control.
CAPS_ANALOG = 0x40 | 0x20 | 0x08
CAPS_DISCRETE = 0x40
ANALOG_NO_READING = 0xC0  # units 1, bits 7:6 = 11b: the sensor has no numeric reading


class Reservation:
    """Reserve SDR / Reserve SEL IDs: never 0 (ipmitool reads 0 as failure), one live at a time."""

    __slots__ = ("_last", "current")

    def __init__(self) -> None:
        self.current = 0
        self._last = 0

    def reserve(self) -> int:
        self._last = self._last % 0xFFFF + 1
        self.current = self._last
        return self.current

    def is_valid(self, reservation_id: int) -> bool:
        return reservation_id != 0 and reservation_id == self.current

    def cancel(self) -> None:
        self.current = 0


# Clear SEL / Clear SDR Repository (IPMI 2.0 31.9 and 33.11): the request's fields and answer.
CLEAR_SIGNATURE = b"CLR"
INITIATE_ERASE = 0xAA
GET_ERASURE_STATUS = 0x00
ERASURE_COMPLETED = 0x01


def erase_requested(reservation: Reservation, cleared_with: int, reservation_id: int,
                    signature: bytes, action: int, what: str) -> bool:
    """Check a Clear SEL / Clear SDR Repository request for `what` ("SEL", "SDR"): True to
    erase now, False for a status query (answered "completed": an erase is done at once).
    A status query may still name the reservation the erase was started with."""
    if signature != CLEAR_SIGNATURE:
        raise CommandError(Cc.INVALID_DATA_FIELD, reason=f"Clear {what} without 'CLR'")
    if action == GET_ERASURE_STATUS:
        if not (reservation.is_valid(reservation_id) or reservation_id == cleared_with != 0):
            raise CommandError(Cc.RESERVATION_CANCELLED, reason=f"{what} reservation not valid")
        return False
    if action != INITIATE_ERASE:
        raise CommandError(Cc.INVALID_DATA_FIELD, reason=f"Clear {what} action {action:#04x}")
    if not reservation.is_valid(reservation_id):
        raise CommandError(Cc.RESERVATION_CANCELLED, reason=f"{what} reservation not valid")
    return True


def id_string(name: str) -> bytes:
    """Type/length byte (8-bit ASCII+Latin-1, bits 7:6 = 11b) and the string."""
    encoded = name.encode("latin-1")[:16]
    return bytes([0xC0 | len(encoded)]) + encoded


def with_header(record_id: int, record_type: int, body: bytes) -> bytes:
    return struct.pack("<HBBB", record_id, SDR_VERSION, record_type, len(body)) + body


@dataclass(frozen=True)
class SensorRecordFields:
    """What a sensor record says about one sensor (sensor.py fills it from the spec)."""

    number: int
    name: str
    sensor_type: int
    reading_type: int
    entity: int
    entity_instance: int
    assertion_mask: int = 0  # bits 0..14 of bytes 15-16
    deassertion_mask: int = 0  # bits 0..14 of bytes 17-18
    reading_mask: int = 0  # bytes 19-20: discrete states, or readable | settable << 8
    unit: int = 0
    linear: bytes = bytes(6)  # bytes 25..30
    nominal: int = 0
    normal_max: int = 0xFF
    normal_min: int = 0x00
    thresholds: tuple[int, int, int, int, int, int] = (0, 0, 0, 0, 0, 0)  # unr uc unc lnr lc lnc
    hysteresis: tuple[int, int] = (0, 0)  # positive-going, negative-going
    extra: dict[str, int] = field(default_factory=dict)


def _sensor_key(fields: SensorRecordFields) -> bytes:
    """Bytes 6..8: owner (the BMC on IPMB), owner LUN 0 (xCAT sends it as the LUN), number."""
    return bytes([BMC_SLAVE_ADDRESS, 0x00, fields.number])


def _event_masks(fields: SensorRecordFields) -> bytes:
    return struct.pack("<HHH", fields.assertion_mask, fields.deassertion_mask,
                       fields.reading_mask)


def full_sensor_record(record_id: int, fields: SensorRecordFields) -> bytes:
    threshold = fields.reading_type == ReadingType.THRESHOLD
    body = (
        _sensor_key(fields)
        + bytes([
            fields.entity,
            fields.entity_instance & 0x7F,  # physical entity
            INIT_ANALOG if threshold else INIT_DISCRETE,
            CAPS_ANALOG if threshold else CAPS_DISCRETE,
            fields.sensor_type,
            fields.reading_type,
        ])
        + _event_masks(fields)
        + bytes([
            0x00 if threshold else ANALOG_NO_READING,  # unsigned, no rate, no modifier unit
            fields.unit,
            0x00,  # modifier unit
            0x00,  # linear
        ])
        + fields.linear
        + bytes([
            0x07,  # nominal, normal max and normal min are given
            fields.nominal,
            fields.normal_max,
            fields.normal_min,
            0xFF,  # sensor maximum reading
            0x00,  # sensor minimum reading
            *fields.thresholds,
            *fields.hysteresis,
            0x00, 0x00,  # reserved
            0x00,  # OEM
        ])
        + id_string(fields.name)
    )
    return with_header(record_id, FULL_SENSOR, body)


def compact_sensor_record(record_id: int, fields: SensorRecordFields) -> bytes:
    body = (
        _sensor_key(fields)
        + bytes([
            fields.entity,
            fields.entity_instance & 0x7F,
            INIT_DISCRETE,
            CAPS_DISCRETE,
            fields.sensor_type,
            fields.reading_type,
        ])
        + _event_masks(fields)
        + bytes([
            ANALOG_NO_READING,
            fields.unit,
            0x00,  # modifier unit
            0x01,  # record sharing: one sensor, numeric instance modifier
            0x00,  # entity instance not shared, no instance modifier offset
            0x00, 0x00,  # hysteresis (none for discrete sensors)
            0x00, 0x00, 0x00,  # reserved
            0x00,  # OEM
        ])
        + id_string(fields.name)
    )
    return with_header(record_id, COMPACT_SENSOR, body)


def fru_locator_record(record_id: int, fru_id: int, name: str, entity: int,
                       entity_instance: int) -> bytes:
    body = bytes([
        BMC_SLAVE_ADDRESS,  # device access address: the BMC answers for the FRU
        fru_id,
        0x80,  # logical FRU device, access LUN 0, private bus 0
        0x00,  # channel 0 (IPMB)
        0x00,  # reserved
        0x10,  # device type: FRU inventory device behind a management controller
        0x00,  # device type modifier: IPMI FRU inventory
        entity,
        entity_instance & 0x7F,
        0x00,  # OEM
    ]) + id_string(name)
    return with_header(record_id, FRU_DEVICE_LOCATOR, body)


def mc_locator_record(record_id: int, name: str, capabilities: int, entity: int,
                      entity_instance: int) -> bytes:
    body = bytes([
        BMC_SLAVE_ADDRESS,
        0x00,  # channel 0
        0x00,  # no ACPI notifications; event messages enabled (global init 00b)
        capabilities,  # as Get Device ID's additional device support
        0x00, 0x00, 0x00,  # reserved
        entity,
        entity_instance & 0x7F,
        0x00,  # OEM
    ]) + id_string(name)
    return with_header(record_id, MC_DEVICE_LOCATOR, body)


# Equal records of many BMCs (the same sensors) are one bytes object; bounded.
_RECORDS: dict[bytes, bytes] = {}
_RECORDS_LIMIT = 8192


def renumbered(record: bytes, record_id: int) -> bytes:
    numbered = struct.pack("<H", record_id) + record[2:]
    found = _RECORDS.get(numbered)
    if found is not None:
        return found
    if len(_RECORDS) < _RECORDS_LIMIT:
        _RECORDS[numbered] = numbered
    return numbered


def read_response(reservation: Reservation, reservation_id: int, record: bytes, next_id: int,
                  offset: int, count: int) -> bytes:
    """Get SDR response data for one record: `next_id`, then `count` bytes from `offset`."""
    # The reservation protects partial reads only; a read from offset 0 may use 0000h.
    if offset != 0 and not reservation.is_valid(reservation_id):
        raise CommandError(Cc.RESERVATION_CANCELLED, reason="SDR reservation not valid")
    if offset >= len(record):
        raise CommandError(Cc.PARAMETER_OUT_OF_RANGE,
                           reason=f"offset {offset} beyond record of {len(record)}")
    end = len(record) if count == ENTIRE_RECORD else min(len(record), offset + count)
    return struct.pack("<H", next_id) + record[offset:end]


class SdrRepository:
    """A fixed list of records with IDs 1..n, read with Get SDR (or Get Device SDR)."""

    __slots__ = ("add_timestamp", "erase_timestamp", "records", "reservation")

    def __init__(self, records: list[bytes], add_timestamp: int = 0) -> None:
        self.records = [renumbered(record, index + 1) for index, record in enumerate(records)]
        self.add_timestamp = add_timestamp
        self.erase_timestamp = 0
        self.reservation = Reservation()

    def replace(self, records: list[bytes], add_timestamp: int) -> None:
        """New contents (a threshold was set): a reader's reservation is cancelled."""
        self.records = [renumbered(record, index + 1) for index, record in enumerate(records)]
        self.add_timestamp = add_timestamp
        self.reservation.cancel()

    def _index(self, record_id: int) -> int:
        if record_id == FIRST_RECORD and self.records:
            return 0
        if 1 <= record_id <= len(self.records):
            return record_id - 1
        raise CommandError(Cc.NOT_PRESENT, reason=f"no SDR record {record_id:#06x}")

    def read(self, reservation_id: int, record_id: int, offset: int, count: int) -> bytes:
        """Get SDR response data: next record ID, then `count` bytes from `offset`."""
        index = self._index(record_id)
        next_id = index + 2 if index + 1 < len(self.records) else LAST_RECORD
        return read_response(self.reservation, reservation_id, self.records[index], next_id,
                             offset, count)

    def used_units(self) -> int:
        return sum(-(-len(record) // ALLOCATION_UNIT) for record in self.records)

    def free_bytes(self) -> int:
        return max(0, REPOSITORY_UNITS - self.used_units()) * ALLOCATION_UNIT

    def info(self) -> bytes:
        """Get SDR Repository Info response data (14 bytes)."""
        return struct.pack("<BHHIIB", SDR_VERSION, len(self.records), self.free_bytes(),
                           self.add_timestamp, self.erase_timestamp,
                           SDR_OPS_RESERVE | SDR_OPS_ALLOCATION_INFO)

    def allocation_info(self) -> bytes:
        """Get SDR Repository Allocation Info response data (9 bytes)."""
        free_units = max(0, REPOSITORY_UNITS - self.used_units())
        largest_record = max((len(record) for record in self.records), default=0)
        max_units = max(1, -(-largest_record // ALLOCATION_UNIT))
        return struct.pack("<HHHHB", REPOSITORY_UNITS, ALLOCATION_UNIT, free_units, free_units,
                           max_units)
