"""The session layer of one BMC, sans-IO: RMCP, IPMI 1.5 sessions and RMCP+ (RAKP) sessions.

Shaped like aioquic's connection: the edge feeds `receive_datagram(data, addr, now)`, sends what
`datagrams_to_send()` hands back, and calls `handle_timer(now)` at `get_timer()`. Nothing here
touches a socket or reads a clock, so every path is testable with plain bytes and a fake `now`.

This module owns the session table, its timers and the routing of each datagram; the jobs it
routes to live next to it:
- ipmi15.py: IPMI 1.5 packets: Get Session Challenge -> Activate Session (temporary session ID),
  then every packet carries the session's authcode (none, MD2, MD5 or straight password).
- rakp.py: RMCP+ login: Open Session -> RAKP 1/2 -> RAKP 3/4 (a strict state machine).
- protection.py: RMCP+ payloads signed and/or encrypted as the negotiated cipher suite says.
- session_record.py: Session and Challenge, what is known about one session or pending login.
- sequence.py: the inbound sequence-number windows.
Session-less requests (session ID 0, either format) run at Privilege.NONE, so the dispatcher only
lets through the commands meant to work before login (auth caps, cipher suites, ...).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from pybmc.protocol.rmcp import ipmi15, rakp
from pybmc.protocol.rmcp.crypto import CryptoError
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
from pybmc.protocol.rmcp.protection import unwrap, wrap
from pybmc.protocol.rmcp.sequence import SequenceWindow
from pybmc.protocol.rmcp.session_record import Address, Challenge, Session, SessionState
from pybmc.wire.codes import LAN_CHANNEL, PayloadType, Privilege
from pybmc.wire.message import MessageError, decode_request, encode_response

if TYPE_CHECKING:
    from pybmc.config.bmc import SecurityConfig
    from pybmc.core.bmc import Bmc

__all__ = ["HALF_OPEN_TIMEOUT", "Address", "Challenge", "PayloadHandler", "SequenceWindow",
           "Session", "SessionManager", "SessionState"]

log = logging.getLogger("pybmc.session")

PayloadHandler = Callable[["Session", bytes, float], None]

HALF_OPEN_TIMEOUT = 30.0  # an unfinished login (or an unused challenge) is dropped after this
MAX_HANDLE = 0xFD
# Login payloads; tested first, so the handler table is built only for these few packets.
SETUP_PAYLOADS = frozenset({PayloadType.OPEN_SESSION_REQUEST, PayloadType.RAKP1,
                            PayloadType.RAKP3})


class SessionManager:
    """All sessions of one BMC, and the protocol machinery around them."""

    def __init__(self, bmc: Bmc) -> None:
        self.bmc = bmc
        self.payload_handlers: dict[int, PayloadHandler] = {}
        self._sessions: dict[int, Session] = {}  # by BMC session ID, half-open and active
        self._challenges: dict[int, Challenge] = {}  # IPMI 1.5, by temporary session ID
        self._outbox: list[tuple[bytes, Address]] = []
        # Payloads sent while a datagram is being handled wait for its reply: a client that
        # just activated SOL must see the Activate Payload response before any SOL data.
        self._held: list[tuple[Session, int, bytes]] | None = None
        self._next_handle = 1

    # ================================================================= public API
    @property
    def sessions(self) -> list[Session]:
        """The active sessions, in handle order."""
        return sorted((s for s in self._sessions.values() if s.active), key=lambda s: s.handle)

    def find_session(self, session_id: int) -> Session | None:
        session = self._sessions.get(session_id)
        return session if session is not None and session.active else None

    def find_by_handle(self, handle: int) -> Session | None:
        for session in self._sessions.values():
            if session.active and session.handle == handle:
                return session
        return None

    def receive_datagram(self, data: bytes, addr: Address, now: float) -> None:
        """Handle one datagram. Never raises: bad input is dropped with a log line."""
        self._held = []
        try:
            self._receive(bytes(data), (str(addr[0]), int(addr[1])), now)
        except (PacketError, MessageError, CryptoError) as err:
            log.debug("%s: dropped datagram from %s: %s", self._name, _fmt(addr), err)
        except Exception:
            log.warning("%s: datagram from %s dropped after an internal error", self._name,
                        _fmt(addr), exc_info=True)
        finally:
            self._release_held()

    def _release_held(self) -> None:
        held, self._held = self._held or [], None
        for session, payload_type, payload in held:
            try:
                self.send_payload(session, payload_type, payload)
            except Exception:
                log.warning("%s: payload for session %#010x dropped after an internal error",
                            self._name, session.session_id, exc_info=True)

    def datagrams_to_send(self) -> list[tuple[bytes, Address]]:
        out, self._outbox = self._outbox, []
        return out

    def get_timer(self) -> float | None:
        deadlines = [self._deadline(s) for s in self._sessions.values()]
        deadlines += [c.created + self._half_open_timeout for c in self._challenges.values()]
        return min(deadlines) if deadlines else None

    def handle_timer(self, now: float) -> None:
        for session in list(self._sessions.values()):
            if self._deadline(session) <= now:
                if session.active:
                    self.close_session(session, "timeout")
                else:
                    self._abandoned(session, "timed out")
                    self._discard(session)
        for temp_sid, challenge in list(self._challenges.items()):
            if challenge.created + self._half_open_timeout <= now:
                del self._challenges[temp_sid]

    def close_session(self, session: Session, reason: str) -> None:
        """End one session now. A reply already being built for it is still sent."""
        if self._sessions.get(session.session_id) is not session:
            return
        was_active = session.active
        self._discard(session)
        if was_active:
            log.info("%s: session %#010x closed (%s): user %r from %s", self._name,
                     session.session_id, reason, session.user_name.decode(errors="replace"),
                     _fmt(session.remote))
            self._notify_closed(session)

    def _notify_closed(self, session: Session) -> None:
        """Whatever rides on the session (SOL) ends with it, at once rather than lazily."""
        listener = getattr(getattr(self.bmc, "sol", None), "on_session_closed", None)
        if listener is None:
            return
        try:
            listener(session)
        except Exception:
            log.warning("%s: SOL cleanup for session %#010x failed", self._name,
                        session.session_id, exc_info=True)

    def close_all(self, reason: str) -> None:
        for session in list(self._sessions.values()):
            self.close_session(session, reason)
        self._sessions.clear()
        self._challenges.clear()

    def send_payload(self, session: Session, payload_type: int, payload: bytes) -> None:
        """Queue a payload (e.g. SOL) to an active RMCP+ session, wrapped as its suite says."""
        if not session.active or not session.is_rmcpplus:
            log.debug("%s: payload for inactive session %#010x dropped", self._name,
                      session.session_id)
            return
        if self._held is not None:
            self._held.append((session, payload_type, payload))
            return
        self._queue(wrap(session, payload_type, payload), session.remote)

    # ================================================================= plumbing
    # The login modules (ipmi15.py, rakp.py) work the table through these and _sessions,
    # _challenges, _run_request: they are internal to the pybmc.rmcp package.
    @property
    def _name(self) -> str:
        return str(getattr(self.bmc, "name", "bmc"))

    @property
    def _security(self) -> SecurityConfig:
        return self.bmc.config.security

    @property
    def _half_open_timeout(self) -> float:
        return min(HALF_OPEN_TIMEOUT, float(self._security.session_timeout))

    def _deadline(self, session: Session) -> float:
        if session.active:
            return session.last_activity + float(self._security.session_timeout)
        return session.last_activity + self._half_open_timeout

    def _queue(self, datagram: bytes, addr: Address) -> None:
        self._outbox.append((datagram, addr))

    def _discard(self, session: Session) -> None:
        self._sessions.pop(session.session_id, None)
        session.state = SessionState.CLOSED

    def _active_count(self) -> int:
        return sum(1 for s in self._sessions.values() if s.active)

    def _new_session_id(self) -> int:
        while True:
            candidate = int.from_bytes(os.urandom(4), "little")
            if candidate and candidate not in self._sessions and candidate not in self._challenges:
                return candidate

    def _new_handle(self) -> int:
        used = {s.handle for s in self._sessions.values() if s.active}
        for _ in range(MAX_HANDLE):
            handle = self._next_handle
            self._next_handle = handle % MAX_HANDLE + 1
            if handle not in used:
                return handle
        raise RuntimeError("no free session handle")  # max_sessions <= 63 makes this impossible

    def _make_room_for_half_open(self) -> None:
        """Half-open logins are cheap to abandon (xCAT does); evict the oldest beyond the bound."""
        limit = max(8, 2 * int(self._security.max_sessions))
        while True:
            half_open: list[tuple[float, Session | Challenge]] = [
                (s.created, s) for s in self._sessions.values() if not s.active]
            half_open += [(c.created, c) for c in self._challenges.values()]
            if len(half_open) < limit:
                return
            _, oldest = min(half_open, key=lambda item: item[0])
            if isinstance(oldest, Session):
                self._abandoned(oldest, "evicted")
                self._discard(oldest)
            else:
                del self._challenges[oldest.temp_sid]
            log.debug("%s: evicted the oldest half-open login", self._name)

    def _abandoned(self, session: Session, how: str) -> None:
        """A half-open login went away. After RAKP 2 that usually means the client found the
        BMC's HMAC wrong: a wrong password (ipmitool then stops without sending RAKP 3)."""
        if session.state is SessionState.RAKP2_SENT:
            self._refused(session.remote, f"login of user "
                          f"{session.user_name.decode(errors='replace')!r} abandoned after "
                          f"RAKP 2, {how} (wrong password on the client?)")
        else:
            log.debug("%s: half-open session %#010x from %s %s", self._name,
                      session.session_id, _fmt(session.remote), how)

    def _refused(self, addr: Address, why: str) -> None:
        log.info("%s: login from %s refused: %s", self._name, _fmt(addr), why)

    def _opened(self, session: Session) -> None:
        log.info("%s: session %#010x opened: user %r, %s, %s, from %s", self._name,
                 session.session_id, session.user_name.decode(errors="replace"),
                 session.privilege.name, session.describe(), _fmt(session.remote))

    def _activate(self, session: Session, now: float) -> None:
        session.state = SessionState.ACTIVE
        session.handle = self._new_handle()
        session.last_activity = now

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
            self._receive_rmcpplus(parse_rmcpplus(body), addr, now)
        else:
            ipmi15.receive_v15(self, parse_ipmi15(body), addr, now)

    def _receive_asf(self, rmcp_sequence: int, body: bytes, addr: Address) -> None:
        message = parse_asf(body)
        if message.iana != ASF_IANA or message.msg_type != ASF_PRESENCE_PING:
            raise PacketError(f"ASF message type {message.msg_type:#04x} is not a ping")
        self._queue(build_asf_pong(message.tag, rmcp_sequence), addr)

    def _run_request(self, message: bytes, privilege: Privilege, session: Session | None,
                     now: float) -> bytes:
        """Decode, execute and encode one IPMI request (MessageError when it is not one)."""
        req = decode_request(message)
        if req.netfn & 1:
            raise MessageError(f"netfn {req.netfn:#04x} is a response")
        if session is not None:
            cached = session.cached_reply(req, now)
            if cached is not None:
                log.debug("%s: retransmitted request rqSeq %d cmd %#04x answered from cache",
                          self._name, req.rq_seq, req.cmd)
                return cached
        ctx = self.bmc.context(LAN_CHANNEL, privilege, session, now, req.rs_lun)
        reply = encode_response(req, self.bmc.execute(ctx, req.netfn, req.cmd, req.data))
        if session is not None:
            session.remember(req, reply, now)
        return reply

    # ================================================================= RMCP+
    def _receive_rmcpplus(self, packet: RmcpPlusPacket, addr: Address, now: float) -> None:
        kind = packet.payload_type
        if kind in SETUP_PAYLOADS:
            setup = {
                PayloadType.OPEN_SESSION_REQUEST: rakp.open_session,
                PayloadType.RAKP1: rakp.rakp1,
                PayloadType.RAKP3: rakp.rakp3,
            }[kind]
            if packet.authenticated or packet.encrypted:
                raise PacketError("session setup payload marked authenticated/encrypted")
            setup(self, packet, addr, now)
            return
        if packet.session_id == 0:
            self._rmcpplus_sessionless(packet, addr, now)
            return
        session = self._sessions.get(packet.session_id)
        if session is None or not session.is_rmcpplus or not session.active:
            raise PacketError(f"RMCP+ packet for unknown or inactive session "
                              f"{packet.session_id:#010x}")
        payload = unwrap(session, packet, self._name)
        session.touch(now, addr)
        if kind == PayloadType.IPMI:
            reply = self._run_request(payload, session.privilege, session, now)
            self._queue(wrap(session, PayloadType.IPMI, reply), addr)
            return
        handler = self.payload_handlers.get(kind)
        if handler is None:
            raise PacketError(f"no handler for payload type {kind:#04x}")
        handler(session, payload, now)

    def _rmcpplus_sessionless(self, packet: RmcpPlusPacket, addr: Address, now: float) -> None:
        if packet.payload_type != PayloadType.IPMI or packet.authenticated or packet.encrypted:
            raise PacketError("session-less RMCP+ packet must be a plain IPMI payload")
        reply = self._run_request(packet.payload, Privilege.NONE, None, now)
        self._queue(build_rmcpplus(PayloadType.IPMI, 0, 0, reply), addr)


def _fmt(addr: tuple) -> str:
    try:
        return f"{addr[0]}:{addr[1]}"
    except (IndexError, TypeError):
        return repr(addr)
