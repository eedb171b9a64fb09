"""RMCP / ASF / IPMI 1.5 / RMCP+ framing, against bytes captured from ipmitool and ipmi_sim."""

from __future__ import annotations

import pytest

from pybmc.protocol.rmcp.packet import (
    PacketError,
    build_asf_pong,
    build_ipmi15,
    build_rmcp,
    build_rmcpplus,
    integrity_pad_length,
    parse_asf,
    parse_ipmi15,
    parse_rmcp,
    parse_rmcpplus,
)

H = bytes.fromhex

# ipmitool's ping and OpenIPMI ipmi_sim's pong.
ASF_PING = H("0600ff06000011be80000000")
ASF_PONG = H("0600ff06000011be40000010000011be000000008100000000000000")
# xCAT's / ipmitool's session-less Get Channel Auth Caps, and ipmi_sim's answer.
AUTH_CAP_REQUEST = H("0600ff07000000000000000000092018c88100388e04b5")
AUTH_CAP_REPLY = H("0600ff0700000000000000000010811c6320003800019704030000000009")
# ipmitool -I lan -A MD5: Activate Session (temporary SID 5) and ipmi_sim's reply.
ACTIVATE = H("0600ff07020000000005000000f401a15c1410acea4b8b1eb8eb4f84c81d2018c8810c3a02"
             "0422e9c7701b675bb779b2d7578fe2d26de13b8c6f3d")
ACTIVATE_REPLY = H("0600ff0702e13b8c6f050000002928ee8aef0b56c72b0f29153d8e49b412811c63200c3a"
                   "0002820000000c794905043f")
# ipmitool -I lanplus -C 3: Open Session request, and an encrypted + authenticated request.
OPEN_REQUEST = H("0600ff0706100000000000000000200000000000a4a3a2a00000000801000000010000080100"
                 "00000200000801000000")
SEALED_REQUEST = H("0600ff0706c002000000030000002000f5872723a1cf56799706c8cee6d72480ff352858"
                   "16bd311e35233a10ee917003ffff0207022f2eae145962e5e48ecfee")


def test_rmcp_header():
    header, body = parse_rmcp(AUTH_CAP_REQUEST)
    assert (header.version, header.sequence, header.kind, header.is_ack) == (6, 0xFF, 7, False)
    assert body == AUTH_CAP_REQUEST[4:]
    assert build_rmcp(7) == H("0600ff07")
    assert parse_rmcp(H("0600ff87"))[0].is_ack
    with pytest.raises(PacketError):
        parse_rmcp(H("0600ff"))
    with pytest.raises(PacketError):
        parse_rmcp(H("0700ff07") + bytes(20))


def test_asf_ping_and_pong_match_ipmi_sim():
    _, body = parse_rmcp(ASF_PING)
    ping = parse_asf(body)
    assert (ping.iana, ping.msg_type, ping.tag, ping.data) == (4542, 0x80, 0x00, b"")
    assert build_asf_pong(0x00) == ASF_PONG
    assert build_asf_pong(0xC4)[9] == 0xC4
    with pytest.raises(PacketError):
        parse_asf(H("000011be8000"))
    with pytest.raises(PacketError):
        parse_asf(H("000011be80000004") + b"ab")  # claims 4 data bytes, has 2


def test_ipmi15_sessionless_round_trip():
    _, body = parse_rmcp(AUTH_CAP_REQUEST)
    packet = parse_ipmi15(body)
    assert (packet.auth_type, packet.sequence, packet.session_id, packet.authcode) == (
        0, 0, 0, b"")
    assert packet.message == H("2018c88100388e04b5")
    _, body = parse_rmcp(AUTH_CAP_REPLY)
    reply = parse_ipmi15(body)
    assert build_ipmi15(0, 0, 0, reply.message) == AUTH_CAP_REPLY


def test_ipmi15_with_authcode_round_trip():
    _, body = parse_rmcp(ACTIVATE)
    packet = parse_ipmi15(body)
    assert (packet.auth_type, packet.sequence, packet.session_id) == (2, 0, 5)
    assert packet.authcode == H("f401a15c1410acea4b8b1eb8eb4f84c8")
    assert len(packet.message) == 0x1D
    _, body = parse_rmcp(ACTIVATE_REPLY)
    reply = parse_ipmi15(body)
    assert reply.sequence == 0x6F8C3BE1
    assert build_ipmi15(2, reply.sequence, 5, reply.message, reply.authcode) == ACTIVATE_REPLY


def test_ipmi15_ignores_a_legacy_pad_byte_and_rejects_truncation():
    _, body = parse_rmcp(AUTH_CAP_REQUEST)
    assert parse_ipmi15(body + b"\x00").message == parse_ipmi15(body).message
    for cut in range(len(body)):
        with pytest.raises(PacketError):
            parse_ipmi15(body[:cut])
    _, body = parse_rmcp(ACTIVATE)
    with pytest.raises(PacketError):
        parse_ipmi15(body[:20])  # inside the authcode
    with pytest.raises(PacketError):
        build_ipmi15(2, 0, 5, b"msg", b"short")
    with pytest.raises(PacketError):
        parse_ipmi15(b"\x06" + bytes(12))  # authtype 6 is RMCP+


def test_rmcpplus_open_request_parse_and_rebuild():
    _, body = parse_rmcp(OPEN_REQUEST)
    packet = parse_rmcpplus(body)
    assert (packet.payload_type, packet.encrypted, packet.authenticated) == (0x10, False, False)
    assert (packet.session_id, packet.sequence, len(packet.payload), packet.trailer) == (
        0, 0, 32, b"")
    assert build_rmcpplus(0x10, 0, 0, packet.payload) == OPEN_REQUEST


def test_rmcpplus_sealed_packet_trailer_and_rebuild():
    _, body = parse_rmcp(SEALED_REQUEST)
    packet = parse_rmcpplus(body)
    assert (packet.payload_type, packet.encrypted, packet.authenticated) == (0, True, True)
    assert (packet.session_id, packet.sequence, len(packet.payload)) == (2, 3, 32)
    covered, authcode = packet.split_trailer(12)
    assert authcode == H("022f2eae145962e5e48ecfee")
    assert covered == body[:-12] and covered.endswith(H("ffff0207"))
    seen: list[bytes] = []

    def sign(data: bytes) -> bytes:
        seen.append(data)
        return authcode

    rebuilt = build_rmcpplus(0, 2, 3, packet.payload, encrypted=True, sign=sign)
    assert rebuilt == SEALED_REQUEST
    assert seen == [covered]


def test_rmcpplus_trailer_errors():
    _, body = parse_rmcp(SEALED_REQUEST)
    with pytest.raises(PacketError):
        parse_rmcpplus(body[:-17]).split_trailer(12)  # cut into the trailer
    bad_next = bytearray(body)
    bad_next[-13] = 0x06
    with pytest.raises(PacketError):
        parse_rmcpplus(bytes(bad_next)).split_trailer(12)
    bad_pad = bytearray(body)
    bad_pad[-14] = 0x03
    with pytest.raises(PacketError):
        parse_rmcpplus(bytes(bad_pad)).split_trailer(12)
    with pytest.raises(PacketError):
        parse_rmcpplus(body[:30])  # payload length beyond the datagram
    with pytest.raises(PacketError):
        parse_rmcpplus(body[:11])


def test_integrity_pad_makes_the_signed_part_four_byte_aligned():
    for length in range(12, 40):
        assert (length + integrity_pad_length(length) + 2) % 4 == 0
    datagram = build_rmcpplus(0, 1, 1, b"x" * 5, sign=lambda data: b"A" * 12)
    _, body = parse_rmcp(datagram)
    covered, authcode = parse_rmcpplus(body).split_trailer(12)
    assert len(covered) % 4 == 0 and authcode == b"A" * 12


def test_rmcpplus_oem_explicit_header():
    datagram = build_rmcpplus(0x02, 7, 9, b"oem", oem_iana=0x1234, oem_payload_id=0xBEEF)
    assert datagram[4:12] == H("0602") + H("341200") + b"\x00" + H("efbe")
    _, body = parse_rmcp(datagram)
    packet = parse_rmcpplus(body)
    assert (packet.oem_iana, packet.oem_payload_id, packet.session_id, packet.sequence,
            packet.payload) == (0x1234, 0xBEEF, 7, 9, b"oem")
