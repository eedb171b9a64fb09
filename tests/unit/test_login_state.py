"""The session state table on its own (h11 test_state style), and the path a real login takes."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from pybmc.protocol.rmcp.login_state import (
    TRANSITIONS,
    LoginEvent,
    LoginStateError,
    SessionState,
    advance,
    allows,
    next_state,
)
from tests.unit.data.capture_login import transcript_bmc
from tests.unit.test_login_replay import DATA, PEER, read_transcript

S, E = SessionState, LoginEvent

RMCPPLUS_LOGIN = [(E.RAKP1_ACCEPTED, S.RAKP2_SENT), (E.RAKP3_ACCEPTED, S.ACTIVE),
                  (E.CLOSED, S.CLOSED)]


def walk(state: SessionState, events: list[LoginEvent]) -> list[SessionState]:
    seen = []
    for event in events:
        state = next_state(state, event)
        seen.append(state)
    return seen


def test_rmcpplus_login_path():
    assert walk(S.OPENED, [e for e, _ in RMCPPLUS_LOGIN]) == [s for _, s in RMCPPLUS_LOGIN]


def test_ipmi15_activation_skips_rakp():
    assert walk(S.OPENED, [E.ACTIVATED, E.EXPIRED]) == [S.ACTIVE, S.CLOSED]


@pytest.mark.parametrize("event", [E.RAKP1_REFUSED, E.EXPIRED, E.EVICTED, E.CLOSED])
def test_a_login_can_end_before_rakp2(event: LoginEvent):
    assert next_state(S.OPENED, event) is S.CLOSED


@pytest.mark.parametrize("event", [E.RAKP3_REFUSED, E.CONSOLE_ABORTED, E.EXPIRED, E.EVICTED,
                                   E.CLOSED])
def test_a_login_can_end_after_rakp2(event: LoginEvent):
    assert next_state(S.RAKP2_SENT, event) is S.CLOSED


@pytest.mark.parametrize(("state", "event"), [
    (S.OPENED, E.RAKP3_ACCEPTED),  # RAKP 3 before RAKP 1
    (S.RAKP2_SENT, E.RAKP1_ACCEPTED),  # a second, different RAKP 1
    (S.RAKP2_SENT, E.ACTIVATED),
    (S.ACTIVE, E.RAKP1_ACCEPTED),
    (S.ACTIVE, E.RAKP3_ACCEPTED),
    (S.ACTIVE, E.EVICTED),  # only half-open logins are evicted
])
def test_out_of_order_events_are_refused(state: SessionState, event: LoginEvent):
    assert not allows(state, event)
    with pytest.raises(LoginStateError, match=event.value):
        next_state(state, event)


def test_closed_is_final():
    for event in LoginEvent:
        assert not allows(S.CLOSED, event)


def test_every_state_but_closed_can_be_left_by_closing_or_expiring():
    for state in SessionState:
        if state is not S.CLOSED:
            assert next_state(state, E.CLOSED) is S.CLOSED
            assert next_state(state, E.EXPIRED) is S.CLOSED


def test_only_listed_pairs_are_allowed():
    for state in SessionState:
        for event in LoginEvent:
            assert allows(state, event) == ((state, event) in TRANSITIONS)


def test_each_transition_is_logged_at_debug(caplog: pytest.LogCaptureFixture):
    with caplog.at_level(logging.DEBUG, logger="pybmc.session.state"):
        assert advance(0x1234, S.OPENED, E.RAKP1_ACCEPTED) is S.RAKP2_SENT
    assert caplog.messages == ["session 0x00001234: half-open --rakp1-accepted--> rakp2-sent"]


def test_a_real_login_walks_the_table(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    bmc = transcript_bmc(tmp_path)
    with caplog.at_level(logging.DEBUG, logger="pybmc.session.state"):
        for request, _ in read_transcript(DATA / "login_ipmitool_c17.txt"):
            bmc.receive_datagram(request, PEER, 1000.0)
    steps = [r.getMessage().split(": ", 1)[1] for r in caplog.records
             if r.name == "pybmc.session.state"]
    assert steps == ["half-open --rakp1-accepted--> rakp2-sent",
                     "rakp2-sent --rakp3-accepted--> active",
                     "active --closed--> closed"]
