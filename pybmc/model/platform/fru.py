"""FRU inventory (Platform Management FRU Information Storage Definition v1.0).

FRU 0 is the system: common header, chassis, board and product info areas built from [fru].
FRU 1 is the power supply that the "PS1 FRU" locator record points at. Every area is a multiple
of 8 bytes ending in a zero checksum; text fields are 8-bit ASCII+Latin-1 (type/length C0h|n).
Write FRU Data changes the bytes; they persist in state_dir/fru.json until [fru] changes.
"""

from __future__ import annotations

import hashlib
import logging
import struct
from pathlib import Path

from pybmc.config.platform import FRU_EPOCH, BoardInfo, ChassisInfo, FruSpec, ProductInfo
from pybmc.model.platform.storage import load_json, save_json
from pybmc.model.state import fingerprint
from pybmc.wire.codes import Cc
from pybmc.wire.errors import CommandError

log = logging.getLogger("pybmc.fru")

FRU_FILE = "fru.json"
FORMAT_VERSION = 0x01
END_OF_FIELDS = 0xC1
LANGUAGE_ENGLISH = 0x00
SYSTEM_FRU = 0
PSU_FRU = 1
PSU_FRU_NAME = "PS1 FRU"
BYTE_ACCESS = 0x00


def checksum(data: bytes) -> int:
    """The zero checksum: the byte that makes the sum of all bytes 0 modulo 256."""
    return -sum(data) & 0xFF


def text_field(value: str) -> bytes:
    data = value.encode("latin-1")
    if len(data) == 1:
        data += b" "  # C1h, a one-byte text field, is the end-of-fields marker
    return bytes([0xC0 | len(data)]) + data


def info_area(fixed: bytes, fields: list[str]) -> bytes:
    """Version, length in 8-byte units, fixed bytes, fields, C1h, zero pad, checksum."""
    body = bytes([FORMAT_VERSION, 0]) + fixed + b"".join(map(text_field, fields))
    body += bytes([END_OF_FIELDS])
    length = -(-(len(body) + 1) // 8) * 8
    body = bytearray(body + bytes(length - len(body) - 1))
    body[1] = length // 8
    return bytes(body) + bytes([checksum(body)])


def chassis_area(info: ChassisInfo) -> bytes:
    return info_area(bytes([info.chassis_type]), [info.part_number, info.serial_number])


def board_area(info: BoardInfo) -> bytes:
    minutes = int((info.manufacture_date - FRU_EPOCH).total_seconds() // 60)
    fixed = bytes([LANGUAGE_ENGLISH]) + minutes.to_bytes(3, "little")
    return info_area(fixed, [info.manufacturer, info.product_name, info.serial_number,
                             info.part_number, ""])  # "" = FRU file ID


def product_area(info: ProductInfo) -> bytes:
    return info_area(bytes([LANGUAGE_ENGLISH]),
                     [info.manufacturer, info.product_name, info.part_number, info.version,
                      info.serial_number, info.asset_tag, ""])  # "" = FRU file ID


def fru_image(chassis: ChassisInfo | None, board: BoardInfo | None,
              product: ProductInfo | None, size: int) -> bytes:
    """Common header and the given areas, padded with zeros to `size` (or more if needed)."""
    areas = [chassis_area(chassis) if chassis else b"", board_area(board) if board else b"",
             product_area(product) if product else b""]
    offsets = []
    position = 8
    for area in areas:
        offsets.append(position // 8 if area else 0)
        position += len(area)
    header = bytes([FORMAT_VERSION, 0x00, *offsets, 0x00, 0x00])  # no internal use, multirecord
    image = header + bytes([checksum(header)]) + b"".join(areas)
    return image + bytes(max(size, -(-len(image) // 64) * 64) - len(image))


def system_fru(spec: FruSpec) -> bytes:
    return fru_image(spec.chassis, spec.board, spec.product, spec.size)


def psu_fru(spec: FruSpec, bmc_name: str) -> bytes:
    serial = "PS" + hashlib.sha256(f"pybmc-psu:{bmc_name}".encode()).hexdigest()[:8].upper()
    maker = spec.product.manufacturer
    board = BoardInfo(manufacturer=maker, product_name="Power Supply", serial_number=serial,
                      part_number="PYBMC-PSU-550", manufacture_date=spec.board.manufacture_date)
    product = ProductInfo(manufacturer=maker, product_name="550W Power Supply",
                          part_number="PYBMC-PSU-550", version="1.0", serial_number=serial,
                          asset_tag="")
    return fru_image(None, board, product, 128)


class FruDevice:
    __slots__ = ("data", "fru_id", "name")

    def __init__(self, fru_id: int, name: str, data: bytes) -> None:
        self.fru_id = fru_id
        self.name = name
        self.data = bytearray(data)

    def area_info(self) -> bytes:
        """Get FRU Inventory Area Info response data: size (LS first), byte access."""
        return struct.pack("<HB", len(self.data), BYTE_ACCESS)

    def read(self, offset: int, count: int) -> bytes:
        """Read FRU Data response data: the count returned, then the bytes (short at the end)."""
        if offset > len(self.data):
            raise CommandError(Cc.PARAMETER_OUT_OF_RANGE,
                               reason=f"FRU {self.fru_id} offset {offset} beyond {len(self.data)}")
        chunk = bytes(self.data[offset:offset + count])
        return bytes([len(chunk)]) + chunk

    def write(self, offset: int, payload: bytes) -> int:
        if offset + len(payload) > len(self.data):
            raise CommandError(Cc.PARAMETER_OUT_OF_RANGE,
                               reason=f"FRU {self.fru_id} write beyond {len(self.data)}")
        self.data[offset:offset + len(payload)] = payload
        return len(payload)


class FruStore:
    """The FRU devices of one BMC; written bytes survive restarts until [fru] changes."""

    __slots__ = ("devices", "fingerprint", "state_dir")

    def __init__(self, state_dir: Path, spec: FruSpec, bmc_name: str) -> None:
        self.state_dir = state_dir if isinstance(state_dir, Path) else Path(state_dir)
        self.devices = {
            SYSTEM_FRU: FruDevice(SYSTEM_FRU, "Builtin FRU", system_fru(spec)),
            PSU_FRU: FruDevice(PSU_FRU, PSU_FRU_NAME, psu_fru(spec, bmc_name)),
        }
        self.fingerprint = fingerprint([repr(spec), bmc_name])
        self._load()

    @property
    def path(self) -> Path:
        return self.state_dir / FRU_FILE  # made when used: a Path is ~0.4 KB per BMC

    def _load(self) -> None:
        data = load_json(self.path)
        if data is None:
            return
        if data.get("fingerprint") != self.fingerprint:
            log.warning("%s: [fru] changed in the config; FRU writes are discarded", self.path)
            return
        try:
            for key, text in data.get("devices", {}).items():
                device = self.devices.get(int(key))
                if device is not None:
                    device.data = bytearray(bytes.fromhex(text))
        except (TypeError, ValueError) as err:
            log.error("%s: bad content (%s); using the config's FRU data", self.path, err)

    def save(self) -> None:
        save_json(self.path, {
            "version": 1,
            "fingerprint": self.fingerprint,
            "devices": {str(fru_id): bytes(device.data).hex()
                        for fru_id, device in self.devices.items()},
        })

    def device(self, fru_id: int) -> FruDevice:
        device = self.devices.get(fru_id)
        if device is None:
            raise CommandError(Cc.NOT_PRESENT, reason=f"no FRU device {fru_id}")
        return device

    def write(self, fru_id: int, offset: int, payload: bytes) -> int:
        written = self.device(fru_id).write(offset, payload)
        self.save()
        return written
