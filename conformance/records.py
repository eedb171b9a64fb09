"""FRU and SDR byte images for ipmi_sim, built from the profile (IPMI FRU spec 1.0, IPMI 2.0 §43).

ipmi_sim only knows raw bytes (`mc_add_fru_data`, `main_sdr_add`), so the conformance profile's
board/product strings and sensors are encoded here once.
"""

from __future__ import annotations

import datetime as dt

from conformance.profile import Profile, Sensor

FRU_EPOCH = dt.datetime(1996, 1, 1, tzinfo=dt.UTC)


def checksum(data: bytes) -> int:
    """Zero checksum: the byte that makes the sum of `data` + it equal 0 mod 256."""
    return -sum(data) & 0xFF


def _field(text: str) -> bytes:
    raw = text.encode("ascii")[:63]
    return bytes([0xC0 | len(raw)]) + raw


def _area(body: bytes) -> bytes:
    """Close an info area: end marker 0xC1, pad to a multiple of 8 with the checksum last."""
    body = body + b"\xc1"
    length = (len(body) + 1 + 7) // 8 * 8
    body = body + bytes(length - len(body) - 1)
    body = body[:1] + bytes([length // 8]) + body[2:]
    return body + bytes([checksum(body)])


def chassis_area(chassis_type: int, fields: dict[str, str]) -> bytes:
    body = bytes([0x01, 0x00, chassis_type])  # version, length, type
    for key in ("part_number", "serial"):
        body += _field(fields.get(key, ""))
    return _area(body)


def fru_minutes(text: str) -> int:
    """FRU manufacture date: minutes since 1996-01-01 00:00 UTC ("YYYY-MM-DD HH:MM")."""
    when = dt.datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=dt.UTC)
    return int((when - FRU_EPOCH).total_seconds() // 60)


def board_area(fields: dict[str, str], date: str | None = None) -> bytes:
    minutes = fru_minutes(date) if date else 0
    body = bytes([0x01, 0x00, 0x00]) + minutes.to_bytes(3, "little")  # version, length, English
    for key in ("manufacturer", "product", "serial", "part_number"):
        body += _field(fields.get(key, ""))
    body += _field("")  # FRU file ID
    return _area(body)


def product_area(fields: dict[str, str]) -> bytes:
    body = bytes([0x01, 0x00, 0x00])  # version, length, English
    for key in ("manufacturer", "product", "part_number", "version", "serial", "asset_tag"):
        body += _field(fields.get(key, ""))
    body += _field("")  # FRU file ID
    return _area(body)


def fru_image(profile: Profile, size: int = 256) -> bytes:
    """Common header + chassis, board and product areas, zero-padded to `size` bytes."""
    chassis_bytes = chassis_area(profile.chassis_type, profile.fru_chassis)
    board_bytes = board_area(profile.fru_board, profile.board_date)
    product_bytes = product_area(profile.fru_product)
    chassis_offset = 1
    board_offset = chassis_offset + len(chassis_bytes) // 8
    product_offset = board_offset + len(board_bytes) // 8
    header = bytes([0x01, 0x00, chassis_offset, board_offset, product_offset, 0x00, 0x00])
    image = header + bytes([checksum(header)]) + chassis_bytes + board_bytes + product_bytes
    if len(image) > size:
        raise ValueError(f"FRU image is {len(image)} bytes, more than {size}")
    return image + bytes(size - len(image))


def full_sensor_sdr(sensor: Sensor, record_id: int, owner: int = 0x20) -> bytes:
    """A type 01h full sensor record for a linear threshold sensor (reading = raw degrees).

    Byte for byte what pybmc builds for the profile's [[sensors]] entry (record ID aside):
    auto re-arm, hysteresis and thresholds readable/settable, events on UNC and UC going high,
    M=10 with R exp -1, nominal/normal-max/normal-min given, hysteresis 2. Both servers then
    describe the same sensor with the same record, so differences come from the servers.
    """
    name = sensor.name.encode("ascii")[:16]
    unc = sensor.upper_critical - 5
    body = bytes([
        owner, 0x00, sensor.number,
        0x07, 0x01,  # entity: system board, instance 1
        0x7F, 0x68,  # initialisation: everything; capabilities (see above)
        sensor.sensor_type, 0x01,  # threshold event/reading type
        0x80, 0x02,  # assertion events: UNC going high (bit 7), UC going high (bit 9)
        0x80, 0x32,  # deassertion events: the same; UNC and UC comparisons returned
        0x18, 0x18,  # readable / settable thresholds: UNC (bit 3) and UC (bit 4)
        0x00, 0x01, 0x00,  # units: unsigned, degrees C, no modifier
        0x00, 0x0A, 0x00, 0x00, 0x00, 0x00, 0xF0,  # linear, M=10, B=0, accuracy 0, R exp -1
        0x07,  # analog characteristics: nominal, normal max and normal min given
        sensor.reading, unc, 0x00,  # nominal, normal max, normal min
        0xFF, 0x00,  # sensor max / min reading
        0x00, sensor.upper_critical, unc,  # UNR, UC, UNC
        0x00, 0x00, 0x00,  # LNR, LC, LNC
        0x02, 0x02,  # positive / negative hysteresis
        0x00, 0x00, 0x00,  # reserved, OEM
        0xC0 | len(name),
    ]) + name
    header = bytes([record_id & 0xFF, record_id >> 8, 0x51, 0x01, len(body)])
    return header + body
