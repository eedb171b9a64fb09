"""The IPMI LAN message codec against hand-checked byte vectors."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pybmc.wire.message import (
    MessageError,
    Request,
    checksum,
    decode_request,
    decode_response,
    encode_request,
    encode_response,
)

# xCAT's session-less Get Channel Authentication Capabilities (xcat.md §1.2)
XCAT_AUTH_CAP = bytes.fromhex("2018c88100388e04b5")


def test_checksum_makes_the_sum_zero():
    assert checksum(bytes([0x20, 0x18])) == 0xC8
    assert (0x20 + 0x18 + checksum(bytes([0x20, 0x18]))) & 0xFF == 0


def test_decode_xcat_get_channel_auth_caps():
    req = decode_request(XCAT_AUTH_CAP)
    assert (req.netfn, req.cmd, req.data) == (0x06, 0x38, b"\x8e\x04")
    assert (req.rs_addr, req.rq_addr, req.rq_seq, req.rs_lun, req.rq_lun) == (0x20, 0x81, 0, 0, 0)


def test_encode_request_reproduces_the_wire_bytes():
    req = Request(netfn=0x06, cmd=0x38, data=b"\x8e\x04")
    assert encode_request(req) == XCAT_AUTH_CAP


def test_encode_response_swaps_addresses_and_keeps_the_sequence():
    req = decode_request(encode_request(Request(netfn=0x00, cmd=0x01, rq_seq=5)))
    raw = encode_response(req, b"\x00\x01\x00\x00")
    # rqAddr 81, netFn 01 (chassis response) << 2, chk, rsAddr 20, seq 5 << 2, cmd, cc, data, chk
    assert raw[:2] == bytes([0x81, 0x04])
    assert raw[3:6] == bytes([0x20, 5 << 2, 0x01])
    assert decode_response(raw) == (0x01, 0x01, 0x00, b"\x01\x00\x00")


@pytest.mark.parametrize("raw", [b"", b"\x20\x18", XCAT_AUTH_CAP[:-1] + b"\x00",
                                 b"\x20\x18\x00" + XCAT_AUTH_CAP[3:]])
def test_malformed_messages_raise_message_error(raw: bytes):
    with pytest.raises(MessageError):
        decode_request(raw)


@given(st.integers(0, 0x3F), st.integers(0, 255), st.binary(max_size=64), st.integers(0, 63))
def test_request_roundtrip(netfn: int, cmd: int, data: bytes, seq: int):
    req = Request(netfn=netfn, cmd=cmd, data=data, rq_seq=seq)
    assert decode_request(encode_request(req)) == req


@given(st.binary(max_size=80))
def test_decoding_random_bytes_only_ever_raises_message_error(raw: bytes):
    with contextlib.suppress(MessageError):
        decode_request(raw)
