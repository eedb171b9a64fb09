"""A FRU image (IPMI Platform Management FRU Information Storage Definition) read back into
pybmc's [fru.*] keys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

FRU_EPOCH = datetime(1996, 1, 1, tzinfo=UTC)


# ====================================================================== FRU image parsing
def parse_fru(image: bytes) -> dict[str, dict[str, Any]]:
    """Chassis, board and product info of a FRU image, as pybmc's [fru.*] keys."""
    if len(image) < 8 or image[0] != 0x01 or sum(image[:8]) & 0xFF:
        raise ValueError("no valid common header")
    areas: dict[str, dict[str, Any]] = {}
    readers = {2: ("chassis", _chassis_area), 3: ("board", _board_area),
               4: ("product", _product_area)}
    for index, (name, reader) in readers.items():
        if image[index]:
            start = image[index] * 8
            if start + 2 > len(image):
                raise ValueError(f"the {name} area is outside the image")
            length = image[start + 1] * 8
            areas[name] = reader(image[start:start + length])
    if not areas:
        raise ValueError("no chassis, board or product area")
    return areas


def _fields(area: bytes, start: int, names: tuple[str, ...]) -> dict[str, str]:
    values: dict[str, str] = {}
    index = start
    for name in names:
        if index >= len(area) or area[index] == 0xC1:
            break
        kind, length = area[index] >> 6, area[index] & 0x3F
        raw = area[index + 1:index + 1 + length]
        values[name] = _fru_text(kind, raw)
        index += 1 + length
    return values


def _fru_text(kind: int, raw: bytes) -> str:
    if kind == 3:
        return raw.decode("latin-1").strip("\x00")
    if kind == 2:  # 6-bit packed ASCII
        bits = int.from_bytes(raw, "little")
        return "".join(chr(((bits >> (6 * i)) & 0x3F) + 0x20)
                       for i in range(len(raw) * 8 // 6)).rstrip()
    if kind == 1:  # BCD plus
        digits = "0123456789 -.???"
        return "".join(digits[n] for b in raw for n in (b >> 4, b & 0x0F)).strip()
    return raw.hex()


def _chassis_area(area: bytes) -> dict[str, Any]:
    fields = _fields(area, 3, ("part_number", "serial_number"))
    return {"type": area[2], **fields} if len(area) > 2 else fields


def _board_area(area: bytes) -> dict[str, Any]:
    fields: dict[str, Any] = _fields(area, 6, ("manufacturer", "product_name",
                                               "serial_number", "part_number"))
    if len(area) >= 6:
        minutes = int.from_bytes(area[3:6], "little")
        if minutes:
            when = FRU_EPOCH + timedelta(minutes=minutes)
            fields["manufacture_date"] = when.strftime("%Y-%m-%d %H:%M")
    return fields


def _product_area(area: bytes) -> dict[str, Any]:
    return _fields(area, 3, ("manufacturer", "product_name", "part_number", "version",
                             "serial_number", "asset_tag"))


