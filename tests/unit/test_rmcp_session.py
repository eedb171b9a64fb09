"""The session layer driven as clients drive it: IPMI 1.5 and RMCP+ logins, signed/encrypted
requests, the error paths, replay and retransmit handling, timers, and random input.

The small clients below are written from the specification (the same crypto module computes
the keys on both sides; test_rmcp_crypto.py pins that module to captured real traffic).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pybmc.core.bmc import Bmc
from pybmc.protocol.rmcp import crypto
from pybmc.protocol.rmcp.events import PayloadReceived, SessionOpened
from pybmc.protocol.rmcp.packet import (
    build_ipmi15,
    build_rmcpplus,
    parse_ipmi15,
    parse_rmcp,
    parse_rmcpplus,
)
from pybmc.protocol.rmcp.session import HALF_OPEN_TIMEOUT, SessionManager
from pybmc.wire.codes import AuthType, Privilege, RmcpStatus
from pybmc.wire.message import Request, decode_response, encode_request
from tests.unit.conftest import MakeBmc

ADDR = ("127.0.0.1", 40000)
OTHER = ("127.0.0.9", 41000)


def le32(value: int) -> bytes:
    return value.to_bytes(4, "little")


@pytest.fixture
def bmc_sections() -> dict[str, Any]:
    return {"users": [
        {"name": "admin", "password": "secret"},
        {"name": "oper", "password": "operpw", "privilege": "operator"},
        {"name": "viewer", "password": "viewerpw", "privilege": "user"},
    ]}


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


@pytest.fixture
def wire(bmc: Bmc) -> Wire:
    return Wire(bmc.sessions)


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
        replies = self.wire.send(build_rmcpplus(payload_type, 0, 0, payload), self.addr)
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


# ============================================================================ RMCP+ logins
@pytest.mark.parametrize("suite", sorted(crypto.CIPHER_SUITES))
def test_rmcpplus_login_and_requests_for_every_suite(make_bmc: MakeBmc, suite: int):
    bmc = make_bmc(security={"cipher_suites": [suite]})
    client = PlusClient(Wire(bmc.sessions), suite=suite).login()
    assert client.request(*SET_SESSION_PRIV, b"\x04") == (0, b"\x04")
    cc, info = client.request(*GET_SESSION_INFO, b"\x00")
    assert cc == 0
    assert info[3] == 2 and info[4] == Privilege.ADMINISTRATOR  # user 2 (admin), admin level
    assert info[5] == 0x11  # RMCP+ on channel 1
    assert info[6:10] == bytes([127, 0, 0, 1]) and info[16:18] == (40000).to_bytes(2, "little")
    cc, device = client.request(*GET_DEVICE_ID)
    assert cc == 0 and len(device) >= 11
    [session] = bmc.sessions.sessions
    assert session.suite is not None and session.suite.suite_id == suite


def test_default_suites_log_in_and_suite_17_is_sha256(bmc: Bmc, wire: Wire,
                                                       caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.INFO, logger="pybmc.session")
    for suite in (3, 17):
        client = PlusClient(wire, suite=suite, console_sid=0x100 + suite).login()
        assert client.request(*GET_DEVICE_ID)[0] == 0
    assert len(bmc.sessions.sessions) == 2
    opened = [r.getMessage() for r in caplog.records if "opened" in r.getMessage()]
    assert len(opened) == 2
    assert "suite 17" in opened[-1] and "'admin'" in opened[-1] and "127.0.0.1:40000" in opened[-1]


@pytest.mark.parametrize(("suite", "status"), [
    (0, RmcpStatus.INVALID_AUTHENTICATION_ALGORITHM),  # no enabled suite skips RAKP auth
    (1, RmcpStatus.INVALID_INTEGRITY_ALGORITHM),  # none of 3, 17 goes without integrity
    (2, RmcpStatus.INVALID_CONFIDENTIALITY_ALGORITHM),  # nor without AES
])
def test_weak_suites_are_refused_by_default_and_served_when_configured(
        make_bmc: MakeBmc, tmp_path: Path, suite: int, status: int):
    assert PlusClient(Wire(make_bmc().sessions), suite=suite).open()[1] == status
    bmc = make_bmc(tmp_path / "weak", security={"cipher_suites": [suite, 3, 17]})
    client = PlusClient(Wire(bmc.sessions), suite=suite).login()
    assert client.request(*GET_DEVICE_ID)[0] == 0


def test_open_session_answers_highest_with_the_channel_limit(wire: Wire):
    assert PlusClient(wire).open(requested=0)[2] == Privilege.ADMINISTRATOR
    assert PlusClient(wire).open(requested=3)[2] == Privilege.OPERATOR


@pytest.mark.parametrize(("kwargs", "status"), [
    ({"proposal": (1, 1, 5)}, RmcpStatus.INVALID_CONFIDENTIALITY_ALGORITHM),
    ({"proposal": (9, 1, 1)}, RmcpStatus.INVALID_AUTHENTICATION_ALGORITHM),
    ({"proposal": (1, 2, 1)}, RmcpStatus.INVALID_INTEGRITY_ALGORITHM),
    ({"proposal": (1, 4, 1)}, RmcpStatus.NO_CIPHER_SUITE_MATCH),  # SHA1 auth + SHA256 integrity
    ({"proposal": (0, 0, 0)}, RmcpStatus.INVALID_AUTHENTICATION_ALGORITHM),  # suite 0 is off
    ({"requested": 6}, RmcpStatus.ILLEGAL_PARAMETER),
    ({"length": 20}, RmcpStatus.ILLEGAL_PARAMETER),
])
def test_open_session_refusals(wire: Wire, kwargs: dict[str, Any], status: int):
    data = PlusClient(wire).open(**kwargs)
    assert data[1] == status
    assert len(data) == 8 and data[4:8] == le32(0x11223344)


def test_open_session_rejects_console_sid_zero_and_header_sid(wire: Wire):
    assert PlusClient(wire, console_sid=0).open()[1] == RmcpStatus.INVALID_SESSION_ID
    payload = bytes([0, 0, 0, 0]) + le32(5) + bytes([0, 0, 0, 8, 1, 0, 0, 0, 1, 0, 0, 8, 1, 0,
                                                     0, 0, 2, 0, 0, 8, 1, 0, 0, 0])
    [reply] = wire.send(build_rmcpplus(0x10, 0x1234, 0, payload))
    assert parse_rmcpplus(body_of(reply)).payload[1] == RmcpStatus.INVALID_SESSION_ID


def test_open_session_wildcards_pick_the_strongest_enabled_suite(wire: Wire):
    client = PlusClient(wire, suite=17)
    assert client.open(proposal=(None, None, None))[1] == 0
    client = PlusClient(wire, suite=3)
    assert client.open(proposal=(1, None, None))[1] == 0


def test_suite_zero_only_when_configured(make_bmc: MakeBmc):
    bmc = make_bmc(security={"cipher_suites": [0, 3]})
    # RAKP-none: no password proves anything, which is why it must be opt-in.
    client = PlusClient(Wire(bmc.sessions), suite=0, password=b"whatever").login()
    assert client.request(*GET_DEVICE_ID)[0] == 0


def test_unknown_user_gets_rakp2_status_0d_at_once(bmc: Bmc, wire: Wire,
                                                    caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.INFO, logger="pybmc.session")
    client = PlusClient(wire, user=b"nobody")
    client.open()
    data = client.rakp1()
    assert data[1] == RmcpStatus.UNAUTHORIZED_NAME
    assert data[4:8] == le32(client.console_sid)
    assert not bmc.sessions.sessions_by_id  # the half-open session is gone
    assert any("unknown user 'nobody'" in r.getMessage() for r in caplog.records)


def test_null_user_is_unknown_while_user_1_is_disabled(wire: Wire):
    client = PlusClient(wire, user=b"")
    client.open()
    assert client.rakp1()[1] == RmcpStatus.UNAUTHORIZED_NAME


def test_wrong_password_fails_at_rakp3_with_status_0f(bmc: Bmc, wire: Wire,
                                                      caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.INFO, logger="pybmc.session")
    client = PlusClient(wire, password=b"wrong")
    client.open()
    rakp2 = client.rakp1()
    assert rakp2[1] == 0 and not client.rakp2_matches_my_password(rakp2)
    rakp4 = client.rakp3()
    assert rakp4 is not None and rakp4[1] == RmcpStatus.INVALID_INTEGRITY_CHECK_VALUE
    assert not bmc.sessions.sessions_by_id
    assert any("bad password for user 'admin'" in r.getMessage() for r in caplog.records)


def test_console_error_in_rakp3_ends_the_login_silently(bmc: Bmc, wire: Wire,
                                                        caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.INFO, logger="pybmc.session")
    client = PlusClient(wire)
    client.open()
    client.rakp1()
    assert client.rakp3(status=RmcpStatus.INVALID_INTEGRITY_CHECK_VALUE) is None
    assert not bmc.sessions.sessions_by_id
    assert any("wrong password for user 'admin' (the console found RAKP 2's HMAC invalid)"
               in r.getMessage() for r in caplog.records)


def test_role_above_the_user_limit_is_clamped(wire: Wire):
    client = PlusClient(wire, user=b"oper", password=b"operpw", role=0x14).login()
    assert client.request(*SET_SESSION_PRIV, b"\x04") == (0x81, b"")
    assert client.request(*SET_SESSION_PRIV, b"\x03") == (0, b"\x03")
    assert client.request(*SET_SESSION_PRIV, b"\x00") == (0, b"\x03")
    viewer = PlusClient(wire, user=b"viewer", password=b"viewerpw", role=0x12,
                        console_sid=77).login(requested=2)
    assert viewer.request(0x00, 0x02, b"\x01")[0] == 0xD4  # chassis control needs operator


def test_rakp_messages_out_of_order_are_refused(bmc: Bmc, wire: Wire):
    client = PlusClient(wire)
    client.open()
    client.exchange = crypto.RakpExchange(client.suite.auth, client.console_sid,
                                          client.bmc_sid, bytes(16), bytes(16), bytes(16),
                                          0x14, b"admin")
    early = client.rakp3()  # RAKP 3 before RAKP 1
    assert early is not None and early[1] == RmcpStatus.INVALID_SESSION_ID
    assert client.rakp1()[1] == 0  # the session survived the stray message
    client.login_done = client.rakp3()
    assert client.login_done is not None and client.login_done[1] == 0
    assert client.rakp1()[1] == RmcpStatus.INVALID_SESSION_ID  # RAKP 1 after activation
    assert client.request(*GET_DEVICE_ID)[0] == 0


def test_retransmitted_rakp1_gets_the_same_rakp2(wire: Wire):
    client = PlusClient(wire)
    client.open()
    first = client.rakp1()
    [again] = wire.send(client.last_rakp1)
    assert parse_rmcpplus(body_of(again)).payload == first


def test_ipmi_payload_on_a_half_open_session_is_dropped(wire: Wire):
    client = PlusClient(wire)
    client.open()
    client.keys = crypto.SessionKeys(b"", b"1" * 20, b"2" * 20, b"")
    assert wire.send(client.seal(0, client.message(*GET_DEVICE_ID))) == []


def test_unprotected_packets_on_a_protected_session_are_dropped(wire: Wire):
    client = PlusClient(wire, suite=3).login()
    message = client.message(*GET_DEVICE_ID)
    assert wire.send(client.seal(0, message, sign=False, encrypt=False)) == []
    assert wire.send(client.seal(0, message, sign=True, encrypt=False)) == []
    assert wire.send(client.seal(0, message, sign=False, encrypt=True)) == []
    forged = bytearray(client.seal(0, message))
    forged[-1] ^= 1
    assert wire.send(bytes(forged)) == []
    assert client.request(*GET_DEVICE_ID)[0] == 0


def test_replayed_packet_is_rejected_and_window_is_sixteen(wire: Wire):
    client = PlusClient(wire, suite=17).login()
    datagram = client.seal(0, client.message(*GET_DEVICE_ID))
    assert len(wire.send(datagram)) == 1
    assert wire.send(datagram) == []  # replay
    assert client.request(*GET_DEVICE_ID, seq=17) is not None  # 16 ahead of 1: fine
    assert client.request(*GET_DEVICE_ID, seq=40) is None  # too far ahead
    assert client.request(*GET_DEVICE_ID, seq=5) is not None  # late but unseen: accepted
    assert client.request(*GET_DEVICE_ID, seq=5) is None  # ...once
    assert client.request(*GET_DEVICE_ID, seq=30) is not None
    assert client.request(*GET_DEVICE_ID, seq=13) is None  # 17 behind: outside the window
    assert client.request(*GET_DEVICE_ID, seq=0) is None


def test_retransmitted_request_gets_the_cached_reply(bmc: Bmc, wire: Wire,
                                                     monkeypatch: pytest.MonkeyPatch):
    calls: list[tuple[int, int]] = []
    real_execute = bmc.execute

    def counting(ctx: Any, netfn: int, cmd: int, data: bytes) -> bytes:
        calls.append((netfn, cmd))
        return real_execute(ctx, netfn, cmd, data)

    monkeypatch.setattr(bmc, "execute", counting)
    client = PlusClient(wire).login()
    client.request(*SET_SESSION_PRIV, b"\x04")
    calls.clear()
    first = client.request(0x00, 0x02, b"\x01", rq_seq=9)  # power on
    assert first == (0, b"")
    # xCAT's retry: a new session sequence number, the same rqSeq, netfn, cmd and data.
    assert client.request(0x00, 0x02, b"\x01", rq_seq=9) == first
    assert calls == [(0x00, 0x02)]
    wire.now += 6  # outside the retransmit window it is a new request
    client.request(0x00, 0x02, b"\x01", rq_seq=9)
    assert calls == [(0x00, 0x02), (0x00, 0x02)]
    client.request(0x00, 0x02, b"\x00", rq_seq=9)  # different data: runs
    assert len(calls) == 3


def test_sessionless_rmcpplus_and_v15_cipher_suite_listing(wire: Wire):
    request = encode_request(Request(0x06, 0x54, b"\x0e\x00\x80", rq_seq=1))
    [reply] = wire.send(build_rmcpplus(0, 0, 0, request))
    packet = parse_rmcpplus(body_of(reply))
    assert (packet.payload_type, packet.session_id, packet.authenticated) == (0, 0, False)
    _, _, cc, data = decode_response(packet.payload)
    assert cc == 0 and data == bytes.fromhex("01 c00301 4181 c01103 4481")  # suites 3, 17
    cc, more = V15Client(wire).sessionless(0x06, 0x54, b"\x0e\x00\x81")
    assert (cc, more) == (0, b"\x01")  # a short (here empty) chunk ends the list
    cc, algorithms = V15Client(wire).sessionless(0x06, 0x54, b"\x0e\x00\x00")
    assert (cc, algorithms) == (0, bytes.fromhex("01 0103 4144 81"))


def test_cipher_suite_listing_shows_weak_suites_only_when_configured(make_bmc: MakeBmc):
    wire = Wire(make_bmc(security={"cipher_suites": [1, 2, 3, 17]}).sessions)
    cc, data = V15Client(wire).sessionless(0x06, 0x54, b"\x0e\x00\x80")
    assert cc == 0 and data == bytes.fromhex("01 c00101 4080 c00201 4180 c00301 4181 c0")
    cc, more = V15Client(wire).sessionless(0x06, 0x54, b"\x0e\x00\x81")
    assert (cc, more) == (0, bytes.fromhex("01 11034481"))


def test_sessionless_requests_run_at_privilege_none(wire: Wire):
    client = V15Client(wire)
    cc, caps = client.sessionless(0x06, 0x38, b"\x8e\x04")
    assert cc == 0 and caps[0] == 1 and caps[1] & 0x80 and caps[3] == 0x03
    assert client.sessionless(*GET_DEVICE_ID) == (0xD4, b"")
    payload = encode_request(Request(0x06, 0x01, rq_seq=2))
    [reply] = wire.send(build_rmcpplus(0, 0, 0, payload))
    assert decode_response(parse_rmcpplus(body_of(reply)).payload)[2] == 0xD4


def test_asf_presence_ping_gets_a_pong(wire: Wire):
    [pong] = wire.send(bytes.fromhex("0600ff06000011be80c40000"))
    assert pong == bytes.fromhex("0600ff06000011be40c40010000011be000000008100000000000000")


def test_close_session_closes_after_replying(bmc: Bmc, wire: Wire,
                                             caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.INFO, logger="pybmc.session")
    client = PlusClient(wire).login()
    assert client.request(*CLOSE_SESSION, le32(client.bmc_sid)) == (0, b"")
    assert bmc.sessions.sessions == []
    assert client.request(*GET_DEVICE_ID) is None
    assert any("closed (close session)" in r.getMessage() for r in caplog.records)


def test_closing_another_session_needs_administrator(bmc: Bmc, wire: Wire):
    admin = PlusClient(wire, console_sid=1).login()
    admin.request(*SET_SESSION_PRIV, b"\x04")
    viewer = PlusClient(wire, user=b"viewer", password=b"viewerpw", role=0x12,
                        console_sid=2).login(requested=2)
    assert viewer.request(*CLOSE_SESSION, le32(admin.bmc_sid)) == (0xD4, b"")
    assert viewer.request(*CLOSE_SESSION, le32(0x7777)) == (0x87, b"")
    [viewer_session] = [s for s in bmc.sessions.sessions if s.user_name == b"viewer"]
    assert admin.request(*CLOSE_SESSION, bytes(4) + bytes([viewer_session.handle])) == (0, b"")
    assert viewer.request(*GET_DEVICE_ID) is None
    assert admin.request(*GET_DEVICE_ID)[0] == 0


def test_get_session_info_by_index_handle_and_id(bmc: Bmc, wire: Wire):
    first = PlusClient(wire, console_sid=1).login()
    second = V15Client(wire, addr=OTHER).login()
    cc, info = first.request(*GET_SESSION_INFO, b"\x02")
    assert cc == 0 and info[1:3] == bytes([32, 2]) and info[5] == 0x01  # IPMI 1.5
    assert info[6:10] == bytes([127, 0, 0, 9])
    cc, by_id = first.request(*GET_SESSION_INFO, b"\xff" + le32(second.sid))
    assert by_id == info
    cc, by_handle = second.request(*GET_SESSION_INFO, bytes([0xFE, info[0]]))
    assert by_handle == info
    assert first.request(*GET_SESSION_INFO, b"\x05") == (0, bytes([0, 32, 2]))
    assert first.request(*GET_SESSION_INFO, b"\xff\x01") == (0xC7, b"")


def test_idle_sessions_time_out_on_the_timer(bmc: Bmc, wire: Wire,
                                             caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.INFO, logger="pybmc.session")
    client = PlusClient(wire).login()
    manager = bmc.sessions
    assert manager.get_timer() == pytest.approx(wire.now + 60)
    wire.now += 50
    assert client.request(*GET_DEVICE_ID)[0] == 0  # any packet refreshes the session
    assert manager.get_timer() == pytest.approx(wire.now + 60)
    manager.handle_timer(wire.now + 59)
    assert len(manager.sessions) == 1
    wire.now += 61
    manager.handle_timer(wire.now)
    assert manager.sessions == [] and manager.get_timer() is None
    assert client.request(*GET_DEVICE_ID) is None
    assert any("closed (timeout)" in r.getMessage() for r in caplog.records)


def test_half_open_logins_expire_sooner(bmc: Bmc, wire: Wire):
    PlusClient(wire).open()
    assert bmc.sessions.get_timer() == pytest.approx(wire.now + HALF_OPEN_TIMEOUT)
    bmc.sessions.handle_timer(wire.now + HALF_OPEN_TIMEOUT)
    assert not bmc.sessions.sessions_by_id


def test_table_full_refuses_with_status_01(make_bmc: MakeBmc):
    bmc = make_bmc(security={"max_sessions": 2})
    wire = Wire(bmc.sessions)
    PlusClient(wire, console_sid=1).login()
    PlusClient(wire, console_sid=2).login()
    assert PlusClient(wire, console_sid=3).open()[1] == RmcpStatus.INSUFFICIENT_RESOURCES
    client = V15Client(wire)
    assert client.get_challenge() == 0
    assert client.activate()[0] == 0x81


def test_abandoned_half_open_logins_never_block_a_real_one(make_bmc: MakeBmc):
    bmc = make_bmc(security={"max_sessions": 4})
    wire = Wire(bmc.sessions)
    for n in range(100):  # from many addresses: one source would soon be throttled
        PlusClient(wire, console_sid=1000 + n, addr=(f"127.0.1.{n}", 40000)).open()
        wire.now += 0.01
    assert len(bmc.sessions.sessions_by_id) <= 8
    assert PlusClient(wire, console_sid=5).login().request(*GET_DEVICE_ID)[0] == 0


def test_close_all_ends_every_session(bmc: Bmc, wire: Wire):
    PlusClient(wire, console_sid=1).login()
    V15Client(wire).login()
    bmc.sessions.close_all("cold reset")
    assert bmc.sessions.sessions == [] and bmc.sessions.get_timer() is None


def test_sol_payload_event_and_send_payload(bmc: Bmc, wire: Wire):
    client = PlusClient(wire, suite=17).login()
    [opened] = bmc.sessions.events_to_process()
    assert isinstance(opened, SessionOpened)
    assert wire.send(client.seal(1, b"\x01\x00\x00\x00hello")) == []
    [session] = bmc.sessions.sessions
    assert opened.session is session
    assert bmc.sessions.events_to_process() == [
        PayloadReceived(session, 1, b"\x01\x00\x00\x00hello", wire.now)]
    bmc.sessions.send_payload(session, 1, b"\x02\x01\x05\x00world")
    [(datagram, dest)] = bmc.sessions.datagrams_to_send()
    assert dest == ADDR
    assert client.unseal(datagram) == (1, b"\x02\x01\x05\x00world")
    assert wire.send(client.seal(0x22, b"???")) == []  # not a payload type it carries
    assert bmc.sessions.events_to_process() == []


# ============================================================================ IPMI 1.5
@pytest.mark.parametrize("auth_type", [AuthType.MD5, AuthType.MD2, AuthType.PASSWORD])
def test_v15_login_and_requests(make_bmc: MakeBmc, auth_type: int):
    bmc = make_bmc(security={"auth_types": ["md2", "md5", "password"]})
    wire = Wire(bmc.sessions)
    client = V15Client(wire, auth_type=auth_type).login(privilege=4)
    [session] = bmc.sessions.sessions
    assert session.privilege == Privilege.USER  # IPMI 1.5 sessions start at USER
    assert session.max_privilege == Privilege.ADMINISTRATOR
    assert client.request(*SET_SESSION_PRIV, b"\x04") == (0, b"\x04")
    cc, info = client.request(*GET_SESSION_INFO, b"\x00")
    assert cc == 0 and info[4] == 4 and info[5] == 0x01
    assert client.request(*GET_DEVICE_ID)[0] == 0
    assert client.request(*CLOSE_SESSION, le32(client.sid)) == (0, b"")
    assert client.request(*GET_DEVICE_ID) is None


@pytest.mark.parametrize("auth_type", [AuthType.NONE, AuthType.MD2, AuthType.PASSWORD])
def test_v15_weak_auth_types_only_when_enabled(make_bmc: MakeBmc, tmp_path: Path,
                                               auth_type: int):
    wire = Wire(make_bmc().sessions)
    assert V15Client(wire, auth_type=auth_type).get_challenge() == 0xCC
    assert V15Client(wire).login().request(*GET_DEVICE_ID)[0] == 0  # MD5 is on by default
    name = {AuthType.NONE: "none", AuthType.MD2: "md2", AuthType.PASSWORD: "password"}
    bmc = make_bmc(tmp_path / "weak", security={"auth_types": [name[auth_type]]})
    client = V15Client(Wire(bmc.sessions), auth_type=auth_type).login()
    assert client.request(*GET_DEVICE_ID)[0] == 0
    assert V15Client(Wire(bmc.sessions)).get_challenge() == 0xCC  # MD5 was not named


def test_v15_unknown_and_null_users(wire: Wire):
    assert V15Client(wire, user=b"nobody").get_challenge() == 0x81
    assert V15Client(wire, user=b"").get_challenge() == 0x82


def test_v15_wrong_password_gets_an_unsigned_refusal(bmc: Bmc, wire: Wire):
    client = V15Client(wire)
    assert client.get_challenge() == 0
    replies = wire.send(build_ipmi15(
        AuthType.MD5, 0, client.temp_sid,
        client._message(0x06, 0x3A, bytes([2, 4]) + client.challenge + le32(1), None),
        bytes(16)))
    [reply] = replies
    packet = parse_ipmi15(body_of(reply))
    assert packet.authcode == bytes(16)  # no hash of the real password handed out
    assert decode_response(packet.message)[2] == 0xD4
    assert bmc.sessions.sessions == []
    assert client.activate() is None  # the challenge was used up


@pytest.mark.parametrize(("kwargs", "cc"), [
    ({"privilege": 4, "outbound": 0}, 0x85),
    ({"privilege": 6}, 0xCC),
    ({"requested_auth": AuthType.MD2}, 0xCC),
    ({"challenge": bytes(16)}, 0xCC),
])
def test_v15_activate_refusals(wire: Wire, kwargs: dict[str, Any], cc: int):
    client = V15Client(wire)
    assert client.get_challenge() == 0
    assert client.activate(**kwargs)[0] == cc


def test_v15_privilege_above_the_user_limit(wire: Wire):
    client = V15Client(wire, user=b"oper", password=b"operpw")
    assert client.get_challenge() == 0
    assert client.activate(privilege=4)[0] == 0x86
    assert client.get_challenge() == 0
    assert client.activate(privilege=3)[0] == 0


def test_v15_bad_authcode_and_replay_are_dropped(wire: Wire):
    client = V15Client(wire).login()
    assert client.request(*GET_DEVICE_ID, password=b"wrong") is None
    datagram = client.datagram(*GET_DEVICE_ID)
    assert len(wire.send(datagram)) == 1
    assert wire.send(datagram) == []
    client.bmc_seq_seen.append(client.bmc_seq_seen[-1] + 1)  # the one reply we consumed
    assert client.request(*GET_DEVICE_ID, seq=client.seq + 9) is None  # beyond 8 ahead
    assert client.request(*GET_DEVICE_ID)[0] == 0


def test_v15_temporary_session_id_only_activates(wire: Wire):
    client = V15Client(wire)
    assert client.get_challenge() == 0
    client.sid = client.temp_sid
    client.seq = 1
    assert wire.send(client.datagram(*GET_DEVICE_ID)) == []
    assert client.activate()[0] == 0


def test_v15_retransmit_cache(bmc: Bmc, wire: Wire, monkeypatch: pytest.MonkeyPatch):
    calls: list[int] = []
    real_execute = bmc.execute
    monkeypatch.setattr(bmc, "execute", lambda ctx, netfn, cmd, data: calls.append(cmd)
                        or real_execute(ctx, netfn, cmd, data))
    client = V15Client(wire).login()
    assert calls == [0x39, 0x3A]  # the login commands go through the dispatcher too
    calls.clear()
    first = client.request(*GET_DEVICE_ID, rq_seq=7)
    assert client.request(*GET_DEVICE_ID, rq_seq=7) == first
    assert calls == [0x01]


# ============================================================================ robustness
FUZZ_SEEDS = [
    bytes.fromhex("0600ff07000000000000000000092018c88100388e04b5"),
    bytes.fromhex("0600ff0706100000000000000000200000000000a4a3a2a000000008010000000100000801"
                  "0000000200000801000000"),
    bytes.fromhex("0600ff06000011be80000000"),
    bytes.fromhex("0600ff07020000000005000000f401a15c1410acea4b8b1eb8eb4f84c81d2018c8810c3a02"
                  "0422e9c7701b675bb779b2d7578fe2d26de13b8c6f3d"),
]


@settings(max_examples=400, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(
    st.binary(max_size=300),
    st.tuples(st.sampled_from(FUZZ_SEEDS), st.integers(0, 80)).map(lambda t: t[0][:t[1]]),
    st.tuples(st.sampled_from(FUZZ_SEEDS), st.integers(0, 79), st.integers(0, 255)).map(
        lambda t: t[0][:t[1] % len(t[0])] + bytes([t[2]]) + t[0][t[1] % len(t[0]) + 1:]),
    st.tuples(st.sampled_from([b"\x06\x00\xff\x07\x06", b"\x06\x00\xff\x07\x02",
                               b"\x06\x00\xff\x07\x00"]), st.binary(max_size=80)).map(
        lambda t: t[0] + t[1]),
))
def test_random_datagrams_never_raise_and_sessions_keep_working(
        tmp_path_factory: pytest.TempPathFactory, make_bmc: MakeBmc, datagram: bytes) -> None:
    bmc = fuzz_bmc(tmp_path_factory, make_bmc)
    wire = Wire(bmc.sessions)
    handler = _WarningCatcher()
    logging.getLogger("pybmc").addHandler(handler)
    try:
        bmc.sessions.receive_datagram(datagram, OTHER, wire.now)
        bmc.sessions.datagrams_to_send()
    finally:
        logging.getLogger("pybmc").removeHandler(handler)
    assert handler.records == []  # no internal error path was taken
    assert FUZZ_STATE["plus"].request(*GET_DEVICE_ID)[0] == 0
    assert FUZZ_STATE["v15"].request(*GET_DEVICE_ID)[0] == 0


FUZZ_STATE: dict[str, Any] = {}


def fuzz_bmc(factory: pytest.TempPathFactory, make_bmc: MakeBmc) -> Bmc:
    """One BMC with two live sessions shared by every fuzz example."""
    if "bmc" not in FUZZ_STATE:
        # Every example arrives at the same `now`: a login bucket would soon be empty and
        # the login code no longer explored.
        bmc = make_bmc(factory.mktemp("fuzz"), security={"login_rate": 0})
        wire = Wire(bmc.sessions)
        FUZZ_STATE.update(bmc=bmc, plus=PlusClient(wire, suite=17).login(),
                          v15=V15Client(wire).login())
    return FUZZ_STATE["bmc"]


class _WarningCatcher(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


# ============================================================================ more login paths
def test_login_abandoned_after_rakp2_is_logged_when_it_expires(
        bmc: Bmc, wire: Wire, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.INFO, logger="pybmc.session")
    client = PlusClient(wire, password=b"wrong")
    client.open()
    client.rakp1()  # ipmitool sees the RAKP 2 HMAC mismatch and just stops here
    bmc.sessions.handle_timer(wire.now + HALF_OPEN_TIMEOUT)
    assert any("'admin' abandoned after RAKP 2" in r.getMessage() for r in caplog.records)


def test_v15_retransmitted_activate_gets_the_same_reply(bmc: Bmc, wire: Wire):
    client = V15Client(wire)
    assert client.get_challenge() == 0
    data = bytes([AuthType.MD5, 4]) + client.challenge + le32(0x100)
    message = client._message(0x06, 0x3A, data, 5)
    datagram = build_ipmi15(AuthType.MD5, 0, client.temp_sid, message,
                            crypto.v15_authcode(AuthType.MD5, b"secret", client.temp_sid, 0,
                                                message))
    [first] = wire.send(datagram)
    assert wire.send(datagram) == [first]
    assert len(bmc.sessions.sessions) == 1
    other = build_ipmi15(AuthType.MD5, 0, client.temp_sid, client._message(
        0x06, 0x3A, data, 6), bytes(16))
    assert wire.send(other) == []


def in_band(bmc: Bmc, cmd: int, data: bytes) -> bytes:
    return bmc.execute_in_band(0x06, cmd, data)


def test_get_channel_auth_caps_forms_and_refusals(bmc: Bmc, wire: Wire):
    client = V15Client(wire)
    cc, v15 = client.sessionless(0x06, 0x38, b"\x0e\x04")
    assert (cc, v15) == (0, bytes([1, 0x04, 0x04, 0, 0, 0, 0, 0]))  # MD5 only
    cc, v20 = client.sessionless(0x06, 0x38, b"\x8e\x02")
    assert (cc, v20) == (0, bytes([1, 0x84, 0x04, 0x03, 0, 0, 0, 0]))
    assert client.sessionless(0x06, 0x38, b"\x8e\x00")[0] == 0xCC  # privilege 0
    assert client.sessionless(0x06, 0x38, b"\x8e\x06")[0] == 0xCC
    assert client.sessionless(0x06, 0x38, b"\x80\x04")[0] == 0xCC  # channel 0 is not LAN
    assert client.sessionless(0x06, 0x38, b"\x8e")[0] == 0xC7
    bmc.state.channel(1, volatile=True).privilege_limit = 3
    assert client.sessionless(0x06, 0x38, b"\x8e\x04")[0] == 0xCC  # above the channel limit
    assert client.sessionless(0x06, 0x38, b"\x8e\x03")[0] == 0
    # In-band, "this channel" is the system interface: no LAN authentication there.
    assert in_band(bmc, 0x38, b"\x8e\x03")[0] == 0xCC
    assert in_band(bmc, 0x38, b"\x81\x03")[:2] == b"\x00\x01"


def test_get_channel_auth_caps_follows_the_configured_auth_types(make_bmc: MakeBmc):
    wire = Wire(make_bmc(security={"auth_types": ["none", "md2", "md5", "password"]}).sessions)
    assert V15Client(wire).sessionless(0x06, 0x38, b"\x8e\x04") == (
        0, bytes([1, 0x97, 0x04, 0x03, 0, 0, 0, 0]))
    wire = Wire(make_bmc(security={"auth_types": []}).sessions)  # no IPMI 1.5 at all
    assert V15Client(wire).sessionless(0x06, 0x38, b"\x8e\x04") == (
        0, bytes([1, 0x80, 0x04, 0x02, 0, 0, 0, 0]))


def test_get_channel_auth_caps_reports_null_and_anonymous_users(bmc: Bmc, wire: Wire):
    null_user = bmc.state.users[1]
    null_user.enabled, null_user.password = True, b"pw"
    assert V15Client(wire).sessionless(0x06, 0x38, b"\x8e\x04")[1][2] == 0x06
    null_user.password = b""
    assert V15Client(wire).sessionless(0x06, 0x38, b"\x8e\x04")[1][2] == 0x05
    for user in bmc.state.users.values():
        user.enabled = False
    assert V15Client(wire).sessionless(0x06, 0x38, b"\x8e\x04")[1][2] == 0x00


def test_cipher_suite_listing_refusals(bmc: Bmc):
    assert in_band(bmc, 0x54, b"\x0e\x00\x80")[0] == 0xCC  # the system interface
    assert in_band(bmc, 0x54, b"\x01\x02\x80")[0] == 0xCC  # payload type 2
    assert in_band(bmc, 0x54, b"\x01\x01\x80")[:2] == b"\x00\x01"  # SOL: same suites
    assert in_band(bmc, 0x54, b"\x01\x00\x85") == b"\x00\x01"  # past the end: empty chunk


def test_session_commands_without_a_session(bmc: Bmc):
    assert in_band(bmc, 0x3B, b"\x04") == bytes([0xD5])
    assert in_band(bmc, 0x3D, b"\x00") == bytes([0, 0, 32, 0])
    assert in_band(bmc, 0x3C, le32(0x1234)) == bytes([0x87])
    assert in_band(bmc, 0x3C, bytes(4)) == bytes([0xC7])
    assert in_band(bmc, 0x3C, bytes(5)) == bytes([0x88])


def test_in_band_administrator_can_close_a_lan_session(bmc: Bmc, wire: Wire):
    client = PlusClient(wire).login()
    assert in_band(bmc, 0x3C, le32(client.bmc_sid)) == b"\x00"
    assert client.request(*GET_DEVICE_ID) is None


# ============================================================================ peer binding
def test_a_spoofed_rakp1_from_another_address_leaves_the_login_pending(wire: Wire):
    client = PlusClient(wire, suite=17)
    assert client.open()[1] == 0
    spoofed = bytes([9, 0, 0, 0]) + le32(client.bmc_sid) + bytes(16) + bytes([0x14, 0, 0, 5])
    assert wire.send(build_rmcpplus(0x12, 0, 0, spoofed + b"admin"), OTHER) == []
    rakp2 = client.rakp1()  # the real client goes on as if nothing happened
    assert rakp2[1] == 0 and client.rakp2_matches_my_password(rakp2)
    rakp4 = client.rakp3()
    assert rakp4 is not None and rakp4[1] == 0


def test_a_spoofed_rakp3_abort_from_another_address_leaves_the_login_pending(wire: Wire):
    client = PlusClient(wire, suite=17)
    assert client.open()[1] == 0
    assert client.rakp1()[1] == 0
    abort = bytes([9, RmcpStatus.INVALID_SESSION_ID, 0, 0]) + le32(client.bmc_sid)
    assert wire.send(build_rmcpplus(0x14, 0, 0, abort), OTHER) == []
    rakp4 = client.rakp3()
    assert rakp4 is not None and rakp4[1] == 0


def test_a_packet_without_integrity_never_moves_the_reply_address(make_bmc: MakeBmc):
    bmc = make_bmc(security={"cipher_suites": [1]})
    wire = Wire(bmc.sessions)
    client = PlusClient(wire, suite=1).login()  # suite 1: RAKP-HMAC-SHA1, no integrity
    [session] = bmc.sessions.sessions
    injected = client.seal(0, client.message(0x06, 0x01, b""))
    bmc.sessions.receive_datagram(injected, OTHER, wire.now)
    assert bmc.sessions.datagrams_to_send() == []  # dropped: not from the session's peer
    assert session.remote == ADDR
    assert client.request(0x06, 0x01)[0] == 0  # the real client is still served


def test_a_signed_packet_moves_the_reply_address(bmc: Bmc, wire: Wire):
    client = PlusClient(wire, suite=3).login()
    [session] = bmc.sessions.sessions
    bmc.sessions.receive_datagram(client.seal(0, client.message(0x06, 0x01, b"")), OTHER,
                                  wire.now)
    assert [dest for _, dest in bmc.sessions.datagrams_to_send()] == [OTHER]
    assert session.remote == OTHER  # a client behind NAT whose port changed
