"""The FRU EEPROM on the BMC's private I2C bus 0, as Master Write-Read reaches it.

A serial EEPROM (24Cxx) at slave address A0h holds FRU 0's bytes, the same bytes Read/Write
FRU Data see: a write transaction's first byte(s) set the address pointer (two bytes when
the image is over 256 bytes, as on a 24C32), any further bytes are written there; a read
returns bytes from the pointer on, which moves past them and wraps at the end of the part.
"""

from __future__ import annotations

from pybmc.model.platform.fru import SYSTEM_FRU, FruStore

PRIVATE_BUS = 0
EEPROM_ADDRESS = 0xA0  # 8-bit form, as Master Write-Read byte 2 carries it (7-bit 50h)


class NoDevice(Exception):
    """Nothing acknowledged the slave address on that bus (NAK on write)."""


class FruEeprom:
    __slots__ = ("fru", "pointer")

    def __init__(self, fru: FruStore) -> None:
        self.fru = fru
        self.pointer = 0  # kept between transactions: a read without a write reads on

    def _size(self) -> int:
        return len(self.fru.device(SYSTEM_FRU).data)

    def address_width(self) -> int:
        return 1 if self._size() <= 256 else 2

    def transfer(self, private: bool, bus: int, address: int, write: bytes,
                 read_count: int) -> bytes:
        """One write-then-read transaction; raises NoDevice for an absent slave."""
        if not private or bus != PRIVATE_BUS or address != EEPROM_ADDRESS:
            raise NoDevice(f"no device {address:#04x} on {'private' if private else 'public'} "
                           f"bus {bus}")
        size = self._size()
        width = self.address_width()
        if write:
            pointer = int.from_bytes(write[:width].ljust(width, b"\x00"), "big")
            self.pointer = pointer % size
            payload = write[width:]
            if payload:
                self._write(payload)
        device = self.fru.device(SYSTEM_FRU)
        data = bytes(device.data[(self.pointer + index) % size] for index in range(read_count))
        self.pointer = (self.pointer + read_count) % size
        return data

    def _write(self, payload: bytes) -> None:
        size = self._size()
        start = self.pointer
        first = payload[:size - start]  # a page write wraps; the FRU store writes in one piece
        self.fru.write(SYSTEM_FRU, start, first)
        rest = payload[len(first):]
        if rest:
            self.fru.write(SYSTEM_FRU, 0, rest)
        self.pointer = (start + len(payload)) % size
