"""Events the session layer hands up to the core after each datagram or timer.

Shaped like h11's and aioquic's event classes: the session layer never calls into whatever
rides on a session (SOL); it reports what happened, and the core acts on it once the datagram
is handled, so a reply always leaves before anything it caused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pybmc.protocol.rmcp.session_record import Session


@dataclass(frozen=True)
class SessionOpened:
    session: Session


@dataclass(frozen=True)
class SessionClosed:
    session: Session
    reason: str


@dataclass(frozen=True)
class PayloadReceived:
    """A non-IPMI payload (SOL) arrived on an active RMCP+ session, already unwrapped."""

    session: Session
    payload_type: int
    payload: bytes
    now: float


SessionEvent = SessionOpened | SessionClosed | PayloadReceived
