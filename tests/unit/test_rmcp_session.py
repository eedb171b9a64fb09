"""The RMCP+ session layer driven as clients drive it: logins for every suite, the refusals, replay
and retransmit handling, timers, session commands and peer binding."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from pybmc.core.bmc import Bmc
from pybmc.protocol.rmcp import crypto
from pybmc.protocol.rmcp.events import PayloadReceived, SessionOpened
from pybmc.protocol.rmcp.packet import (
    build_ipmi15,
    build_rmcpplus,
    parse_rmcpplus,
)
from pybmc.protocol.rmcp.session import HALF_OPEN_TIMEOUT
from pybmc.wire.codes import AuthType, Privilege, RmcpStatus
from pybmc.wire.message import Request, decode_response, encode_request
from tests.unit.conftest import MakeBmc
from tests.unit.rmcp_clients import (  # noqa: F401  (fixtures)
    ADDR,
    CLOSE_SESSION,
    GET_DEVICE_ID,
    GET_SESSION_INFO,
    OTHER,
    SET_SESSION_PRIV,
    PlusClient,
    V15Client,
    Wire,
    body_of,
    le32,
    three_users,
    wire_on_bmc,
)


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


def test_rakp_retransmits_with_a_new_message_tag_get_the_same_answer_under_that_tag(
        wire: Wire):
    """FreeIPMI counts the message tag up on every retry of the same RAKP 1 and RAKP 3."""
    client = PlusClient(wire)
    client.open()
    first = client.rakp1()
    retry = bytearray(client.last_rakp1)
    retry[16] = (retry[16] + 5) & 0xFF  # the payload's first byte: the message tag
    [again] = wire.send(bytes(retry))
    answer = parse_rmcpplus(body_of(again)).payload
    assert answer[0] == retry[16] and answer[1:] == first[1:] and answer[1] == 0
    rakp4 = client.rakp3()
    assert rakp4 is not None and rakp4[1] == 0
    rakp3 = client.last_setup
    [again] = wire.send(rakp3[:16] + bytes([(rakp3[16] + 1) & 0xFF]) + rakp3[17:])
    answer = parse_rmcpplus(body_of(again)).payload
    assert answer[0] == (rakp3[16] + 1) & 0xFF and answer[1:] == rakp4[1:]
    # A RAKP 1 that differs beyond its tag is no retransmit: refused, the session keeps going.
    changed = bytearray(client.last_rakp1)
    changed[20] ^= 0xFF  # the console random number
    [refusal] = wire.send(bytes(changed))
    assert parse_rmcpplus(body_of(refusal)).payload[1] == RmcpStatus.INVALID_SESSION_ID
    assert client.request(*GET_DEVICE_ID)[0] == 0


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
