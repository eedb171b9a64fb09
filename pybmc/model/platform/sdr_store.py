"""The writable SDR repository (IPMI 2.0 chapter 33), kept in state_dir/sdr.json once written.

The repository starts as the records pybmc generates from the machine's sensor config. The
first write (Add, Partial Add, Delete or Clear SDR) makes it a stored repository: from then on
its records are the ones in sdr.json, kept across restarts, and changes of the generated
records (a new threshold, a config edit) no longer reach Get SDR; deleting sdr.json goes back to
the generated one. Record IDs stay stable: a delete leaves a gap and an add takes the next ID.
Updates are non-modal (Enter/Exit SDR Repository Update Mode are accepted and only tracked),
the SDR time is the SEL clock (one clock, as on most BMCs) and the initialization agent has
nothing left to do, so it completes at once.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable
from pathlib import Path

from pybmc.model.platform.sdr import (
    ALLOCATION_UNIT,
    ERASURE_COMPLETED,
    FIRST_RECORD,
    HEADER_SIZE,
    LAST_RECORD,
    REPOSITORY_UNITS,
    SDR_VERSION,
    SdrRepository,
    erase_requested,
    read_response,
)
from pybmc.model.platform.storage import load_json, save_json
from pybmc.wire.codes import Cc
from pybmc.wire.errors import CommandError

log = logging.getLogger("pybmc.sdr")

SDR_FILE = "sdr.json"
MAX_RECORD = HEADER_SIZE + 255
# Get SDR Repository Info byte 14: modal and non-modal updates, delete, partial add,
# reserve, allocation info.
SDR_OPS_WRITABLE = 0x60 | 0x08 | 0x04 | 0x02 | 0x01
CC_LENGTH_MISMATCH = 0x80  # Partial Add SDR: the record's length byte disagrees with its data
INIT_AGENT_GET_STATUS = 0x00
INIT_AGENT_RUN = 0x01
INIT_AGENT_COMPLETED = 0x01


def checked_record(record: bytes) -> bytes:
    """A record as Add SDR takes it: a 5-byte header whose length byte matches the body."""
    if len(record) < HEADER_SIZE or len(record) > MAX_RECORD:
        raise CommandError(Cc.INVALID_DATA_FIELD, reason=f"SDR record of {len(record)} bytes")
    if record[4] != len(record) - HEADER_SIZE:
        raise CommandError(Cc.INVALID_DATA_FIELD,
                           reason=f"SDR length byte {record[4]}, body {len(record) - 5}")
    if record[2] not in (SDR_VERSION, 0x01, 0x02):
        raise CommandError(Cc.INVALID_DATA_FIELD, reason=f"SDR version {record[2]:#04x}")
    return record


class SdrStore(SdrRepository):
    """Get SDR over records with stable IDs, plus the write commands; persisted once written."""

    __slots__ = ("_cleared_with", "_partial", "_partial_id", "clock", "state_dir", "stored",
                 "update_mode")

    def __init__(self, state_dir: Path, records: list[bytes], add_timestamp: int,
                 clock: Callable[[], int]) -> None:
        super().__init__(records, add_timestamp)
        self.state_dir = state_dir if isinstance(state_dir, Path) else Path(state_dir)
        self.clock = clock
        self.stored = False
        self.update_mode = False
        self._cleared_with = 0
        self._partial = bytearray()
        self._partial_id = 0
        self._load()

    # ------------------------------------------------------------------ persistence
    @property
    def path(self) -> Path:
        return self.state_dir / SDR_FILE  # made when used: a Path is ~0.4 KB per BMC

    def _load(self) -> None:
        data = load_json(self.path)
        if data is None:
            return
        try:
            records = [checked_record(bytes.fromhex(text)) for text in data["records"]]
            add, erase = int(data.get("add_timestamp", 0)), int(data.get("erase_timestamp", 0))
        except (KeyError, TypeError, ValueError, CommandError) as err:
            log.error("%s: bad content (%s); using the generated SDR records", self.path, err)
            return
        self.records, self.add_timestamp, self.erase_timestamp = records, add, erase
        self.stored = True

    def _save(self) -> None:
        self.stored = True
        save_json(self.path, {"version": 1, "records": [r.hex() for r in self.records],
                              "add_timestamp": self.add_timestamp,
                              "erase_timestamp": self.erase_timestamp})

    def replace(self, records: list[bytes], add_timestamp: int) -> None:
        """Generated records changed: they replace a repository nobody has written to."""
        if not self.stored:
            super().replace(records, add_timestamp)

    # ------------------------------------------------------------------ reads
    def _ids(self) -> list[int]:
        return [struct.unpack_from("<H", record)[0] for record in self.records]

    def _index(self, record_id: int) -> int:
        ids = self._ids()
        if record_id == FIRST_RECORD and ids:
            return 0
        if record_id == LAST_RECORD and ids:
            return len(ids) - 1
        if record_id in ids:
            return ids.index(record_id)
        raise CommandError(Cc.NOT_PRESENT, reason=f"no SDR record {record_id:#06x}")

    def read(self, reservation_id: int, record_id: int, offset: int, count: int) -> bytes:
        index = self._index(record_id)
        ids = self._ids()
        next_id = ids[index + 1] if index + 1 < len(ids) else LAST_RECORD
        return read_response(self.reservation, reservation_id, self.records[index], next_id,
                             offset, count)

    def info(self) -> bytes:
        return struct.pack("<BHHIIB", SDR_VERSION, len(self.records), self.free_bytes(),
                           self.add_timestamp, self.erase_timestamp, SDR_OPS_WRITABLE)

    # ------------------------------------------------------------------ writes
    def _check_reservation(self, reservation_id: int) -> None:
        if not self.reservation.is_valid(reservation_id):
            raise CommandError(Cc.RESERVATION_CANCELLED, reason="SDR reservation not valid")

    def _next_id(self) -> int:
        ids = self._ids()
        record_id = max(ids, default=0) + 1
        if record_id >= LAST_RECORD:  # wrapped: the lowest free one
            record_id = next(i for i in range(1, LAST_RECORD) if i not in ids)
        return record_id

    def _store(self, record: bytes, record_id: int) -> int:
        units = -(-len(record) // ALLOCATION_UNIT)
        if self.used_units() + units > REPOSITORY_UNITS:
            raise CommandError(Cc.OUT_OF_SPACE, reason="the SDR repository is full")
        self.records.append(struct.pack("<H", record_id) + record[2:])
        self.add_timestamp = self.clock()
        self.reservation.cancel()  # the repository changed under any reader
        self._save()
        log.info("%s: SDR record %04x added (type %#04x)", self.path.parent.name, record_id,
                 record[3])
        return record_id

    def add(self, record: bytes) -> int:
        """Add SDR: the record's own ID is ignored; returns the one it gets."""
        return self._store(checked_record(record), self._next_id())

    def partial_add(self, reservation_id: int, record_id: int, offset: int, last: bool,
                    data: bytes) -> int:
        """Partial Add SDR: the first piece (record ID 0000h, offset 0) gets the new ID, every
        later piece names it; the record is stored with the last piece."""
        if not self.reservation.is_valid(reservation_id):
            self._partial.clear()
            raise CommandError(Cc.RESERVATION_CANCELLED, reason="SDR reservation not valid")
        if offset == 0 and record_id == 0:
            self._partial, self._partial_id = bytearray(), self._next_id()
        elif record_id != self._partial_id or not self._partial:
            raise CommandError(Cc.INVALID_DATA_FIELD,
                               reason=f"record {record_id:#06x} is not being added")
        if offset != len(self._partial):
            raise CommandError(Cc.PARAMETER_OUT_OF_RANGE,
                               reason=f"offset {offset}: {len(self._partial)} bytes so far")
        self._partial += data
        if len(self._partial) > MAX_RECORD:
            self._partial.clear()
            raise CommandError(Cc.REQUEST_DATA_LENGTH_INVALID, reason="SDR record too long")
        if not last:
            return self._partial_id
        record, self._partial = bytes(self._partial), bytearray()
        if len(record) < HEADER_SIZE or record[4] != len(record) - HEADER_SIZE:
            raise CommandError(CC_LENGTH_MISMATCH, reason="SDR length byte does not match")
        return self._store(checked_record(record), self._partial_id)

    def delete(self, reservation_id: int, record_id: int) -> int:
        self._check_reservation(reservation_id)
        if record_id in (FIRST_RECORD, LAST_RECORD):
            raise CommandError(Cc.INVALID_DATA_FIELD, reason="Delete SDR needs a record ID")
        index = self._index(record_id)
        del self.records[index]
        self.erase_timestamp = self.clock()
        self.reservation.cancel()
        self._save()
        log.info("%s: SDR record %04x deleted", self.path.parent.name, record_id)
        return record_id

    def clear(self, reservation_id: int, signature: bytes, action: int) -> int:
        """Clear SDR Repository: erase at once (AAh) or report the status (00h)."""
        if not erase_requested(self.reservation, self._cleared_with, reservation_id,
                               signature, action, "SDR"):
            return ERASURE_COMPLETED
        self.records = []
        self.erase_timestamp = self.clock()
        self._cleared_with = reservation_id
        self.reservation.cancel()
        self._save()
        log.info("%s: SDR repository cleared", self.path.parent.name)
        return ERASURE_COMPLETED

    def run_initialization_agent(self, action: int) -> int:
        if action not in (INIT_AGENT_GET_STATUS, INIT_AGENT_RUN):
            raise CommandError(Cc.INVALID_DATA_FIELD, reason=f"init agent action {action:#04x}")
        return INIT_AGENT_COMPLETED
