"""Logins against the bad-password lockout and the session limits, driven as clients drive them:
what counts as a bad password (RAKP 3 mismatch, a RAKP 2 left unanswered, a console's error
status, a wrong IPMI 1.5 authcode, a wrong Redfish password), how a locked-out user is
refused, when the lock ends; per-user session limits and room for a higher privilege."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from pybmc.core.bmc import Bmc
from pybmc.protocol.rmcp import crypto
from pybmc.protocol.rmcp.events import SessionClosed
from pybmc.protocol.rmcp.packet import build_ipmi15, parse_ipmi15
from pybmc.protocol.rmcp.table import RAKP3_WAIT
from pybmc.redfish.http import Request
from pybmc.redfish.service import RedfishService
from pybmc.wire.codes import AuthType, Privilege, RmcpStatus
from pybmc.wire.message import decode_response
from tests.unit.conftest import MakeBmc
from tests.unit.rmcp_clients import (
    GET_DEVICE_ID,
    PlusClient,
    V15Client,
    Wire,
    body_of,
    le32,
)

LOCKOUT_SECONDS = 20.0
BAD = 0x0F  # RAKP 4 status "invalid integrity check value": a wrong password


@pytest.fixture
def bmc_sections() -> dict[str, Any]:
    return {
        "users": [
            {"name": "admin", "password": "secret"},
            {"name": "oper", "password": "operpw", "privilege": "operator"},
            {"name": "viewer", "password": "viewerpw", "privilege": "user"},
        ],
        "security": {"lockout_threshold": 3, "lockout_seconds": LOCKOUT_SECONDS,
                     "lockout_reset_seconds": 60},
    }


@pytest.fixture
def wire(bmc: Bmc) -> Wire:
    return Wire(bmc.sessions)


def locked(bmc: Bmc, wire: Wire, user_id: int = 2) -> bool:
    return bmc.lockout.is_locked(user_id, 1, wire.now)


def rakp3_mismatch(wire: Wire, user: bytes = b"admin") -> bytes | None:
    """A client that sends RAKP 3 keyed with a wrong password; the RAKP 4 it gets."""
    client = PlusClient(wire, user=user, password=b"wrong")
    assert client.open()[1] == 0
    assert client.rakp1()[1] == 0
    return client.rakp3()


def abandon_after_rakp2(bmc: Bmc, wire: Wire, console_sid: int) -> None:
    """What ipmitool does with a wrong password: RAKP 1, then nothing (it checked RAKP 2)."""
    client = PlusClient(wire, password=b"wrong", console_sid=console_sid)
    assert client.open()[1] == 0
    assert client.rakp1()[1] == 0
    assert bmc.sessions.get_timer() == pytest.approx(wire.now + RAKP3_WAIT)
    wire.now += RAKP3_WAIT
    bmc.sessions.handle_timer(wire.now)


def right_password_is_refused_as_a_wrong_one(wire: Wire) -> None:
    client = PlusClient(wire, console_sid=0x5151)
    assert client.open()[1] == 0
    rakp2 = client.rakp1()
    assert rakp2[1] == 0 and not client.rakp2_matches_my_password(rakp2)
    # A client that ignores RAKP 2 and proves the right password gets a wrong password's no.
    rakp4 = client.rakp3()
    assert rakp4 is not None and rakp4[1] == BAD


# ============================================================================ RMCP+
def test_rakp3_mismatches_lock_the_user(bmc: Bmc, wire: Wire):
    for _ in range(2):
        assert rakp3_mismatch(wire)[1] == BAD
    assert not locked(bmc, wire)
    assert rakp3_mismatch(wire)[1] == BAD
    assert locked(bmc, wire)
    right_password_is_refused_as_a_wrong_one(wire)
    assert PlusClient(wire, user=b"oper", password=b"operpw").login()  # others log in
    wire.now += LOCKOUT_SECONDS
    assert PlusClient(wire).login().request(*GET_DEVICE_ID)[0] == 0


def test_lockout_records_a_session_audit_event(bmc: Bmc, wire: Wire):
    before = len(bmc.platform.sel.entries)
    for _ in range(3):
        rakp3_mismatch(wire)
    [record] = bmc.platform.sel.entries[before:]
    assert record[2] == 0x02  # system event record
    assert record[7:9] == b"\x20\x00" and record[9] == 0x04  # the BMC, IPMI 2.0 event
    assert record[10] == 0x2A and record[12] == 0x6F  # Session Audit, sensor-specific
    assert record[13:16] == bytes([0xF3, 2, 1])  # invalid password disable: user 2, LAN


def test_rakp2_left_unanswered_counts_as_a_bad_password(bmc: Bmc, wire: Wire):
    for n in range(3):
        abandon_after_rakp2(bmc, wire, console_sid=100 + n)
    assert locked(bmc, wire)
    right_password_is_refused_as_a_wrong_one(wire)


def test_unanswered_rakp2_is_counted_once_and_the_session_expires_as_before(
        bmc: Bmc, wire: Wire):
    client = PlusClient(wire, password=b"wrong")
    client.open()
    client.rakp1()
    wire.now += RAKP3_WAIT
    bmc.sessions.handle_timer(wire.now)
    [session] = bmc.sessions.sessions_by_id.values()
    assert session.attempt_reported
    assert bmc.sessions.get_timer() == pytest.approx(session.last_activity + 30.0)
    bmc.sessions.handle_timer(session.last_activity + 30.0)
    assert not bmc.sessions.sessions_by_id
    assert not locked(bmc, wire)
    assert bmc.lockout._attempts[(2, 1)].failures == 1


def test_slow_rakp3_with_the_right_password_still_logs_in(bmc: Bmc, wire: Wire):
    client = PlusClient(wire)
    client.open()
    assert client.rakp1()[1] == 0
    wire.now += RAKP3_WAIT + 1
    bmc.sessions.handle_timer(wire.now)
    rakp4 = client.rakp3()
    assert rakp4 is not None and rakp4[1] == 0
    assert (2, 1) not in bmc.lockout._attempts  # the success cleared the count


def test_a_retransmitted_rakp1_restarts_the_rakp3_wait(bmc: Bmc, wire: Wire):
    client = PlusClient(wire)
    client.open()
    client.rakp1()
    wire.now += RAKP3_WAIT - 1
    assert len(wire.send(client.last_rakp1)) == 1  # RAKP 2 was lost: the same one again
    assert bmc.sessions.get_timer() == pytest.approx(wire.now + RAKP3_WAIT)
    bmc.sessions.handle_timer(wire.now + 1)
    assert (2, 1) not in bmc.lockout._attempts


def test_console_error_status_in_rakp3_counts(bmc: Bmc, wire: Wire):
    for n in range(3):
        client = PlusClient(wire, password=b"wrong", console_sid=200 + n)
        client.open()
        client.rakp1()
        assert client.rakp3(status=BAD, authcode=b"") is None  # no RAKP 4 for an abort
    assert locked(bmc, wire)


def test_a_success_resets_the_count(bmc: Bmc, wire: Wire):
    for _ in range(2):
        rakp3_mismatch(wire)
    PlusClient(wire).login()
    for _ in range(2):
        rakp3_mismatch(wire)
    assert not locked(bmc, wire)


def test_unknown_users_and_other_users_do_not_count(bmc: Bmc, wire: Wire):
    for _ in range(5):
        assert PlusClient(wire, user=b"nobody").open()[1] == 0
        client = PlusClient(wire, user=b"nobody")
        client.open()
        assert client.rakp1()[1] == RmcpStatus.UNAUTHORIZED_NAME
    for _ in range(3):
        rakp3_mismatch(wire, user=b"viewer")
    assert locked(bmc, wire, user_id=4) and not locked(bmc, wire, user_id=2)
    assert PlusClient(wire).login()


def test_lock_that_begins_between_rakp2_and_rakp3_refuses(bmc: Bmc, wire: Wire):
    client = PlusClient(wire, console_sid=0x7777)
    client.open()
    rakp2 = client.rakp1()
    assert rakp2[1] == 0 and client.rakp2_matches_my_password(rakp2)
    for _ in range(3):
        rakp3_mismatch(wire)
    rakp4 = client.rakp3()
    assert rakp4 is not None and rakp4[1] == BAD
    assert bmc.sessions.sessions == []


def test_attempts_while_locked_do_not_extend_it_and_their_timers_fire_once(
        bmc: Bmc, wire: Wire):
    for _ in range(3):
        rakp3_mismatch(wire)
    locked_at = wire.now
    for n in range(3):
        abandon_after_rakp2(bmc, wire, console_sid=300 + n)  # fires each timer once
        for session in bmc.sessions.sessions_by_id.values():
            assert bmc.sessions.deadline(session) > wire.now
    wire.now = locked_at + LOCKOUT_SECONDS
    assert not locked(bmc, wire)
    assert PlusClient(wire, console_sid=0x42).login()


def test_set_user_password_enable_ends_a_lockout(bmc: Bmc, wire: Wire):
    for _ in range(3):
        rakp3_mismatch(wire)
    assert locked(bmc, wire)
    assert bmc.execute_in_band(0x06, 0x47, bytes([2, 0x01])) == b"\x00"  # enable user 2
    assert PlusClient(wire).login()


def test_lockout_threshold_from_parameter_26(make_bmc: MakeBmc):
    bmc = make_bmc(security={})  # no config lockout
    wire = Wire(bmc.sessions)
    for _ in range(5):
        rakp3_mismatch(wire)
    assert not locked(bmc, wire)
    # ipmitool lan set 1 bad_pass_thresh 2 1 6 1: 2 bad passwords, 60 s count, 10 s lock
    data = bytes([1, 26, 0x01, 2, 6, 0, 1, 0])
    assert bmc.execute_in_band(0x0C, 0x01, data) == b"\x00"
    rakp3_mismatch(wire)
    rakp3_mismatch(wire)
    assert locked(bmc, wire)
    wire.now += 10
    assert PlusClient(wire).login()


# ============================================================================ IPMI 1.5
def v15_wrong_password(wire: Wire, password: bytes = b"wrong") -> bytes:
    """Activate Session signed with `password`; the reply datagram."""
    client = V15Client(wire)
    assert client.get_challenge() == 0
    message = client._message(0x06, 0x3A, bytes([AuthType.MD5, 4]) + client.challenge
                              + le32(0x100), 7)
    authcode = crypto.v15_authcode(AuthType.MD5, password, client.temp_sid, 0, message)
    [reply] = wire.send(build_ipmi15(AuthType.MD5, 0, client.temp_sid, message, authcode))
    return reply


def v15_refusal(reply: bytes) -> tuple[int, bytes]:
    packet = parse_ipmi15(body_of(reply))
    return decode_response(packet.message)[2], packet.authcode


def test_v15_wrong_authcodes_lock_and_the_lock_looks_like_a_wrong_password(
        bmc: Bmc, wire: Wire):
    for _ in range(3):
        assert v15_refusal(v15_wrong_password(wire)) == (0xD4, bytes(16))
    assert locked(bmc, wire)
    # The right password now gets the very refusal a wrong one gets: unsigned, 0xD4.
    assert v15_refusal(v15_wrong_password(wire, b"secret")) == (0xD4, bytes(16))
    assert bmc.sessions.sessions == []
    right_password_is_refused_as_a_wrong_one(wire)  # one lock for both session formats
    wire.now += LOCKOUT_SECONDS
    assert V15Client(wire).login().request(*GET_DEVICE_ID)[0] == 0


def test_v15_failures_and_rmcpplus_failures_add_up(bmc: Bmc, wire: Wire):
    v15_wrong_password(wire)
    rakp3_mismatch(wire)
    assert not locked(bmc, wire)
    v15_wrong_password(wire)
    assert locked(bmc, wire)


# ============================================================================ Redfish
def redfish_get(service: RedfishService, user: str, password: str, now: float) -> int:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    request = Request("GET", "/redfish/v1/Systems", {"authorization": f"Basic {token}"}, b"")
    return service.handle(request, now).status


def redfish_login(service: RedfishService, user: str, password: str, now: float) -> int:
    body = json.dumps({"UserName": user, "Password": password}).encode()
    request = Request("POST", "/redfish/v1/SessionService/Sessions",
                      {"content-type": "application/json"}, body)
    return service.handle(request, now).status


def test_wrong_redfish_passwords_count_toward_the_same_lockout(bmc: Bmc, wire: Wire):
    service = RedfishService(bmc.parts, "t")
    assert redfish_get(service, "admin", "wrong", wire.now) == 401
    assert redfish_login(service, "admin", "wrong", wire.now) == 401
    assert not locked(bmc, wire)
    rakp3_mismatch(wire)
    assert locked(bmc, wire)
    assert redfish_get(service, "admin", "secret", wire.now) == 401
    assert redfish_login(service, "admin", "secret", wire.now) == 401
    assert redfish_get(service, "viewer", "viewerpw", wire.now) == 200
    assert redfish_get(service, "admin", "secret", wire.now + LOCKOUT_SECONDS) == 200


def test_redfish_success_resets_the_count(bmc: Bmc, wire: Wire):
    service = RedfishService(bmc.parts, "t")
    for _ in range(2):
        redfish_get(service, "admin", "wrong", wire.now)
    assert redfish_get(service, "admin", "secret", wire.now) == 200
    for _ in range(2):
        redfish_get(service, "admin", "wrong", wire.now)
    assert not locked(bmc, wire)


# ============================================================================ session room
def set_session_limit(bmc: Bmc, user_id: int, limit: int, privilege: int) -> None:
    # Set User Access: LAN, change bits (IPMI messaging on), privilege, session limit.
    data = bytes([0x90 | 1, user_id, privilege, limit])
    assert bmc.execute_in_band(0x06, 0x43, data) == b"\x00"


def test_per_user_session_limit(bmc: Bmc, wire: Wire):
    set_session_limit(bmc, 4, 2, Privilege.USER)
    assert bmc.users.get(4).access[1].session_limit == 2
    for n in range(2):
        PlusClient(wire, user=b"viewer", password=b"viewerpw", console_sid=10 + n).login()
    client = PlusClient(wire, user=b"viewer", password=b"viewerpw", console_sid=12)
    client.open()
    client.rakp1()
    rakp4 = client.rakp3()
    assert rakp4 is not None and rakp4[1] == RmcpStatus.INSUFFICIENT_RESOURCES_FOR_ROLE
    v15 = V15Client(wire, user=b"viewer", password=b"viewerpw")
    assert v15.get_challenge() == 0
    assert v15.activate(privilege=2)[0] == 0x82  # no slot available for this user
    assert PlusClient(wire, console_sid=20).login()  # the admin is not limited
    assert len(bmc.sessions.sessions) == 3


def test_session_limit_zero_means_none(bmc: Bmc, wire: Wire):
    set_session_limit(bmc, 4, 0, Privilege.USER)
    for n in range(5):
        PlusClient(wire, user=b"viewer", password=b"viewerpw", console_sid=10 + n).login()


def test_session_limit_survives_a_restart(make_bmc: MakeBmc):
    bmc = make_bmc()
    set_session_limit(bmc, 4, 3, Privilege.USER)
    assert make_bmc().users.get(4).access[1].session_limit == 3


def test_a_full_table_gives_way_to_a_higher_privilege(make_bmc: MakeBmc):
    bmc = make_bmc(security={"max_sessions": 3})
    wire = Wire(bmc.sessions)
    viewers = []
    for n in range(3):
        viewers.append(PlusClient(wire, user=b"viewer", password=b"viewerpw",
                                  console_sid=10 + n).login())
        wire.now += 1
    viewers[0].request(*GET_DEVICE_ID)  # the first is now the most recently active
    bmc.sessions.events_to_process()
    # Another USER login finds no room: Open Session already says so.
    assert PlusClient(wire, user=b"viewer", password=b"viewerpw",
                      console_sid=30).open(requested=2)[1] == RmcpStatus.INSUFFICIENT_RESOURCES
    admin = PlusClient(wire, console_sid=40).login()
    [closed] = bmc.sessions.events_to_process()[:1]
    assert isinstance(closed, SessionClosed)
    assert closed.reason == "evicted for a login at ADMINISTRATOR"
    assert closed.session.user_name == b"viewer" and closed.session.console_sid == 11
    assert admin.request(*GET_DEVICE_ID)[0] == 0
    assert viewers[1].request(*GET_DEVICE_ID) is None  # evicted
    assert viewers[0].request(*GET_DEVICE_ID)[0] == 0
    # The operator then evicts a viewer too, never the administrator.
    PlusClient(wire, user=b"oper", password=b"operpw", console_sid=50).login()
    assert {s.user_name for s in bmc.sessions.sessions} == {b"admin", b"oper", b"viewer"}
    # A second operator evicts the last viewer; a third finds only equals and betters.
    PlusClient(wire, user=b"oper", password=b"operpw", console_sid=51).login()
    # (Open Session does not know the user yet; asking for "highest", it may outrank the
    # operators, so the refusal comes once the password is proved.)
    client = PlusClient(wire, user=b"oper", password=b"operpw", console_sid=52)
    assert client.open()[1] == 0 and client.rakp1()[1] == 0
    rakp4 = client.rakp3()
    assert rakp4 is not None and rakp4[1] == RmcpStatus.INSUFFICIENT_RESOURCES
    assert client.open(requested=3)[1] == RmcpStatus.INSUFFICIENT_RESOURCES
    assert admin.request(*GET_DEVICE_ID)[0] == 0


def test_eviction_takes_the_lowest_privilege_first(make_bmc: MakeBmc):
    bmc = make_bmc(security={"max_sessions": 2})
    wire = Wire(bmc.sessions)
    oper = PlusClient(wire, user=b"oper", password=b"operpw", console_sid=1).login()
    wire.now += 1
    viewer = PlusClient(wire, user=b"viewer", password=b"viewerpw", console_sid=2).login()
    PlusClient(wire, console_sid=3).login()
    assert viewer.request(*GET_DEVICE_ID) is None
    assert oper.request(*GET_DEVICE_ID)[0] == 0


def test_v15_activation_gives_way_to_a_higher_privilege(make_bmc: MakeBmc):
    bmc = make_bmc(security={"max_sessions": 2})
    wire = Wire(bmc.sessions)
    for n in range(2):
        V15Client(wire, user=b"viewer", password=b"viewerpw",
                  addr=("127.0.0.1", 5000 + n)).login(privilege=2)
    full = V15Client(wire, user=b"viewer", password=b"viewerpw")
    assert full.get_challenge() == 0
    assert full.activate(privilege=2)[0] == 0x81
    assert V15Client(wire).login(privilege=4).request(*GET_DEVICE_ID)[0] == 0
    assert sorted(s.user_name for s in bmc.sessions.sessions) == [b"admin", b"viewer"]


def test_a_wrong_password_evicts_nobody(make_bmc: MakeBmc):
    bmc = make_bmc(security={"max_sessions": 1})
    wire = Wire(bmc.sessions)
    viewer = PlusClient(wire, user=b"viewer", password=b"viewerpw", console_sid=1).login()
    assert rakp3_mismatch(wire)[1] == BAD
    assert viewer.request(*GET_DEVICE_ID)[0] == 0
