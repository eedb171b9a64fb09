"""Small IPMI 1.5 and RMCP+ clients written from the specification, driving the session layer
at a controllable `now` (the same crypto module computes the keys on both sides;
test_rmcp_crypto.py pins that module to captured real traffic)."""

from __future__ import annotations

import os
from typing import Any

import pytest

from pybmc.core.bmc import Bmc
from pybmc.protocol.rmcp import crypto
from pybmc.protocol.rmcp.packet import (
    build_ipmi15,
    build_rmcpplus,
    parse_ipmi15,
    parse_rmcp,
    parse_rmcpplus,
)
from pybmc.protocol.rmcp.session import SessionManager
from pybmc.wire.codes import AuthType
from pybmc.wire.message import Request, decode_response, encode_request

ADDR = ("127.0.0.1", 40000)
OTHER = ("127.0.0.9", 41000)


def le32(value: int) -> bytes:
    return value.to_bytes(4, "little")



class Wire:
    """Feeds datagrams to the manager at a controllable `now` and collects the replies."""

    def __init__(self, manager: SessionManager) -> None:
        self.manager = manager
        self.now = 1000.0

    def send(self, datagram: bytes, addr: tuple[str, int] = ADDR) -> list[bytes]:
        self.manager.receive_datagram(datagram, addr, self.now)
        out = self.manager.datagrams_to_send()
        assert all(dest == addr for _, dest in out)
        return [data for data, _ in out]




def body_of(datagram: bytes) -> bytes:
    return parse_rmcp(datagram)[1]


# ============================================================================ RMCP+ client
class PlusClient:
    def __init__(self, wire: Wire, suite: int = 3, user: bytes = b"admin",
                 password: bytes = b"secret", role: int = 0x14,
                 addr: tuple[str, int] = ADDR, console_sid: int = 0x11223344) -> None:
        self.wire = wire
        self.suite = crypto.CIPHER_SUITES[suite]
        self.user, self.password, self.role = user, password, role
        self.addr = addr
        self.console_sid = console_sid
        self.tag = 0
        self.bmc_sid = 0
        self.out_seq = 1
        self.rq_seq = 1
        self.exchange: crypto.RakpExchange | None = None
        self.keys: crypto.SessionKeys | None = None

    def _setup(self, payload_type: int, payload: bytes, expect: int) -> bytes | None:
        self.last_setup = build_rmcpplus(payload_type, 0, 0, payload)
        replies = self.wire.send(self.last_setup, self.addr)
        if not replies:
            return None
        assert len(replies) == 1
        packet = parse_rmcpplus(body_of(replies[0]))
        assert (packet.payload_type, packet.session_id, packet.sequence) == (expect, 0, 0)
        assert not packet.authenticated and not packet.encrypted
        return packet.payload

    def open(self, requested: int = 0, proposal: tuple[int | None, ...] | None = None,
             length: int | None = None) -> bytes:
        proposal = proposal or self.suite.algorithms
        records = b"".join(
            bytes([kind, 0, 0, 0, 0, 0, 0, 0]) if number is None
            else bytes([kind, 0, 0, 8, number, 0, 0, 0])
            for kind, number in enumerate(proposal))
        payload = bytes([self.tag, requested, 0, 0]) + le32(self.console_sid) + records
        data = self._setup(0x10, payload[:length], 0x11)
        assert data is not None and data[0] == self.tag
        if data[1] == 0:
            assert len(data) == 36
            assert int.from_bytes(data[4:8], "little") == self.console_sid
            self.bmc_sid = int.from_bytes(data[8:12], "little")
            assert self.bmc_sid != 0
            assert (data[16], data[24], data[32]) == self.suite.algorithms
        return data

    def rakp1(self) -> bytes:
        self.tag += 1
        self.console_random = os.urandom(16)
        payload = (bytes([self.tag, 0, 0, 0]) + le32(self.bmc_sid) + self.console_random
                   + bytes([self.role, 0, 0, len(self.user)]) + self.user)
        self.last_rakp1 = build_rmcpplus(0x12, 0, 0, payload)
        data = self._setup(0x12, payload, 0x13)
        assert data is not None and data[0] == self.tag
        if data[1] == 0:
            self.exchange = crypto.RakpExchange(
                auth=self.suite.auth, console_sid=self.console_sid, bmc_sid=self.bmc_sid,
                console_random=self.console_random, bmc_random=data[8:24], guid=data[24:40],
                role=self.role, user_name=self.user)
        return data

    def rakp2_matches_my_password(self, data: bytes) -> bool:
        assert self.exchange is not None
        return data[40:] == self.exchange.rakp2_authcode(crypto.user_key(self.password))

    def rakp3(self, status: int = 0, authcode: bytes | None = None) -> bytes | None:
        assert self.exchange is not None
        self.tag += 1
        kuid = crypto.user_key(self.password)
        if authcode is None:
            authcode = self.exchange.rakp3_authcode(kuid)
        payload = bytes([self.tag, status, 0, 0]) + le32(self.bmc_sid) + authcode
        data = self._setup(0x14, payload, 0x15)
        if data is not None and data[1] == 0:
            sik = self.exchange.session_integrity_key(kuid)
            assert data[8:] == self.exchange.rakp4_icv(sik)
            assert int.from_bytes(data[4:8], "little") == self.console_sid
            self.keys = crypto.derive_keys(self.suite.auth, sik, kuid)
        return data

    def login(self, requested: int = 0) -> PlusClient:
        assert self.open(requested)[1] == 0
        rakp2 = self.rakp1()
        assert rakp2[1] == 0 and self.rakp2_matches_my_password(rakp2)
        rakp4 = self.rakp3()
        assert rakp4 is not None and rakp4[1] == 0
        return self

    # ------------------------------------------------------------------ in session
    @property
    def signed(self) -> bool:
        return self.suite.integrity.number != 0

    @property
    def sealed(self) -> bool:
        return self.suite.confidentiality.number != 0

    def seal(self, payload_type: int, payload: bytes, seq: int | None = None,
             sign: bool | None = None, encrypt: bool | None = None) -> bytes:
        assert self.keys is not None
        sign = self.signed if sign is None else sign
        encrypt = self.sealed if encrypt is None else encrypt
        if seq is None:
            seq, self.out_seq = self.out_seq, self.out_seq + 1
        body = crypto.aes_encrypt(self.keys.aes_key, payload) if encrypt else payload
        signer = (lambda data: crypto.integrity_authcode(self.suite.integrity, self.keys, data)
                  ) if sign else None
        return build_rmcpplus(payload_type, self.bmc_sid, seq, body, encrypted=encrypt,
                              sign=signer)

    def unseal(self, datagram: bytes) -> tuple[int, bytes]:
        assert self.keys is not None
        packet = parse_rmcpplus(body_of(datagram))
        assert packet.session_id == self.console_sid
        assert (packet.authenticated, packet.encrypted) == (self.signed, self.sealed)
        if self.signed:
            covered, authcode = packet.split_trailer(self.suite.integrity.authcode_len)
            assert crypto.integrity_ok(self.suite.integrity, self.keys, covered, authcode)
        payload = (crypto.aes_decrypt(self.keys.aes_key, packet.payload) if self.sealed
                   else packet.payload)
        return packet.payload_type, payload

    def message(self, netfn: int, cmd: int, data: bytes = b"",
                rq_seq: int | None = None) -> bytes:
        if rq_seq is None:
            rq_seq, self.rq_seq = self.rq_seq, (self.rq_seq + 1) % 64
        return encode_request(Request(netfn, cmd, data, rq_seq=rq_seq))

    def request(self, netfn: int, cmd: int, data: bytes = b"", rq_seq: int | None = None,
                seq: int | None = None) -> tuple[int, bytes] | None:
        replies = self.wire.send(self.seal(0, self.message(netfn, cmd, data, rq_seq), seq),
                                 self.addr)
        if not replies:
            return None
        assert len(replies) == 1
        payload_type, payload = self.unseal(replies[0])
        assert payload_type == 0
        rnetfn, rcmd, cc, rdata = decode_response(payload)
        assert (rnetfn, rcmd) == (netfn + 1, cmd)
        return cc, rdata


# ============================================================================ IPMI 1.5 client
class V15Client:
    def __init__(self, wire: Wire, auth_type: int = AuthType.MD5, user: bytes = b"admin",
                 password: bytes = b"secret", addr: tuple[str, int] = ADDR) -> None:
        self.wire = wire
        self.auth_type = auth_type
        self.user, self.password = user, password
        self.addr = addr
        self.sid = 0
        self.seq = 0
        self.rq_seq = 1
        self.temp_sid = 0
        self.challenge = b""
        self.bmc_seq_seen: list[int] = []

    def _message(self, netfn: int, cmd: int, data: bytes, rq_seq: int | None) -> bytes:
        if rq_seq is None:
            rq_seq, self.rq_seq = self.rq_seq, (self.rq_seq + 1) % 64
        return encode_request(Request(netfn, cmd, data, rq_seq=rq_seq))

    def sessionless(self, netfn: int, cmd: int, data: bytes = b"") -> tuple[int, bytes]:
        replies = self.wire.send(build_ipmi15(0, 0, 0, self._message(netfn, cmd, data, None)),
                                 self.addr)
        assert len(replies) == 1
        packet = parse_ipmi15(body_of(replies[0]))
        assert (packet.auth_type, packet.sequence, packet.session_id) == (0, 0, 0)
        _, _, cc, rdata = decode_response(packet.message)
        return cc, rdata

    def get_challenge(self, auth_type: int | None = None, user: bytes | None = None
                      ) -> int:
        auth_type = self.auth_type if auth_type is None else auth_type
        name = (self.user if user is None else user).ljust(16, b"\x00")
        cc, data = self.sessionless(0x06, 0x39, bytes([auth_type]) + name)
        if cc == 0:
            self.temp_sid = int.from_bytes(data[0:4], "little")
            self.challenge = data[4:20]
        return cc

    def activate(self, privilege: int = 4, outbound: int = 0x100, password: bytes | None = None,
                 requested_auth: int | None = None, challenge: bytes | None = None
                 ) -> tuple[int, bytes] | None:
        password = self.password if password is None else password
        requested_auth = self.auth_type if requested_auth is None else requested_auth
        data = (bytes([requested_auth, privilege]) + (challenge or self.challenge)
                + le32(outbound))
        message = self._message(0x06, 0x3A, data, None)
        authcode = crypto.v15_authcode(self.auth_type, password, self.temp_sid, 0, message)
        replies = self.wire.send(build_ipmi15(self.auth_type, 0, self.temp_sid, message,
                                              authcode), self.addr)
        if not replies:
            return None
        packet = parse_ipmi15(body_of(replies[0]))
        assert packet.session_id == self.temp_sid
        _, _, cc, rdata = decode_response(packet.message)
        if cc == 0:
            assert packet.sequence == outbound  # the BMC starts where the console asked
            assert crypto.v15_authcode_ok(self.auth_type, self.password, self.temp_sid,
                                          packet.sequence, packet.message, packet.authcode)
            self.sid = int.from_bytes(rdata[1:5], "little")
            self.seq = int.from_bytes(rdata[5:9], "little")
            self.bmc_seq_seen.append(packet.sequence)
        return cc, rdata

    def login(self, privilege: int = 4) -> V15Client:
        assert self.get_challenge() == 0
        result = self.activate(privilege)
        assert result is not None and result[0] == 0
        return self

    def datagram(self, netfn: int, cmd: int, data: bytes = b"", rq_seq: int | None = None,
                 seq: int | None = None, password: bytes | None = None) -> bytes:
        if seq is None:
            seq, self.seq = self.seq, (self.seq + 1) & 0xFFFFFFFF or 1
        message = self._message(netfn, cmd, data, rq_seq)
        authcode = crypto.v15_authcode(self.auth_type, password or self.password, self.sid, seq,
                                       message)
        return build_ipmi15(self.auth_type, seq, self.sid, message, authcode)

    def request(self, netfn: int, cmd: int, data: bytes = b"", rq_seq: int | None = None,
                seq: int | None = None, password: bytes | None = None
                ) -> tuple[int, bytes] | None:
        replies = self.wire.send(self.datagram(netfn, cmd, data, rq_seq, seq, password),
                                 self.addr)
        if not replies:
            return None
        packet = parse_ipmi15(body_of(replies[0]))
        assert (packet.auth_type, packet.session_id) == (self.auth_type, self.sid)
        assert crypto.v15_authcode_ok(self.auth_type, self.password, self.sid, packet.sequence,
                                      packet.message, packet.authcode)
        assert packet.sequence == self.bmc_seq_seen[-1] + 1  # outbound seq counts up
        self.bmc_seq_seen.append(packet.sequence)
        _, _, cc, rdata = decode_response(packet.message)
        return cc, rdata


GET_DEVICE_ID = (0x06, 0x01)
GET_SESSION_INFO = (0x06, 0x3D)
SET_SESSION_PRIV = (0x06, 0x3B)
CLOSE_SESSION = (0x06, 0x3C)


# Fixtures shared by the session test modules, imported there and known to pytest by the
# names given: three users of the three privilege levels (conftest's `bmc` is built from
# `bmc_sections`), and a Wire on that BMC.
@pytest.fixture(name="bmc_sections")
def three_users() -> dict[str, Any]:
    return {"users": [
        {"name": "admin", "password": "secret"},
        {"name": "oper", "password": "operpw", "privilege": "operator"},
        {"name": "viewer", "password": "viewerpw", "privilege": "user"},
    ]}


@pytest.fixture(name="wire")
def wire_on_bmc(bmc: Bmc) -> Wire:
    return Wire(bmc.sessions)
