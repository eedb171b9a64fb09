"""Platform Event Traps: the SNMPv1 Trap-PDU a BMC sends for a PEF alert (PET v1.0), in BER.

A small DER/BER encoder (the few types a Trap-PDU uses) and the PET variable binding: one
OCTET STRING under 1.3.6.1.4.1.3183.1.1.1 holding the event, multi-byte fields most
significant byte first, as FreeIPMI's ipmi-pet and OpenIPMI decode it:

    0  GUID (16)          16 sequence number (2)   18 local timestamp (4, s since 1998)
    22 UTC offset (2)     24 trap source type      25 event source type   26 severity
    27 sensor device      28 sensor number         29 entity              30 entity instance
    31 event data 1-8     39 language code         40 manufacturer ID (4) 44 system ID (2)
    46 OEM custom fields (C1h: none)
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

PET_ENTERPRISE = (1, 3, 6, 1, 4, 1, 3183, 1, 1)
PET_VARBIND = (1, 3, 6, 1, 4, 1, 3183, 1, 1, 1)
GENERIC_ENTERPRISE_SPECIFIC = 6
PET_EPOCH = 883612800  # 1998-01-01 00:00 UTC, in Unix seconds
UTC_OFFSET_UNSPECIFIED = 0xFFFF
SOURCE_IPMI = 0x20  # trap and event source type: IPMI (BMC)
LANGUAGE_ENGLISH = 0x19
NO_OEM_FIELDS = b"\xc1"

# BER tags
INTEGER, OCTET_STRING, OBJECT_IDENTIFIER, SEQUENCE = 0x02, 0x04, 0x06, 0x30
IP_ADDRESS, TIME_TICKS, TRAP_PDU = 0x40, 0x43, 0xA4


def tlv(tag: int, value: bytes) -> bytes:
    """One BER element, with a definite length (short or long form)."""
    length = len(value)
    if length < 0x80:
        return bytes([tag, length]) + value
    size = (length.bit_length() + 7) // 8
    return bytes([tag, 0x80 | size]) + length.to_bytes(size, "big") + value


def ber_integer(value: int, tag: int = INTEGER) -> bytes:
    """Two's complement, shortest form (TimeTicks and friends use it unsigned)."""
    size = max(1, (value.bit_length() + 8) // 8)  # room for the sign bit
    return tlv(tag, value.to_bytes(size, "big", signed=True))


def ber_unsigned(value: int, tag: int) -> bytes:
    """An unsigned application type (TimeTicks): a leading zero keeps it positive."""
    return ber_integer(value & 0xFFFFFFFF, tag)


def ber_oid(arcs: tuple[int, ...]) -> bytes:
    body = bytearray([40 * arcs[0] + arcs[1]])
    for arc in arcs[2:]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body += bytes(reversed(chunk))
    return tlv(OBJECT_IDENTIFIER, bytes(body))


@dataclass(frozen=True)
class PetSource:
    """What the trap says about the BMC that sends it."""

    guid: bytes  # 16 bytes, RFC 4122 order
    agent_address: str  # the BMC's IPv4 address
    manufacturer_id: int
    system_id: int  # the product ID


@dataclass(frozen=True)
class PetEvent:
    """One SEL event record, with what the SDR and the filter add to it."""

    record: bytes  # the 16-byte SEL system event record
    severity: int  # the event filter's severity (table 30-2 byte 4)
    entity: int = 0
    entity_instance: int = 0
    sequence: int = 0


def specific_trap(record: bytes) -> int:
    """(sensor type << 16) | (event type << 8) | (deassertion << 7) | offset."""
    direction = record[12] & 0x80
    return record[10] << 16 | (record[12] & 0x7F) << 8 | direction | record[13] & 0x0F


def pet_data(source: PetSource, event: PetEvent) -> bytes:
    """The PET variable binding's value (see the module docstring)."""
    record = event.record
    timestamp = struct.unpack_from("<I", record, 3)[0]
    local = max(0, timestamp - PET_EPOCH) if timestamp else 0xFFFFFFFF  # unspecified
    return (source.guid[:16].ljust(16, b"\0")
            + struct.pack(">HIH", event.sequence & 0xFFFF, local, UTC_OFFSET_UNSPECIFIED)
            + bytes([SOURCE_IPMI, SOURCE_IPMI, event.severity & 0xFF, record[7], record[11],
                     event.entity & 0xFF, event.entity_instance & 0xFF])
            + record[13:16] + b"\xff" * 5
            + bytes([LANGUAGE_ENGLISH])
            + struct.pack(">IH", source.manufacturer_id & 0xFFFFFFFF, source.system_id & 0xFFFF)
            + NO_OEM_FIELDS)


def trap_pdu(community: bytes, source: PetSource, event: PetEvent, uptime: float) -> bytes:
    """The whole SNMPv1 message: version 0, community, Trap-PDU with the PET varbind."""
    varbind = tlv(SEQUENCE, ber_oid(PET_VARBIND) + tlv(OCTET_STRING, pet_data(source, event)))
    pdu = tlv(TRAP_PDU,
              ber_oid(PET_ENTERPRISE)
              + tlv(IP_ADDRESS, ipaddress.IPv4Address(source.agent_address).packed)
              + ber_integer(GENERIC_ENTERPRISE_SPECIFIC)
              + ber_integer(specific_trap(event.record))
              + ber_unsigned(int(uptime * 100), TIME_TICKS)  # hundredths of a second
              + tlv(SEQUENCE, varbind))
    return tlv(SEQUENCE, ber_integer(0) + tlv(OCTET_STRING, community) + pdu)
