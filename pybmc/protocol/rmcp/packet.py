"""RMCP, ASF presence ping, and the IPMI 1.5 / RMCP+ session wrappers (sans-IO, no crypto).

Layout of one datagram (IPMI 2.0 sections 13.1-13.8):

    RMCP header     version 06, reserved 00, sequence (FF for IPMI: no RMCP ack), class
    ASF (class 6)   IANA 4542 (4, big-endian), type, tag, reserved, data length, data
    IPMI 1.5        authtype, session seq (4 LE), session ID (4 LE), [authcode 16], length, msg
    RMCP+           authtype 06, payload type (bit7 encrypted, bit6 authenticated),
                    [OEM IANA 3 + reserved 1 + OEM payload ID 2 when type is 02],
                    session ID (4 LE), session seq (4 LE), payload length (2 LE), payload,
                    [integrity pad FF.., pad length, next header 07, AuthCode] when authenticated

Everything here is frozen dataclasses and pure functions; anything malformed raises PacketError.
Integrity and confidentiality are the session layer's business: `build_rmcpplus` takes a `sign`
callable and `RmcpPlusPacket.split_trailer` hands back the bytes an AuthCode covers.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass

RMCP_VERSION = 0x06
RMCP_SEQ_NO_ACK = 0xFF
RMCP_CLASS_ASF = 0x06
RMCP_CLASS_IPMI = 0x07
RMCP_CLASS_ACK_BIT = 0x80

ASF_IANA = 4542
ASF_PRESENCE_PING = 0x80
ASF_PRESENCE_PONG = 0x40
# Pong "supported entities": bit 7 IPMI supported, bits 3:0 ASF version 1.0.
ASF_ENTITIES_IPMI = 0x81

AUTHTYPE_RMCPPLUS = 0x06
PAYLOAD_OEM_EXPLICIT = 0x02
NEXT_HEADER = 0x07
V15_AUTHCODE_LEN = 16
RMCPPLUS_HEADER_LEN = 12  # authtype .. payload length, without the OEM extension
INTEGRITY_ALIGN = 4
_SESSION_SEQ_LENGTH = struct.Struct("<IIH")  # RMCP+ session ID, session sequence, payload length


class PacketError(ValueError):
    """A datagram that does not parse; the session layer drops it with a debug line."""


@dataclass(frozen=True, slots=True)
class RmcpHeader:
    version: int
    sequence: int
    msg_class: int

    @property
    def is_ack(self) -> bool:
        return bool(self.msg_class & RMCP_CLASS_ACK_BIT)

    @property
    def kind(self) -> int:
        return self.msg_class & 0x1F


def parse_rmcp(data: bytes) -> tuple[RmcpHeader, bytes]:
    """Split the 4-byte RMCP header from the rest of the datagram."""
    if len(data) < 4:
        raise PacketError(f"datagram too short for RMCP ({len(data)} bytes)")
    if data[0] != RMCP_VERSION:
        raise PacketError(f"RMCP version {data[0]:#04x} is not 0x06")
    return RmcpHeader(data[0], data[2], data[3]), bytes(data[4:])


def is_rmcp(data: bytes) -> bool:
    """Whether a datagram starts with an RMCP header (what the LAN statistics count)."""
    return len(data) >= 4 and data[0] == RMCP_VERSION


def build_rmcp(msg_class: int, sequence: int = RMCP_SEQ_NO_ACK) -> bytes:
    return bytes([RMCP_VERSION, 0x00, sequence, msg_class])


# ------------------------------------------------------------------------- ASF
@dataclass(frozen=True, slots=True)
class AsfMessage:
    iana: int
    msg_type: int
    tag: int
    data: bytes


def parse_asf(body: bytes) -> AsfMessage:
    if len(body) < 8:
        raise PacketError(f"ASF message too short ({len(body)} bytes)")
    iana, msg_type, tag, _reserved, length = struct.unpack(">IBBBB", body[:8])
    if len(body) < 8 + length:
        raise PacketError("ASF data length exceeds the datagram")
    return AsfMessage(iana, msg_type, tag, bytes(body[8:8 + length]))


def build_asf_pong(tag: int, rmcp_sequence: int = RMCP_SEQ_NO_ACK) -> bytes:
    """Presence Pong (ASF 2.0 3.2.4.3): same tag; IANA, no OEM data, IPMI supported."""
    data = struct.pack(">II", ASF_IANA, 0) + bytes([ASF_ENTITIES_IPMI, 0x00]) + bytes(6)
    message = struct.pack(">IBBBB", ASF_IANA, ASF_PRESENCE_PONG, tag, 0, len(data)) + data
    return build_rmcp(RMCP_CLASS_ASF, rmcp_sequence) + message


# ------------------------------------------------------------------------- IPMI 1.5
@dataclass(frozen=True, slots=True)
class Ipmi15Packet:
    auth_type: int
    sequence: int
    session_id: int
    authcode: bytes  # empty when auth_type is NONE
    message: bytes  # the IPMI message (rsAddr .. checksum)


def parse_ipmi15(body: bytes) -> Ipmi15Packet:
    """Parse an IPMI 1.5 session header + message; trailing bytes (legacy pad) are ignored."""
    if len(body) < 10:
        raise PacketError(f"IPMI 1.5 session header too short ({len(body)} bytes)")
    auth_type = body[0] & 0x0F
    if auth_type == AUTHTYPE_RMCPPLUS:
        raise PacketError("authtype 6 is RMCP+, not IPMI 1.5")
    sequence, session_id = struct.unpack("<II", body[1:9])
    offset = 9
    authcode = b""
    if auth_type != 0:
        if len(body) < offset + V15_AUTHCODE_LEN + 1:
            raise PacketError("IPMI 1.5 packet too short for its authcode")
        authcode = bytes(body[offset:offset + V15_AUTHCODE_LEN])
        offset += V15_AUTHCODE_LEN
    length = body[offset]
    offset += 1
    if len(body) < offset + length:
        raise PacketError(f"IPMI 1.5 message length {length} exceeds the datagram")
    return Ipmi15Packet(auth_type, sequence, session_id, authcode,
                        bytes(body[offset:offset + length]))


def build_ipmi15(auth_type: int, sequence: int, session_id: int, message: bytes,
                 authcode: bytes = b"") -> bytes:
    """The whole datagram. `authcode` (16 bytes) is required unless auth_type is NONE."""
    if len(message) > 0xFF:
        raise PacketError("IPMI 1.5 message longer than 255 bytes")
    head = bytes([auth_type]) + struct.pack("<II", sequence & 0xFFFFFFFF, session_id)
    if auth_type != 0:
        if len(authcode) != V15_AUTHCODE_LEN:
            raise PacketError("IPMI 1.5 authcode must be 16 bytes")
        head += authcode
    return build_rmcp(RMCP_CLASS_IPMI) + head + bytes([len(message)]) + message


# ------------------------------------------------------------------------- RMCP+
@dataclass(frozen=True, slots=True)
class RmcpPlusPacket:
    payload_type: int
    encrypted: bool
    authenticated: bool
    session_id: int
    sequence: int
    payload: bytes  # as on the wire (still encrypted when `encrypted`)
    trailer: bytes  # everything after the payload (integrity trailer), may be empty
    raw: bytes  # the session part of the datagram, from the authtype byte on
    oem_iana: int = 0
    oem_payload_id: int = 0

    def split_trailer(self, authcode_len: int) -> tuple[bytes, bytes]:
        """Check the integrity trailer; return (bytes the AuthCode covers, AuthCode)."""
        trailer = self.trailer
        if len(trailer) < 2 + authcode_len:
            raise PacketError("integrity trailer too short")
        authcode = trailer[len(trailer) - authcode_len:] if authcode_len else b""
        rest = trailer[:len(trailer) - authcode_len]
        pad_length, next_header = rest[-2], rest[-1]
        if next_header != NEXT_HEADER:
            raise PacketError(f"next header {next_header:#04x} is not 0x07")
        if pad_length != len(rest) - 2:
            raise PacketError(f"integrity pad length {pad_length} does not fit the trailer")
        covered = self.raw[:len(self.raw) - authcode_len]
        return bytes(covered), bytes(authcode)


def parse_rmcpplus(body: bytes) -> RmcpPlusPacket:
    """Parse an RMCP+ session header, payload and (unchecked) trailer."""
    if len(body) < RMCPPLUS_HEADER_LEN:
        raise PacketError(f"RMCP+ header too short ({len(body)} bytes)")
    if body[0] & 0x0F != AUTHTYPE_RMCPPLUS:
        raise PacketError("not an RMCP+ packet")
    flags = body[1]
    payload_type = flags & 0x3F
    offset = 2
    oem_iana = oem_payload_id = 0
    if payload_type == PAYLOAD_OEM_EXPLICIT:
        if len(body) < RMCPPLUS_HEADER_LEN + 6:
            raise PacketError("RMCP+ OEM header too short")
        oem_iana = int.from_bytes(body[2:5], "little")
        oem_payload_id = int.from_bytes(body[6:8], "little")
        offset = 8
    session_id, sequence, length = _SESSION_SEQ_LENGTH.unpack_from(body, offset)
    offset += 10
    if len(body) < offset + length:
        raise PacketError(f"RMCP+ payload length {length} exceeds the datagram")
    # Positional: this runs for every packet, and keyword arguments cost measurably more.
    return RmcpPlusPacket(payload_type, bool(flags & 0x80), bool(flags & 0x40), session_id,
                          sequence, bytes(body[offset:offset + length]),
                          bytes(body[offset + length:]), bytes(body), oem_iana, oem_payload_id)


def integrity_pad_length(covered_so_far: int) -> int:
    """0xFF bytes needed so that header..payload + pad + pad-length + next-header is 4-aligned."""
    return -(covered_so_far + 2) % INTEGRITY_ALIGN


def build_rmcpplus(payload_type: int, session_id: int, sequence: int, payload: bytes,
                   encrypted: bool = False,
                   sign: Callable[[bytes], bytes] | None = None,
                   oem_iana: int = 0, oem_payload_id: int = 0) -> bytes:
    """The whole datagram. With `sign`, the packet is marked authenticated and gets a trailer
    whose AuthCode is `sign(bytes from the authtype byte through next header)`."""
    if len(payload) > 0xFFFF:
        raise PacketError("RMCP+ payload longer than 65535 bytes")
    flags = (payload_type & 0x3F) | (0x80 if encrypted else 0) | (0x40 if sign else 0)
    head = bytes([AUTHTYPE_RMCPPLUS, flags])
    if payload_type == PAYLOAD_OEM_EXPLICIT:
        head += oem_iana.to_bytes(3, "little") + b"\x00" + oem_payload_id.to_bytes(2, "little")
    head += _SESSION_SEQ_LENGTH.pack(session_id, sequence & 0xFFFFFFFF, len(payload))
    session = head + payload
    if sign is not None:
        pad = integrity_pad_length(len(session))
        session += b"\xff" * pad + bytes([pad, NEXT_HEADER])
        session += sign(session)
    return build_rmcp(RMCP_CLASS_IPMI) + session
