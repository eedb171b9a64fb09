"""The states of one session and the only transitions between them, as one table.

Every change of `Session.state` goes through `advance`, which refuses a transition the table
does not list (the login code asks `allows` first when a packet may be out of order) and logs
each one at debug, so a trace of any login reads as a path through this table.
"""

from __future__ import annotations

import logging
from enum import Enum

log = logging.getLogger("pybmc.session.state")


class SessionState(Enum):
    OPENED = "half-open"  # RMCP+ Open Session answered, waiting for RAKP 1
    RAKP2_SENT = "rakp2-sent"  # waiting for RAKP 3
    ACTIVE = "active"
    CLOSED = "closed"


class LoginEvent(Enum):
    RAKP1_ACCEPTED = "rakp1-accepted"  # user known, RAKP 2 sent
    RAKP1_REFUSED = "rakp1-refused"  # RAKP 2 with an error status, login over
    RAKP3_ACCEPTED = "rakp3-accepted"  # password proved, RAKP 4 sent
    RAKP3_REFUSED = "rakp3-refused"  # wrong HMAC or no room, RAKP 4 with an error status
    CONSOLE_ABORTED = "console-aborted"  # RAKP 3 carrying a non-zero status
    ACTIVATED = "activated"  # IPMI 1.5 Activate Session made it (no RAKP)
    EXPIRED = "expired"  # half-open too long, or idle past the session timeout
    EVICTED = "evicted"  # a half-open login dropped to make room
    CLOSED = "closed"  # Close Session, or the BMC shutting its sessions


class LoginStateError(Exception):
    """A transition the table does not allow (a bug in the caller: packets are checked first)."""


_S, _E = SessionState, LoginEvent
TRANSITIONS: dict[tuple[SessionState, LoginEvent], SessionState] = {
    (_S.OPENED, _E.RAKP1_ACCEPTED): _S.RAKP2_SENT,
    (_S.OPENED, _E.RAKP1_REFUSED): _S.CLOSED,
    (_S.OPENED, _E.ACTIVATED): _S.ACTIVE,
    (_S.OPENED, _E.EXPIRED): _S.CLOSED,
    (_S.OPENED, _E.EVICTED): _S.CLOSED,
    (_S.OPENED, _E.CLOSED): _S.CLOSED,
    (_S.RAKP2_SENT, _E.RAKP3_ACCEPTED): _S.ACTIVE,
    (_S.RAKP2_SENT, _E.RAKP3_REFUSED): _S.CLOSED,
    (_S.RAKP2_SENT, _E.CONSOLE_ABORTED): _S.CLOSED,
    (_S.RAKP2_SENT, _E.EXPIRED): _S.CLOSED,
    (_S.RAKP2_SENT, _E.EVICTED): _S.CLOSED,
    (_S.RAKP2_SENT, _E.CLOSED): _S.CLOSED,
    (_S.ACTIVE, _E.EXPIRED): _S.CLOSED,
    (_S.ACTIVE, _E.CLOSED): _S.CLOSED,
}
del _S, _E


def allows(state: SessionState, event: LoginEvent) -> bool:
    return (state, event) in TRANSITIONS


def next_state(state: SessionState, event: LoginEvent) -> SessionState:
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise LoginStateError(f"{event.value} is not allowed in state {state.value}") from None


def advance(session_id: int, state: SessionState, event: LoginEvent) -> SessionState:
    """The state after `event`, logged; LoginStateError when the table has no such edge."""
    new = next_state(state, event)
    log.debug("session %#010x: %s --%s--> %s", session_id, state.value, event.value, new.value)
    return new
