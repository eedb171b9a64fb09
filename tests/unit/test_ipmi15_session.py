"""IPMI 1.5 sessions driven as clients drive them: Activate Session for each auth type, the
refusals, bad authcodes, replay and the retransmit cache."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pybmc.core.bmc import Bmc
from pybmc.protocol.rmcp.packet import (
    build_ipmi15,
    parse_ipmi15,
)
from pybmc.wire.codes import AuthType, Privilege
from pybmc.wire.message import decode_response
from tests.unit.conftest import MakeBmc
from tests.unit.rmcp_clients import (  # noqa: F401  (fixtures)
    CLOSE_SESSION,
    GET_DEVICE_ID,
    GET_SESSION_INFO,
    SET_SESSION_PRIV,
    V15Client,
    Wire,
    body_of,
    le32,
    three_users,
    wire_on_bmc,
)


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


