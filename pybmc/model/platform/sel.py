"""The System Event Log (IPMI 2.0 section 31), kept in state_dir/sel.json.

Entries are the 16-byte records of table 32-1. Record IDs count up from 1 and start again at 1
after a clear; 0000h and FFFFh are never IDs (they mean "first" and "last" in requests). When the
SEL is full, new events are dropped and the overflow flag is set, as on most BMCs.
A reservation is cancelled by the next Reserve SEL, a delete or a clear; adding entries keeps it.
The SEL clock is the wall clock plus an offset that Set SEL Time changes (and that persists).
"""

from __future__ import annotations

import logging
import struct
import time
from collections.abc import Callable
from pathlib import Path

from pybmc.model.platform.sdr import (
    ERASURE_COMPLETED,
    Reservation,
    erase_requested,
)
from pybmc.model.platform.storage import load_json, save_json
from pybmc.wire.codes import Cc
from pybmc.wire.errors import CommandError

log = logging.getLogger("pybmc.sel")

SEL_FILE = "sel.json"
SEL_VERSION = 0x51
ENTRY_SIZE = 16
FIRST_ENTRY = 0x0000
LAST_ENTRY = 0xFFFF
ENTIRE_RECORD = 0xFF
SYSTEM_EVENT_RECORD = 0x02
NON_TIMESTAMPED_OEM = 0xE0  # record types E0h..FFh carry no timestamp
EVM_REV = 0x04  # IPMI 2.0 event messages
BMC_GENERATOR = 0x0020  # the BMC on IPMB, LUN 0, channel 0
UTC_OFFSET_UNSPECIFIED = 0x07FF
ALMOST_FULL = 0.75

# Get SEL Info byte 14: overflow flag, and the operations supported.
OVERFLOW = 0x80
OPS_DELETE = 0x08
OPS_PARTIAL_ADD = 0x04
OPS_RESERVE = 0x02
OPS_ALLOCATION_INFO = 0x01

# Clear SEL.


def system_event_record(generator: int, sensor_type: int, sensor_number: int, event_type: int,
                        event_data: bytes, assertion: bool = True) -> bytes:
    """A type 02h record with ID and timestamp left 0 (the SEL fills them in)."""
    direction = 0x00 if assertion else 0x80
    data = (event_data + b"\xff\xff\xff")[:3]
    return struct.pack("<HBIHBBBB", 0, SYSTEM_EVENT_RECORD, 0, generator, EVM_REV,
                       sensor_type, sensor_number, direction | (event_type & 0x7F)) + data


class Sel:
    __slots__ = ("_cleared_with", "_id_cache", "_partial", "_positions", "capacity",
                 "defer_saves", "entries", "found", "last_add", "last_erase", "next_id",
                 "overflow", "reservation", "state_dir", "time_offset", "unsaved", "utc_offset",
                 "wall_clock")

    def __init__(self, state_dir: Path, capacity: int,
                 wall_clock: Callable[[], float] = time.time) -> None:
        self.state_dir = state_dir if isinstance(state_dir, Path) else Path(state_dir)
        self.capacity = capacity
        self.wall_clock = wall_clock
        self.entries: list[bytes] = []
        self.next_id = 1
        self.last_add = 0
        self.last_erase = 0
        self.time_offset = 0.0
        self.utc_offset = UTC_OFFSET_UNSPECIFIED
        self.overflow = False
        self.reservation = Reservation()
        self._cleared_with = 0  # the reservation a clear used: status queries may still use it
        self._id_cache: list[int] | None = None
        self._positions: dict[int, int] = {}
        self._partial = bytearray()  # a Partial Add SEL Entry's bytes so far (memory only)
        # While set, save() only notes that the file is behind (`unsaved`); the BMC's start
        # event is written this way after every BMC of a big fleet answers (write_unsaved).
        self.defer_saves = False
        self.unsaved = False
        self.found = False
        self._load()

    # ------------------------------------------------------------------ persistence
    @property
    def path(self) -> Path:
        return self.state_dir / SEL_FILE  # made when used: a Path is ~0.4 KB per BMC

    def _load(self) -> None:
        data = load_json(self.path)
        if data is None:
            return
        self.found = True  # saves over an existing file are always fsynced
        try:
            entries = [bytes.fromhex(text) for text in data.get("entries", [])]
            if any(len(entry) != ENTRY_SIZE for entry in entries):
                raise ValueError("an entry is not 16 bytes")
            self.entries = entries
            self.next_id = int(data.get("next_id", 1))
            self.last_add = int(data.get("last_add", 0))
            self.last_erase = int(data.get("last_erase", 0))
            self.time_offset = float(data.get("time_offset", 0.0))
            self.utc_offset = int(data.get("utc_offset", UTC_OFFSET_UNSPECIFIED))
            self.overflow = bool(data.get("overflow", False))
        except (TypeError, ValueError) as err:
            log.error("%s: bad content (%s); starting with an empty SEL", self.path, err)
            self.entries = []

    def save(self, durable: bool = True) -> None:
        if self.defer_saves:
            self.unsaved = True
            return
        self.unsaved = False
        save_json(self.path, {
            "version": 1,
            "entries": [entry.hex() for entry in self.entries],
            "next_id": self.next_id,
            "last_add": self.last_add,
            "last_erase": self.last_erase,
            "time_offset": self.time_offset,
            "utc_offset": self.utc_offset,
            "overflow": self.overflow,
        }, durable)

    def write_unsaved(self, durable: bool = True) -> None:
        """Write what a deferred save left behind, if anything."""
        if self.unsaved:
            self.save(durable)

    # ------------------------------------------------------------------ clock
    def now(self) -> int:
        """The SEL time: seconds since 1970 (UTC), as Get SEL Time reports it."""
        return int(self.wall_clock() + self.time_offset) & 0xFFFFFFFF

    def set_time(self, timestamp: int) -> None:
        self.time_offset = timestamp - self.wall_clock()
        self.save()

    def set_utc_offset(self, minutes: int) -> None:
        self.utc_offset = minutes
        self.save()

    # ------------------------------------------------------------------ entries
    @property
    def full(self) -> bool:
        return len(self.entries) >= self.capacity

    @property
    def almost_full(self) -> bool:
        return len(self.entries) >= ALMOST_FULL * self.capacity

    def _ids(self) -> list[int]:
        # Cached: a client listing the SEL asks once per entry.
        if self._id_cache is None or len(self._id_cache) != len(self.entries):
            self._id_cache = [struct.unpack_from("<H", entry)[0] for entry in self.entries]
            self._positions = {record_id: index for index, record_id in enumerate(self._id_cache)}
        return self._id_cache

    def _allocate_id(self) -> int:
        used = set(self._ids())
        record_id = self.next_id
        while record_id in (FIRST_ENTRY, LAST_ENTRY) or record_id in used:
            record_id = record_id % 0xFFFE + 1
        self.next_id = record_id % 0xFFFE + 1
        return record_id

    def add(self, record: bytes) -> int | None:
        """Store a 16-byte record: returns its new ID, or None when full (overflow set)."""
        if len(record) != ENTRY_SIZE:
            raise ValueError("an SEL record is 16 bytes")
        if self.full:
            if not self.overflow:
                log.warning("%s: SEL full (%d entries); events are dropped", self.path,
                            len(self.entries))
            self.overflow = True
            self.save()
            return None
        record_id = self._allocate_id()
        stamp = self.now()
        entry = bytearray(record)
        struct.pack_into("<H", entry, 0, record_id)
        if entry[2] < NON_TIMESTAMPED_OEM:
            struct.pack_into("<I", entry, 3, stamp)
        self.entries.append(bytes(entry))
        self._id_cache = None
        self.last_add = stamp
        self.save()
        return record_id

    def partial_add(self, reservation_id: int, record_id: int, offset: int, last: bool,
                    data: bytes) -> int:
        """Partial Add SEL Entry: the record is built in pieces under a reservation, and
        added (as by Add SEL Entry) with the last one; until then its record ID is 0000h,
        the one every piece names."""
        if not self.reservation.is_valid(reservation_id):
            self._partial.clear()
            raise CommandError(Cc.RESERVATION_CANCELLED, reason="SEL reservation not valid")
        if record_id != 0:
            raise CommandError(Cc.INVALID_DATA_FIELD,
                               reason=f"record {record_id:#06x} is not being added")
        if offset != len(self._partial) and offset != 0:
            raise CommandError(Cc.PARAMETER_OUT_OF_RANGE,
                               reason=f"offset {offset}: {len(self._partial)} bytes so far")
        record = (bytes(self._partial) if offset else b"") + data
        if len(record) > ENTRY_SIZE:
            raise CommandError(Cc.REQUEST_DATA_LENGTH_INVALID,
                               reason=f"{len(record)} bytes for a {ENTRY_SIZE}-byte record")
        if not last:
            self._partial = bytearray(record)
            return 0
        self._partial.clear()
        if len(record) != ENTRY_SIZE:
            raise CommandError(Cc.REQUEST_DATA_LENGTH_INVALID,
                               reason=f"the record ended after {len(record)} bytes")
        added = self.add(record)
        if added is None:
            raise CommandError(Cc.OUT_OF_SPACE, reason="the SEL is full")
        return added

    def _index(self, record_id: int) -> int:
        if not self.entries:
            raise CommandError(Cc.NOT_PRESENT, reason="the SEL is empty")
        if record_id == FIRST_ENTRY:
            return 0
        if record_id == LAST_ENTRY:
            return len(self.entries) - 1
        self._ids()
        index = self._positions.get(record_id)
        if index is None:
            raise CommandError(Cc.NOT_PRESENT, reason=f"no SEL entry {record_id:#06x}")
        return index

    def get(self, reservation_id: int, record_id: int, offset: int, count: int) -> bytes:
        """Get SEL Entry response data: next record ID, then the (part of the) record."""
        if offset != 0 and not self.reservation.is_valid(reservation_id):
            raise CommandError(Cc.RESERVATION_CANCELLED, reason="SEL reservation not valid")
        index = self._index(record_id)
        if offset >= ENTRY_SIZE:
            raise CommandError(Cc.PARAMETER_OUT_OF_RANGE, reason=f"offset {offset}")
        entry = self.entries[index]
        end = ENTRY_SIZE if count == ENTIRE_RECORD else min(ENTRY_SIZE, offset + count)
        ids = self._ids()
        next_id = ids[index + 1] if index + 1 < len(ids) else LAST_ENTRY
        return struct.pack("<H", next_id) + entry[offset:end]

    def delete(self, reservation_id: int, record_id: int) -> int:
        if not self.reservation.is_valid(reservation_id):
            raise CommandError(Cc.RESERVATION_CANCELLED, reason="SEL reservation not valid")
        index = self._index(record_id)
        deleted = struct.unpack_from("<H", self.entries[index])[0]
        del self.entries[index]
        self._id_cache = None
        self.last_erase = self.now()
        self.reservation.cancel()
        self.save()
        return deleted

    def clear(self, reservation_id: int, signature: bytes, action: int) -> int:
        """Clear SEL: erase at once (AAh) or report the status (00h); returns the progress."""
        if not erase_requested(self.reservation, self._cleared_with, reservation_id,
                               signature, action, "SEL"):
            return ERASURE_COMPLETED
        self.entries = []
        self._id_cache = None
        self.next_id = 1
        self.overflow = False
        self.last_erase = self.now()
        self._cleared_with = reservation_id
        self.reservation.cancel()
        self.save()
        return ERASURE_COMPLETED

    # ------------------------------------------------------------------ info
    def free_bytes(self) -> int:
        return min(0xFFFF, max(0, self.capacity - len(self.entries)) * ENTRY_SIZE)

    def info(self) -> bytes:
        """Get SEL Info response data (14 bytes)."""
        ops = (OPS_DELETE | OPS_PARTIAL_ADD | OPS_RESERVE | OPS_ALLOCATION_INFO
               | (OVERFLOW if self.overflow else 0))
        return struct.pack("<BHHIIB", SEL_VERSION, len(self.entries), self.free_bytes(),
                           self.last_add, self.last_erase, ops)

    def allocation_info(self) -> bytes:
        """Get SEL Allocation Info response data (9 bytes): one unit per 16-byte entry."""
        free = max(0, self.capacity - len(self.entries))
        return struct.pack("<HHHHB", self.capacity, ENTRY_SIZE, free, free, 1)

    def last_record_id(self) -> int:
        ids = self._ids()
        return ids[-1] if ids else LAST_ENTRY
