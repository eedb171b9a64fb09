"""The IPMI LAN message codec (IPMI 2.0 section 13.8): addresses, sequence, two checksums."""

from __future__ import annotations

from dataclasses import dataclass

from pybmc.wire.codes import BMC_SLAVE_ADDRESS


class MessageError(ValueError):
    """A message that cannot be parsed; the edge drops it with a log line."""


def checksum(data: bytes) -> int:
    """Two's-complement checksum: the byte that makes the sum of data + it zero (mod 256)."""
    return -sum(data) & 0xFF


@dataclass(frozen=True, slots=True)
class Request:
    """One IPMI request as a BMC receives it."""

    netfn: int
    cmd: int
    data: bytes = b""
    rs_addr: int = BMC_SLAVE_ADDRESS
    rs_lun: int = 0
    rq_addr: int = 0x81
    rq_seq: int = 0
    rq_lun: int = 0


def decode_request(raw: bytes) -> Request:
    """Parse `rsAddr netFn/rsLUN chk1 rqAddr rqSeq/rqLUN cmd data chk2`."""
    if len(raw) < 7:
        raise MessageError(f"IPMI message too short ({len(raw)} bytes)")
    if checksum(raw[0:2]) != raw[2]:
        raise MessageError("bad header checksum")
    if checksum(raw[3:-1]) != raw[-1]:
        raise MessageError("bad data checksum")
    # Positional (netfn, cmd, data, rs_addr, rs_lun, rq_addr, rq_seq, rq_lun): this runs for
    # every request, and keyword arguments cost measurably more.
    return Request(raw[1] >> 2, raw[5], bytes(raw[6:-1]), raw[0], raw[1] & 0x03, raw[3],
                   raw[4] >> 2, raw[4] & 0x03)


def encode_request(req: Request) -> bytes:
    """Build the wire form of a request (used by tests and the conformance client side)."""
    head = bytes([req.rs_addr, (req.netfn << 2) | req.rs_lun])
    body = bytes([req.rq_addr, ((req.rq_seq & 0x3F) << 2) | req.rq_lun, req.cmd]) + req.data
    return head + bytes([checksum(head)]) + body + bytes([checksum(body)])


def encode_response(req: Request, payload: bytes) -> bytes:
    """Build the response to `req`; `payload` is the completion code followed by the data."""
    head = bytes([req.rq_addr, ((req.netfn | 1) << 2) | req.rq_lun])
    body = bytes([req.rs_addr, (req.rq_seq << 2) | req.rs_lun, req.cmd]) + payload
    return head + bytes([checksum(head)]) + body + bytes([checksum(body)])


def decode_response(raw: bytes) -> tuple[int, int, int, bytes]:
    """Parse a response into (netfn, cmd, completion code, data); for tests and clients."""
    if len(raw) < 8 or checksum(raw[0:2]) != raw[2] or checksum(raw[3:-1]) != raw[-1]:
        raise MessageError("malformed response")
    return raw[1] >> 2, raw[5], raw[6], bytes(raw[7:-1])
