"""Byte layouts of platform data: linearisation, SDR records, the SDR repository, FRU areas,
SEL records. Expected bytes are written out field by field from the IPMI and FRU specs."""

from __future__ import annotations

import datetime as dt

import pytest

from pybmc.config.platform import BoardInfo, ChassisInfo, ProductInfo, SensorSpec
from pybmc.model.platform.fru import (
    board_area,
    chassis_area,
    checksum,
    fru_image,
    product_area,
    text_field,
)
from pybmc.model.platform.sdr import (
    Reservation,
    SdrRepository,
    fru_locator_record,
    mc_locator_record,
)
from pybmc.model.platform.sel import system_event_record
from pybmc.model.platform.sensors import Sensor
from pybmc.wire.errors import CommandError
from pybmc.wire.linear import Linear


# ------------------------------------------------------------------------------- linearisation
@pytest.mark.parametrize(("low", "high", "m", "b", "r_exp"), [
    (0, 16, 63, 0, -3),  # 12 V rail: 0.063 V steps
    (0, 127, 50, 0, -2),  # temperature: 0.5 degC steps
    (0, 25500, 10, 0, 1),  # fan: 100 RPM steps
    (0, 1000, 40, 0, -1),  # power: 4 W steps
    (-40, 215, 10, -400, -1),  # an offset range: B carries the -40
])
def test_linear_factors_for_range(low: float, high: float, m: int, b: int, r_exp: int):
    linear = Linear.for_range(low, high)
    assert (linear.m, linear.b, linear.b_exp, linear.r_exp) == (m, b, 0, r_exp)
    assert linear.to_value(0) == pytest.approx(low)
    assert linear.to_value(255) >= high


def test_linear_round_trip_and_clamp():
    linear = Linear.for_range(0, 16)
    assert linear.to_raw(12.0) == 190
    assert linear.to_value(190) == pytest.approx(11.97)
    assert linear.to_raw(-5) == 0
    assert linear.to_raw(99) == 255
    assert linear.to_raw_delta(0.126) == 2


def test_linear_encoding_of_negative_b():
    # M = 10, B = -400 (10-bit two's complement 270h), Rexp = -1 (Fh), Bexp = 0.
    assert Linear.for_range(-40, 215).encode() == bytes([0x0A, 0x00, 0x70, 0x80, 0x00, 0xF0])
    # M = 63, B = 0, Rexp = -3 (Dh).
    assert Linear.for_range(0, 16).encode() == bytes([0x3F, 0x00, 0x00, 0x00, 0x00, 0xD0])


def test_empty_range_is_rejected():
    with pytest.raises(ValueError):
        Linear.for_range(5, 5)


# ------------------------------------------------------------------------------- sensor records
CPU = SensorSpec(name="CPU Temp", sensor_type=0x01, behaviour="thermal", number=1,
                 reading_type=0x01, unit=1, entity=0x03, entity_instance=1, nominal=48.0,
                 rest=25.0, minimum=0.0, maximum=127.0,
                 thresholds=(("unc", 85.0), ("uc", 95.0), ("unr", 105.0)))


def test_full_sensor_record_bytes():
    expected = bytes([
        0x07, 0x00,  # record ID 7
        0x51, 0x01, 0x33,  # SDR version, Full sensor record, 51 bytes follow
        0x20, 0x00, 0x01,  # owner: BMC at 20h, LUN 0; sensor number 1
        0x03, 0x01,  # entity: processor, instance 1
        0x7F, 0x68,  # initialization; capabilities: auto re-arm, settable hyst/thresholds
        0x01, 0x01,  # temperature, threshold based
        0x80, 0x0A,  # assertion: unc+ (bit 7), uc+ (bit 9), unr+ (bit 11)
        0x80, 0x7A,  # deassertion: the same, plus upper reading mask bits 12-14
        0x38, 0x38,  # readable and settable thresholds: unc, uc, unr
        0x00, 0x01, 0x00, 0x00,  # unsigned, degrees C, no modifier, linear
        0x32, 0x00, 0x00, 0x00, 0x00, 0xE0,  # M = 50, B = 0, Rexp = -2
        0x07, 0x60, 0xAA, 0x00,  # nominal 48 (96), normal max = unc (170), normal min 0
        0xFF, 0x00,  # sensor maximum and minimum readings
        0xD2, 0xBE, 0xAA, 0x00, 0x00, 0x00,  # unr 105, uc 95, unc 85, lnr, lc, lnc
        0x02, 0x02,  # hysteresis: 2 steps each way
        0x00, 0x00, 0x00,  # reserved, OEM
        0xC8, *b"CPU Temp",  # 8-bit ASCII, 8 characters
    ])
    assert Sensor(CPU).record(7) == expected


def test_compact_sensor_record_bytes():
    spec = SensorSpec(name="PS1 Status", sensor_type=0x08, behaviour="static", number=9,
                      reading_type=0x6F, entity=0x0A, entity_instance=1, states=(0,),
                      offsets=(0, 1, 2, 3))
    expected = bytes([
        0x02, 0x00, 0x51, 0x02, 0x25,  # record 2, Compact sensor record, 37 bytes follow
        0x20, 0x00, 0x09,  # owner, LUN, sensor number 9
        0x0A, 0x01,  # power supply, instance 1
        0x67, 0x40,  # initialization (no thresholds/hysteresis); auto re-arm
        0x08, 0x6F,  # power supply, sensor-specific
        0x0F, 0x00, 0x0F, 0x00, 0x0F, 0x00,  # offsets 0-3 assert, deassert, readable
        0xC0, 0x00, 0x00,  # no analog reading, no units
        0x01, 0x00,  # record sharing: one sensor
        0x00, 0x00,  # hysteresis
        0x00, 0x00, 0x00, 0x00,  # reserved, OEM
        0xCA, *b"PS1 Status",
    ])
    assert Sensor(spec).record(2) == expected


def test_fru_and_mc_locator_records():
    assert fru_locator_record(3, 1, "PS1 FRU", 0x0A, 1) == bytes([
        0x03, 0x00, 0x51, 0x11, 0x12,
        0x20, 0x01,  # accessed through the BMC, FRU device ID 1
        0x80, 0x00, 0x00,  # logical device, LUN 0, bus 0; channel 0; reserved
        0x10, 0x00,  # FRU inventory device behind a controller, IPMI FRU format
        0x0A, 0x01, 0x00,  # power supply 1, OEM
        0xC7, *b"PS1 FRU",
    ])
    assert mc_locator_record(4, "BMC", 0xBF, 0x06, 1) == bytes([
        0x04, 0x00, 0x51, 0x12, 0x0E,
        0x20, 0x00, 0x00, 0xBF,  # address, channel, init, capabilities
        0x00, 0x00, 0x00, 0x06, 0x01, 0x00,
        0xC3, *b"BMC",
    ])


# ------------------------------------------------------------------------------- repository
def make_repository() -> SdrRepository:
    return SdrRepository([Sensor(CPU).record(0), fru_locator_record(0, 1, "PS1 FRU", 0x0A, 1)],
                         add_timestamp=0x11223344)


def test_repository_numbers_records_and_chains_next_ids():
    repo = make_repository()
    first = repo.read(0, 0x0000, 0, 0xFF)
    assert first[:2] == b"\x02\x00"  # next: record 2
    assert first[2:4] == b"\x01\x00"  # this one is record 1
    last = repo.read(0, 2, 0, 0xFF)
    assert last[:2] == b"\xff\xff"
    assert last[2:] == repo.records[1]


def test_repository_partial_reads_need_the_reservation():
    repo = make_repository()
    header = repo.read(0, 1, 0, 5)  # offset 0 needs no reservation
    assert header[2:] == repo.records[0][:5]
    with pytest.raises(CommandError) as err:
        repo.read(0, 1, 5, 22)
    assert err.value.cc == 0xC5
    reservation = repo.reservation.reserve()
    assert reservation != 0
    chunk = repo.read(reservation, 1, 5, 22)
    assert chunk[2:] == repo.records[0][5:27]
    tail = repo.read(reservation, 1, 49, 22)  # asks past the end: what is there
    assert tail[2:] == repo.records[0][49:]
    newer = repo.reservation.reserve()  # a new reservation cancels the old one
    with pytest.raises(CommandError) as err:
        repo.read(reservation, 1, 5, 22)
    assert err.value.cc == 0xC5
    assert repo.read(newer, 1, 5, 1)[2:] == repo.records[0][5:6]
    repo.replace(repo.records[:1], 0x55667788)  # new contents cancel it too
    with pytest.raises(CommandError) as err:
        repo.read(newer, 1, 5, 1)
    assert err.value.cc == 0xC5
    assert repo.info()[1:3] == b"\x01\x00" and repo.info()[5:9] == bytes([0x88, 0x77, 0x66, 0x55])


@pytest.mark.parametrize(("record_id", "offset", "cc"), [(9, 0, 0xCB), (1, 60, 0xC9)])
def test_repository_bad_reads(record_id: int, offset: int, cc: int):
    repo = make_repository()
    reservation = repo.reservation.reserve()
    with pytest.raises(CommandError) as err:
        repo.read(reservation, record_id, offset, 5)
    assert err.value.cc == cc


def test_repository_info_and_allocation():
    repo = make_repository()
    info = repo.info()
    # Two records; 56 + 23 bytes take 4 + 2 of 256 units: 250 x 16 = 4000 (0FA0h) bytes free.
    assert info == bytes([0x51, 0x02, 0x00, 0xA0, 0x0F, 0x44, 0x33, 0x22, 0x11, 0, 0, 0, 0,
                          0x03])
    assert repo.allocation_info() == bytes([0x00, 0x01, 0x10, 0x00, 0xFA, 0x00, 0xFA, 0x00, 0x04])


def test_reservation_ids_are_never_zero():
    reservation = Reservation()
    reservation._last = 0xFFFE
    assert reservation.reserve() == 0xFFFF
    assert reservation.reserve() == 1
    assert not reservation.is_valid(0)


# ------------------------------------------------------------------------------- FRU
def test_text_fields():
    assert text_field("Acme") == b"\xc4Acme"
    assert text_field("") == b"\xc0"
    assert text_field("A") == b"\xc2A "  # C1h would be the end-of-fields marker


def test_product_area_bytes():
    area = product_area(ProductInfo(manufacturer="Acme", product_name="X1", part_number="P",
                                    version="", serial_number="S1", asset_tag="A"))
    assert area == bytes([
        0x01, 0x03, 0x00,  # version, 3 x 8 bytes, English
        0xC4, *b"Acme", 0xC2, *b"X1", 0xC2, *b"P ", 0xC0,  # maker, name, part, version
        0xC2, *b"S1", 0xC2, *b"A ", 0xC0,  # serial, asset tag, FRU file ID
        0xC1,  # end of fields
        0x9B,  # checksum
    ])


def test_board_area_date_is_minutes_since_1996():
    area = board_area(BoardInfo(manufacture_date=dt.datetime(2024, 1, 1, tzinfo=dt.UTC)))
    # 28 years with 7 leap days: 10227 days = 14726880 minutes = E0B6E0h, LS byte first.
    assert area[2:6] == bytes([0x00, 0xE0, 0xB6, 0xE0])
    assert len(area) % 8 == 0 and sum(area) % 256 == 0


def test_fru_image_header_and_checksums():
    image = fru_image(ChassisInfo(chassis_type=0x17, part_number="C", serial_number="CS"),
                      BoardInfo(), ProductInfo(), 256)
    assert len(image) == 256
    header = image[:8]
    assert header[0] == 0x01 and header[1] == 0x00 and header[2] == 0x01  # chassis at 8
    assert sum(header) % 256 == 0
    chassis = image[8:8 + image[9] * 8]
    assert chassis[2] == 0x17 and sum(chassis) % 256 == 0
    board_at, product_at = header[3] * 8, header[4] * 8
    assert board_at == 8 + len(chassis)
    board = image[board_at:board_at + image[board_at + 1] * 8]
    assert sum(board) % 256 == 0 and product_at == board_at + len(board)
    product = image[product_at:product_at + image[product_at + 1] * 8]
    assert b"Virtual Server" in product and sum(product) % 256 == 0
    assert image[product_at + len(product):] == bytes(256 - product_at - len(product))


def test_chassis_area_and_checksum_helper():
    area = chassis_area(ChassisInfo(chassis_type=0x11, part_number="AB", serial_number="CD"))
    assert area == bytes([0x01, 0x02, 0x11, 0xC2, *b"AB", 0xC2, *b"CD", 0xC1,
                          0x00, 0x00, 0x00, 0x00, 0x00, 0x9D])
    assert checksum(b"\x01\x02") == 0xFD


# ------------------------------------------------------------------------------- SEL record
def test_system_event_record_bytes():
    record = system_event_record(0x0020, 0x22, 0xD2, 0x6F, bytes([0x05]), assertion=True)
    assert record == bytes([0, 0, 0x02, 0, 0, 0, 0, 0x20, 0x00, 0x04, 0x22, 0xD2, 0x6F,
                            0x05, 0xFF, 0xFF])
    deasserted = system_event_record(0x0020, 0x01, 0x01, 0x01, bytes([0x57, 0x60, 0x50]),
                                     assertion=False)
    assert deasserted[12:] == bytes([0x81, 0x57, 0x60, 0x50])
