"""Login throttling and rate-limited refusal logs, through the session layer as clients drive it.

The token bucket per source (pybmc/protocol/rmcp/throttle.py) sits in front of Open Session,
RAKP 1 and IPMI 1.5 Get Session Challenge; a throttled request gets no answer at all. Refused
logins and drops a peer can repeat at will are logged through the rate limiter.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from pybmc.core.bmc import Bmc
from pybmc.protocol.rmcp.packet import build_ipmi15, build_rmcpplus
from pybmc.wire.message import Request, encode_request
from tests.unit.clock import FakeClock, run_timers
from tests.unit.conftest import MakeBmc
from tests.unit.rmcp_clients import ADDR, GET_DEVICE_ID, OTHER, PlusClient, V15Client, Wire

SOURCE_LOG = "pybmc.session"


@pytest.fixture
def bmc_sections() -> dict[str, Any]:
    return {"users": [{"name": "admin", "password": "secret"}],
            "security": {"login_rate": 1, "login_burst": 4}}


@pytest.fixture
def wire(bmc: Bmc) -> Wire:
    return Wire(bmc.sessions)


def open_session(wire: Wire, sid: int, addr: tuple[str, int] = ADDR) -> bool:
    """True when the BMC answered an Open Session at all."""
    client = PlusClient(wire, console_sid=sid, addr=addr)
    payload = bytes([0, 0, 0, 0]) + sid.to_bytes(4, "little") + bytes.fromhex(
        "0000000801000000" "0100000801000000" "0200000801000000")
    return bool(client.wire.send(build_rmcpplus(0x10, 0, 0, payload), addr))


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def test_open_sessions_beyond_the_burst_get_no_answer(wire: Wire):
    assert [open_session(wire, sid) for sid in range(1, 7)] == [True] * 4 + [False] * 2
    assert open_session(wire, 10, OTHER)  # another address has its own bucket
    wire.now += 1.0
    assert open_session(wire, 11)  # one token back after a second at 1/s
    assert not open_session(wire, 12)


def test_a_burst_of_rakp1_is_throttled(wire: Wire):
    clients = [PlusClient(wire, console_sid=sid) for sid in (1, 2)]
    for client in clients:
        assert client.open()[1] == 0
    assert clients[0].rakp1()[1] == 0
    assert clients[1].rakp1()[1] == 0  # the fourth token
    again = clients[1].last_rakp1
    assert wire.send(again) == []  # even the retransmit of an answered RAKP 1: no token left
    wire.now += 1.0
    assert wire.send(again) != []  # now answered (from the login's reply cache)


def test_a_whole_login_takes_two_tokens_and_succeeds_within_the_burst(wire: Wire):
    PlusClient(wire, console_sid=1).login()
    client = PlusClient(wire, console_sid=2).login()  # RAKP 3 and requests take no tokens
    for _ in range(10):
        assert client.request(*GET_DEVICE_ID)[0] == 0
    assert not open_session(wire, 3)


def test_get_session_challenge_is_throttled_other_sessionless_requests_are_not(wire: Wire):
    client = V15Client(wire)
    for _ in range(4):
        assert client.get_challenge(user=b"nobody") == 0x81
    request = encode_request(Request(0x06, 0x39, bytes([2]) + b"admin".ljust(16, b"\0")))
    assert wire.send(build_ipmi15(0, 0, 0, request)) == []  # dropped: no answer
    assert client.sessionless(0x06, 0x38, b"\x8e\x04")[0] == 0  # auth caps: never throttled
    assert V15Client(wire, addr=OTHER).login().request(*GET_DEVICE_ID)[0] == 0


def test_a_throttled_source_is_warned_about_once_then_summed_up(
        make_bmc: MakeBmc, caplog: pytest.LogCaptureFixture):
    clock = FakeClock(1000.0)
    bmc = make_bmc()
    wire = Wire(bmc.sessions)
    caplog.set_level(logging.INFO, logger=SOURCE_LOG)
    for sid in range(1, 205):
        open_session(wire, sid)
    assert len(warnings(caplog)) == 1
    [warning] = warnings(caplog)
    assert "Open Session from 127.0.0.1:40000 dropped" in warning
    assert "over 1 login requests/s (burst 4)" in warning
    assert "possible RAKP 2 hash harvesting" in warning
    clock.now = wire.now
    run_timers(bmc.sessions, clock, 11.0)
    summary = warnings(caplog)[-1]
    assert summary.startswith("t: suppressed 199 similar messages from 127.0.0.1 "
                              "(login throttled) in 10 s")


def test_throttling_off_with_login_rate_zero(make_bmc: MakeBmc):
    wire = Wire(make_bmc(security={"login_rate": 0}).sessions)
    assert all(open_session(wire, sid) for sid in range(1, 500))


def test_defaults_let_a_head_node_burst_through(make_bmc: MakeBmc):
    """One head node to one BMC: ipmipower, a conductor's parallel calls, a console, retries
    (30 logins at once = 60 tokens, the default burst)."""
    wire = Wire(make_bmc(security={}).sessions)
    for sid in range(1, 31):
        PlusClient(wire, console_sid=sid).login()
    assert len(wire.manager.sessions) == 30


def test_a_thousand_refused_logins_write_a_bounded_number_of_lines(
        make_bmc: MakeBmc, caplog: pytest.LogCaptureFixture):
    clock = FakeClock(1000.0)
    bmc = make_bmc(security={"login_rate": 0})
    wire = Wire(bmc.sessions)
    caplog.set_level(logging.INFO, logger=SOURCE_LOG)
    for n in range(1000):  # 2,000 a second, as in the audit
        wire.now = clock.advance(0.0005)
        if n % 2:
            client = PlusClient(wire, user=b"nobody%d" % n, console_sid=n + 1)
            client.open()
            assert client.rakp1()[1] == 0x0D  # unauthorized name
        else:
            V15Client(wire).get_challenge(user=b"nobody%d" % n)
    refused = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert refused == ["t: login from 127.0.0.1:40000 refused: unknown user 'nobody0'"]
    run_timers(bmc.sessions, clock, 11.0)
    lines = [r.getMessage() for r in caplog.records
             if r.name == SOURCE_LOG and r.levelno >= logging.INFO]
    assert len(lines) == 2
    assert lines[1].startswith("t: suppressed 999 similar messages from 127.0.0.1 "
                               "(login refused) in 10 s; the last: login from 127.0.0.1:40000 "
                               "refused: ")


def test_protection_mismatches_are_logged_rate_limited(make_bmc: MakeBmc,
                                                       caplog: pytest.LogCaptureFixture):
    wire = Wire(make_bmc().sessions)
    client = PlusClient(wire, suite=17).login()
    caplog.set_level(logging.INFO, logger=SOURCE_LOG)
    for _ in range(100):  # unsigned packets on a signed session
        assert wire.send(client.seal(0, client.message(*GET_DEVICE_ID), seq=client.out_seq,
                                     sign=False)) == []
    mismatches = [r.getMessage() for r in caplog.records if "does not match" in r.getMessage()]
    assert len(mismatches) == 1
    assert "unauthenticated/encrypted does not match suite 17" in mismatches[0]
    assert client.request(*GET_DEVICE_ID)[0] == 0
