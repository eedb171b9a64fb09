"""The session layer of one BMC, sans-IO: routes each datagram to RMCP, IPMI 1.5 or RMCP+.

Shaped like aioquic's connection: the core feeds `receive_datagram(data, addr, now)`, sends what
`datagrams_to_send()` hands back, acts on `events_to_process()` (sessions opened and closed,
SOL payloads received) and calls `handle_timer(now)` at `get_timer()`. Nothing here touches a
socket, reads a clock or makes a random number itself, so every path is testable with plain
bytes, a fake `now` and a seeded random source.

The jobs it routes to live next to it:
- ipmi15.py: IPMI 1.5 packets: Get Session Challenge -> Activate Session (temporary session ID),
  then every packet carries the session's authcode (none, MD2, MD5 or straight password).
- rakp.py: RMCP+ login: Open Session -> RAKP 1/2 -> RAKP 3/4, along login_state.py's table.
- protection.py: RMCP+ payloads signed and/or encrypted as the negotiated cipher suite says.
- table.py: the session table, its bounds and timers, and running a request for a session.
- session_record.py: Session and Challenge, what is known about one session or pending login.
- throttle.py: the token bucket per source address in front of Open Session, RAKP 1 and
  Get Session Challenge (the table holds one, and the rate limiter its refusals log through).
Session-less requests (session ID 0, either format) run at Privilege.NONE, so the dispatcher only
lets through the commands meant to work before login (auth caps, cipher suites, ...).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from pybmc.protocol.rmcp import ipmi15, rakp
from pybmc.protocol.rmcp.crypto import CryptoError
from pybmc.protocol.rmcp.events import PayloadReceived
from pybmc.protocol.rmcp.host import SessionHost
from pybmc.protocol.rmcp.login_state import LoginEvent
from pybmc.protocol.rmcp.packet import (
    ASF_IANA,
    ASF_PRESENCE_PING,
    AUTHTYPE_RMCPPLUS,
    RMCP_CLASS_ASF,
    RMCP_CLASS_IPMI,
    RMCP_SEQ_NO_ACK,
    PacketError,
    RmcpPlusPacket,
    build_asf_pong,
    build_rmcpplus,
    parse_asf,
    parse_ipmi15,
    parse_rmcp,
    parse_rmcpplus,
)
from pybmc.protocol.rmcp.protection import ProtectionMismatch, unwrap, wrap
from pybmc.protocol.rmcp.session_record import Address, Session
from pybmc.protocol.rmcp.table import HALF_OPEN_TIMEOUT, SessionTable, fmt_addr
from pybmc.wire.codes import PayloadType, Privilege
from pybmc.wire.message import MessageError

__all__ = ["HALF_OPEN_TIMEOUT", "SessionManager"]

log = logging.getLogger("pybmc.session")

LoginStep = Callable[[SessionTable, RmcpPlusPacket, Address, float], None]
LOGIN_STEPS: dict[int, LoginStep] = {
    PayloadType.OPEN_SESSION_REQUEST: rakp.open_session,
    PayloadType.RAKP1: rakp.rakp1,
    PayloadType.RAKP3: rakp.rakp3,
}


_PAYLOAD_TYPES: dict[frozenset[int], frozenset[int]] = {}


class SessionManager(SessionTable):
    """All sessions of one BMC, and the routing of every datagram to its handler."""

    def __init__(self, host: SessionHost,
                 payload_types: Iterable[int] = (PayloadType.SOL,)) -> None:
        super().__init__(host)
        # Payload types other than IPMI that active sessions may carry; each one arrives as
        # a PayloadReceived event for the core.
        types = frozenset(payload_types)
        self.payload_types = _PAYLOAD_TYPES.setdefault(types, types)  # one per distinct set

    # ================================================================= public API
    @property
    def sessions(self) -> list[Session]:
        """The active sessions, in handle order."""
        return sorted((s for s in self.sessions_by_id.values() if s.active),
                      key=lambda s: s.handle)

    def find_session(self, session_id: int) -> Session | None:
        session = self.sessions_by_id.get(session_id)
        return session if session is not None and session.active else None

    def find_by_handle(self, handle: int) -> Session | None:
        for session in self.sessions_by_id.values():
            if session.active and session.handle == handle:
                return session
        return None

    def receive_datagram(self, data: bytes, addr: Address, now: float) -> None:
        """Handle one datagram. Never raises: bad input is dropped with a log line."""
        self.now = now
        try:
            self._receive(bytes(data), (str(addr[0]), int(addr[1])), now)
        except (PacketError, MessageError, CryptoError) as err:
            log.debug("%s: dropped datagram from %s: %s", self.name, fmt_addr(addr), err)
        except Exception:
            # Rate-limited: whoever found the input that trips a bug can repeat it at will.
            self.log_limiter.log(now, (str(addr[0]), "internal error"), logging.WARNING,
                                 "%s: datagram from %s dropped after an internal error",
                                 self.name, fmt_addr(addr), exc_info=True)

    def get_timer(self) -> float | None:
        deadlines = [self.deadline(s) for s in self.sessions_by_id.values()]
        deadlines += [c.created + self.half_open_timeout for c in self.challenges.values()]
        summaries = self.log_limiter.get_timer()
        if summaries is not None:
            deadlines.append(summaries)
        return min(deadlines) if deadlines else None

    def handle_timer(self, now: float) -> None:
        self.now = now
        for session in list(self.sessions_by_id.values()):
            if self.deadline(session) > now:
                continue
            if session.active:
                self.close_session(session, "timeout", LoginEvent.EXPIRED)
            elif self.half_open_expiry(session) <= now:
                self.abandoned(session, "timed out", now)
                self.discard(session, LoginEvent.EXPIRED)
            else:
                self.rakp2_unanswered(session, now)
        for temp_sid, challenge in list(self.challenges.items()):
            if challenge.created + self.half_open_timeout <= now:
                del self.challenges[temp_sid]
        self.log_limiter.handle_timer(now)

    def close_all(self, reason: str) -> None:
        for session in list(self.sessions_by_id.values()):
            self.close_session(session, reason)
        self.sessions_by_id.clear()
        self.challenges.clear()
        self.log_limiter.flush()  # a stop or reset still says what it suppressed

    def send_payload(self, session: Session, payload_type: int, payload: bytes) -> None:
        """Queue a payload (e.g. SOL) to an active RMCP+ session, wrapped as its suite says."""
        if not session.active or not session.is_rmcpplus:
            log.debug("%s: payload for inactive session %#010x dropped", self.name,
                      session.session_id)
            return
        self.queue(wrap(session, payload_type, payload, self.host.random), session.remote)

    # ================================================================= dispatch
    def _receive(self, data: bytes, addr: Address, now: float) -> None:
        header, body = parse_rmcp(data)
        if header.is_ack:
            return
        if header.kind == RMCP_CLASS_ASF:
            self._receive_asf(header.sequence, body, addr)
            return
        if header.kind != RMCP_CLASS_IPMI:
            raise PacketError(f"RMCP class {header.msg_class:#04x} is not ASF or IPMI")
        if header.sequence != RMCP_SEQ_NO_ACK:
            raise PacketError(f"RMCP sequence {header.sequence:#04x} is not 0xFF for IPMI")
        if not body:
            raise PacketError("empty IPMI session")
        if body[0] & 0x0F == AUTHTYPE_RMCPPLUS:
            packet = parse_rmcpplus(body)
            if self._channel_open(packet.session_id, packet.payload_type not in LOGIN_STEPS,
                                  True, addr, now):
                self._receive_rmcpplus(packet, addr, now)
        else:
            v15 = parse_ipmi15(body)
            if self._channel_open(v15.session_id, True, False, addr, now):
                ipmi15.receive_v15(self, v15, addr, now)

    def _channel_open(self, session_id: int, in_session: bool, rmcpplus: bool,
                      addr: Address, now: float) -> bool:
        """Whether an IPMI packet may go on with the LAN channel's access mode as it is.

        With the access mode Disabled the channel takes no IPMI messages: every packet that
        is not for an established session is dropped unanswered (session-less requests such
        as Get Channel Authentication Capabilities, Open Session, RAKP, Get Session Challenge
        and Activate Session alike), so no new session starts. Sessions established before
        go on until closed or timed out, so the reply to the Set Channel Access that turned
        the channel off, and the client's Close Session, still get through. The ASF ping is
        RMCP, not IPMI, and is still answered. One log line per burst, not per packet."""
        if self.host.channel.ipmi_enabled():
            return True
        if session_id and in_session:
            session = self.sessions_by_id.get(session_id)
            if session is not None and session.active and session.is_rmcpplus == rmcpplus:
                return True
        self.log_limiter.log(now, ("any source", "LAN channel disabled"), logging.INFO,
                             "%s: IPMI over LAN is disabled (LAN channel access mode); "
                             "packet from %s dropped", self.name, fmt_addr(addr))
        return False

    def _receive_asf(self, rmcp_sequence: int, body: bytes, addr: Address) -> None:
        message = parse_asf(body)
        if message.iana != ASF_IANA or message.msg_type != ASF_PRESENCE_PING:
            raise PacketError(f"ASF message type {message.msg_type:#04x} is not a ping")
        self.queue(build_asf_pong(message.tag, rmcp_sequence), addr)

    def _receive_rmcpplus(self, packet: RmcpPlusPacket, addr: Address, now: float) -> None:
        kind = packet.payload_type
        step = LOGIN_STEPS.get(kind)
        if step is not None:
            if packet.authenticated or packet.encrypted:
                raise PacketError("session setup payload marked authenticated/encrypted")
            step(self, packet, addr, now)
            return
        if packet.session_id == 0:
            self._rmcpplus_sessionless(packet, addr, now)
            return
        session = self.sessions_by_id.get(packet.session_id)
        if session is None or not session.is_rmcpplus or not session.active:
            raise PacketError(f"RMCP+ packet for unknown or inactive session "
                              f"{packet.session_id:#010x}")
        if kind != PayloadType.IPMI and kind not in self.payload_types:
            raise PacketError(f"no handler for payload type {kind:#04x}")
        if not session.signed and addr != session.remote:
            # Without an AuthCode only the address that logged in speaks for the session.
            raise PacketError(f"unsigned packet for session {session.session_id:#010x} "
                              "from another address")
        try:
            payload = unwrap(session, packet)
        except ProtectionMismatch as err:
            self.log_limiter.log(now, (addr[0], "protection mismatch"), logging.INFO,
                                 "%s: %s; dropped", self.name, err)
            raise
        session.touch(now, addr)
        if kind == PayloadType.IPMI:
            reply = self.run_request(payload, session.privilege, session, now)
            self.queue(wrap(session, PayloadType.IPMI, reply, self.host.random), addr)
            return
        self._events.append(PayloadReceived(session, kind, payload, now))

    def _rmcpplus_sessionless(self, packet: RmcpPlusPacket, addr: Address, now: float) -> None:
        if packet.payload_type != PayloadType.IPMI or packet.authenticated or packet.encrypted:
            raise PacketError("session-less RMCP+ packet must be a plain IPMI payload")
        reply = self.run_request(packet.payload, Privilege.NONE, None, now)
        self.queue(build_rmcpplus(PayloadType.IPMI, 0, 0, reply), addr)
