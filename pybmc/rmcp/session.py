"""The session layer of one BMC, sans-IO: RMCP, IPMI 1.5 sessions and RMCP+ (RAKP) sessions.

Shaped like aioquic's connection: the edge feeds `receive_datagram(data, addr, now)`, sends what
`datagrams_to_send()` hands back, and calls `handle_timer(now)` at `get_timer()`. Nothing here
touches a socket or reads a clock, so every path is testable with plain bytes and a fake `now`.

Per session type:
- IPMI 1.5: Get Session Challenge -> Activate Session (temporary session ID), then every packet
  carries the session's authcode (none, MD2, MD5 or straight password) over sid/msg/seq.
- RMCP+: Open Session -> RAKP 1/2 -> RAKP 3/4 (a strict state machine), then payloads signed
  and/or encrypted as the negotiated cipher suite says.
Session-less requests (session ID 0, either format) run at Privilege.NONE, so the dispatcher only
lets through the commands meant to work before login (auth caps, cipher suites, ...).
"""

from __future__ import annotations

import hmac
import logging
import os
from collections.abc import Callable
from enum import Enum
from typing import TYPE_CHECKING

from pybmc.ipmi.codes import (
    LAN_CHANNEL,
    AuthType,
    Cc,
    NetFn,
    PayloadType,
    Privilege,
    RmcpStatus,
)
from pybmc.ipmi.message import MessageError, Request, decode_request, encode_response
from pybmc.rmcp import crypto
from pybmc.rmcp.crypto import CipherSuite, CryptoError, RakpExchange, SessionKeys
from pybmc.rmcp.packet import (
    ASF_IANA,
    ASF_PRESENCE_PING,
    AUTHTYPE_RMCPPLUS,
    RMCP_CLASS_ASF,
    RMCP_CLASS_IPMI,
    RMCP_SEQ_NO_ACK,
    Ipmi15Packet,
    PacketError,
    RmcpPlusPacket,
    build_asf_pong,
    build_ipmi15,
    build_rmcpplus,
    parse_asf,
    parse_ipmi15,
    parse_rmcp,
    parse_rmcpplus,
)

if TYPE_CHECKING:
    from pybmc.bmc import Bmc
    from pybmc.config import SecurityConfig
    from pybmc.state import UserRecord

log = logging.getLogger("pybmc.session")

Address = tuple[str, int]
PayloadHandler = Callable[["Session", bytes, float], None]

SEQ_MASK = 0xFFFFFFFF
V15_SEQ_WINDOW = 8  # IPMI 1.5: accept up to 8 ahead of / behind the highest seen
V20_SEQ_WINDOW = 16  # RMCP+: 16 either way
HALF_OPEN_TIMEOUT = 30.0  # an unfinished login (or an unused challenge) is dropped after this
RETRANSMIT_WINDOW = 5.0  # a repeated request within this gets the cached reply
MAX_HANDLE = 0xFD
CMD_GET_SESSION_CHALLENGE = 0x39
CMD_ACTIVATE_SESSION = 0x3A
RAKP_ERROR_REPLY_LEN = 8  # tag, status, 2 reserved, console session ID
RAKP1_FIXED_LEN = 28
OPEN_REQUEST_LEN = 32
MAX_USER_NAME = 16

# Activate Session completion codes (IPMI 2.0 table 22-19).
CC_NO_SESSION_SLOT = 0x81
CC_INVALID_SESSION_ID = 0x85
CC_PRIVILEGE_EXCEEDS_LIMIT = 0x86
# Get Session Challenge completion codes (table 22-18).
CC_INVALID_USER_NAME = 0x81
CC_NULL_USER_DISABLED = 0x82

# When an Open Session request leaves an algorithm to the BMC, the strongest enabled suite wins.
SUITE_PREFERENCE = (17, 3, 16, 8, 12, 2, 7, 11, 15, 1, 6, 0)
# Login payloads; tested first, so the handler table is built only for these few packets.
SETUP_PAYLOADS = frozenset({PayloadType.OPEN_SESSION_REQUEST, PayloadType.RAKP1,
                            PayloadType.RAKP3})


class SessionState(Enum):
    OPENED = "opened"  # RMCP+ Open Session answered, waiting for RAKP 1
    RAKP2_SENT = "rakp2-sent"  # waiting for RAKP 3
    ACTIVE = "active"
    CLOSED = "closed"


class SequenceWindow:
    """Inbound session sequence numbers: a sliding window with a seen-bitmap against replays."""

    def __init__(self, window: int, first: int) -> None:
        self.window = window
        self.highest = (first - 1) & SEQ_MASK
        # Bit i set: highest - 1 - i was seen. Start full so nothing before `first` is accepted.
        self.seen = (1 << window) - 1

    def accept(self, sequence: int) -> bool:
        if sequence == 0:  # 0 means "outside a session" in both formats
            return False
        ahead = (sequence - self.highest) & SEQ_MASK
        if ahead == 0:
            return False
        if ahead <= self.window:
            self.seen = ((self.seen << ahead) | (1 << (ahead - 1))) & ((1 << self.window) - 1)
            self.highest = sequence
            return True
        behind = (self.highest - sequence) & SEQ_MASK
        if behind <= self.window:
            bit = 1 << (behind - 1)
            if self.seen & bit:
                return False
            self.seen |= bit
            return True
        return False


def _next_sequence(value: int) -> int:
    value = (value + 1) & SEQ_MASK
    return value or 1


def _le32(value: int) -> bytes:
    return (value & SEQ_MASK).to_bytes(4, "little")


def _u32(data: bytes) -> int:
    return int.from_bytes(data[:4], "little")


class Challenge:
    """An IPMI 1.5 Get Session Challenge answer, waiting for its Activate Session."""

    def __init__(self, temp_sid: int, challenge: bytes, user_id: int, user_name: bytes,
                 auth_type: int, remote: Address, now: float) -> None:
        self.temp_sid = temp_sid
        self.challenge = challenge
        self.user_id = user_id
        self.user_name = user_name
        self.auth_type = auth_type
        self.remote = remote
        self.created = now
        # Once answered, a retransmitted identical Activate Session gets the same reply.
        self.answered: tuple[tuple[int, bytes, bytes], bytes] | None = None


class Session:
    """One session (half-open or active) as the BMC sees it; a dispatch.SessionView."""

    def __init__(self, manager: SessionManager, session_id: int, remote: Address,
                 auth_type: int, now: float) -> None:
        self._manager = manager
        self.session_id = session_id
        self.handle = 0
        self.user_id = 0
        self.user_name = b""
        self.privilege = Privilege.NONE
        self.max_privilege = Privilege.NONE
        self.channel = LAN_CHANNEL
        self.remote = remote
        self.auth_type = auth_type
        self.state = SessionState.OPENED
        self.created = now
        self.last_activity = now
        # IPMI 1.5
        self.password = b""
        self.inbound = SequenceWindow(V15_SEQ_WINDOW, 1)
        self.outbound_sequence = 1
        # RMCP+
        self.console_sid = 0
        self.suite: CipherSuite | None = None
        self.open_privilege = Privilege.NONE
        self.kuid = b""
        self.exchange: RakpExchange | None = None
        self.keys: SessionKeys | None = None
        self.authenticated_window = SequenceWindow(V20_SEQ_WINDOW, 1)
        self.unauthenticated_window = SequenceWindow(V20_SEQ_WINDOW, 1)
        self.authenticated_out = 1
        self.unauthenticated_out = 1
        self.last_rakp1 = b""
        self.rakp2_reply = b""
        self.last_rakp3 = b""
        self.rakp4_reply = b""
        # Retransmit cache: the previous request and the reply message it got.
        self._last_request: tuple[int, int, int, int, int, bytes] | None = None
        self._last_reply = b""
        self._last_request_at = 0.0

    # ----------------------------------------------------------------- SessionView
    def set_privilege(self, privilege: Privilege) -> None:
        self.privilege = Privilege(privilege)

    def close(self) -> None:
        self._manager.close_session(self, "close session")

    # ----------------------------------------------------------------- helpers
    @property
    def is_rmcpplus(self) -> bool:
        return self.auth_type == AuthType.RMCPPLUS

    @property
    def active(self) -> bool:
        return self.state is SessionState.ACTIVE

    @property
    def encrypted(self) -> bool:
        """Whether this session's payloads are encrypted (its suite has confidentiality)."""
        return self.suite is not None and self.suite.confidentiality.number != 0

    @property
    def authenticated(self) -> bool:
        """Whether this session's packets carry an integrity AuthCode."""
        return self.suite is not None and self.suite.integrity.number != 0

    def describe(self) -> str:
        if self.is_rmcpplus and self.suite is not None:
            return f"RMCP+ {self.suite}"
        return f"IPMI 1.5 auth {AuthType(self.auth_type).name}"

    def touch(self, now: float, remote: Address) -> None:
        self.last_activity = now
        self.remote = remote

    def next_v15_sequence(self) -> int:
        sequence = self.outbound_sequence
        self.outbound_sequence = _next_sequence(sequence)
        return sequence

    def next_rmcpplus_sequence(self, authenticated: bool) -> int:
        if authenticated:
            sequence = self.authenticated_out
            self.authenticated_out = _next_sequence(sequence)
        else:
            sequence = self.unauthenticated_out
            self.unauthenticated_out = _next_sequence(sequence)
        return sequence

    @staticmethod
    def _request_key(req: Request) -> tuple[int, int, int, int, int, bytes]:
        return (req.rq_seq, req.netfn, req.cmd, req.rq_addr, req.rq_lun, req.data)

    def cached_reply(self, req: Request, now: float) -> bytes | None:
        """The reply to an identical previous request (a client retransmit), if recent."""
        if (self._last_request == self._request_key(req)
                and now - self._last_request_at <= RETRANSMIT_WINDOW):
            return self._last_reply
        return None

    def remember(self, req: Request, reply: bytes, now: float) -> None:
        self._last_request = self._request_key(req)
        self._last_reply = reply
        self._last_request_at = now

    def __repr__(self) -> str:
        return (f"<Session {self.session_id:#010x} {self.state.value} "
                f"user={self.user_name!r} priv={self.privilege.name}>")


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
        self._queue(self._wrap(session, payload_type, payload), session.remote)

    # ================================================================= plumbing
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
            self._receive_v15(parse_ipmi15(body), addr, now)

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
        ctx = self.bmc.context(LAN_CHANNEL, privilege, session, now)
        reply = encode_response(req, self.bmc.execute(ctx, req.netfn, req.cmd, req.data))
        if session is not None:
            session.remember(req, reply, now)
        return reply

    # ================================================================= IPMI 1.5
    def _receive_v15(self, packet: Ipmi15Packet, addr: Address, now: float) -> None:
        if packet.session_id == 0:
            self._v15_sessionless(packet, addr, now)
            return
        session = self._sessions.get(packet.session_id)
        if session is not None and session.active and not session.is_rmcpplus:
            self._v15_in_session(session, packet, addr, now)
            return
        challenge = self._challenges.get(packet.session_id)
        if challenge is not None:
            self._v15_activate(challenge, packet, addr, now)
            return
        raise PacketError(f"IPMI 1.5 packet for unknown session {packet.session_id:#010x}")

    def _v15_sessionless(self, packet: Ipmi15Packet, addr: Address, now: float) -> None:
        if packet.auth_type != AuthType.NONE:
            raise PacketError("session-less IPMI 1.5 packet with an authtype")
        req = decode_request(packet.message)
        if req.netfn & 1:
            raise MessageError("session-less packet is a response")
        if (req.netfn, req.cmd) == (NetFn.APP, CMD_GET_SESSION_CHALLENGE):
            result = self._get_session_challenge(req.data, addr, now)
            reply = encode_response(req, result)
        else:
            reply = self._run_request(packet.message, Privilege.NONE, None, now)
        self._queue(build_ipmi15(AuthType.NONE, 0, 0, reply), addr)

    def _v15_auth_type_enabled(self, auth_type: int, privilege: Privilege | None = None) -> bool:
        if auth_type not in (AuthType.NONE, AuthType.MD2, AuthType.MD5, AuthType.PASSWORD):
            return False
        levels = [privilege] if privilege is not None else [
            Privilege.CALLBACK, Privilege.USER, Privilege.OPERATOR, Privilege.ADMINISTRATOR]
        return any(self.bmc.auth_types_enabled(level) >> auth_type & 1 for level in levels)

    def _get_session_challenge(self, data: bytes, addr: Address, now: float) -> bytes:
        """06 39: look the user up, hand out a temporary session ID and a 16-byte challenge."""
        if len(data) != 1 + MAX_USER_NAME:
            return bytes([Cc.REQUEST_DATA_LENGTH_INVALID])
        auth_type = data[0] & 0x0F
        if not self._v15_auth_type_enabled(auth_type):
            self._refused(addr, f"IPMI 1.5 auth type {auth_type} is not enabled")
            return bytes([Cc.INVALID_DATA_FIELD])
        name = data[1:].rstrip(b"\x00")
        user = self.bmc.find_user(name)
        if user is None:
            self._refused(addr, f"unknown user {name.decode(errors='replace')!r}")
            return bytes([CC_NULL_USER_DISABLED if not name else CC_INVALID_USER_NAME])
        self._make_room_for_half_open()
        temp_sid = self._new_session_id()
        challenge = os.urandom(16)
        self._challenges[temp_sid] = Challenge(temp_sid, challenge, user.user_id, name,
                                               auth_type, addr, now)
        return bytes([Cc.OK]) + _le32(temp_sid) + challenge

    def _v15_activate(self, challenge: Challenge, packet: Ipmi15Packet, addr: Address,
                      now: float) -> None:
        """06 3A on a temporary session ID: verify, then create the session."""
        attempt = (packet.sequence, packet.authcode, packet.message)
        if challenge.answered is not None:
            answered_attempt, reply_datagram = challenge.answered
            if attempt != answered_attempt:
                raise PacketError("temporary session ID already used")
            self._queue(reply_datagram, addr)  # the client lost our reply and asked again
            return
        req = decode_request(packet.message)
        if (req.netfn, req.cmd) != (NetFn.APP, CMD_ACTIVATE_SESSION):
            raise PacketError("only Activate Session may use a temporary session ID")
        user = self.bmc.state.users.get(challenge.user_id)
        if user is None or not user.enabled or user.name != challenge.user_name:
            del self._challenges[challenge.temp_sid]
            self._refused(addr, "user changed since Get Session Challenge")
            return
        if packet.auth_type != challenge.auth_type or not crypto.v15_authcode_ok(
                packet.auth_type, user.password, packet.session_id, packet.sequence,
                packet.message, packet.authcode):
            # One try per challenge. The refusal is not signed with the real password (that
            # would hand out a hash to guess it offline): its authcode field is all zeros.
            # ipmitool reads the completion code and fails at once instead of retrying for
            # seconds; clients that check authcodes (FreeIPMI) see a bad packet and time out.
            del self._challenges[challenge.temp_sid]
            self._refused(addr, f"bad password for user {user.name.decode(errors='replace')!r}"
                          " (IPMI 1.5 authcode mismatch)")
            reply = encode_response(req, bytes([Cc.INSUFFICIENT_PRIVILEGE]))
            zeros = bytes(16) if packet.auth_type != AuthType.NONE else b""
            self._queue(build_ipmi15(packet.auth_type, 0, challenge.temp_sid, reply, zeros), addr)
            return
        result, session = self._v15_check_activation(challenge, req.data, user, addr, now)
        # The reply carries the temporary session ID (FreeIPMI checks it) and, when a session
        # was made, the console's initial outbound sequence number as its first sequence.
        sequence = session.next_v15_sequence() if session is not None else 0
        reply = encode_response(req, result)
        authcode = crypto.v15_authcode(packet.auth_type, user.password, challenge.temp_sid,
                                       sequence, reply)
        datagram = build_ipmi15(packet.auth_type, sequence, challenge.temp_sid, reply, authcode)
        challenge.answered = (attempt, datagram)  # kept until it expires, for retransmits
        self._queue(datagram, addr)

    def _v15_check_activation(self, challenge: Challenge, data: bytes, user: UserRecord,
                              addr: Address, now: float) -> tuple[bytes, Session | None]:
        """The Activate Session checks after authentication; (cc + data, new session)."""
        if len(data) != 22:
            return bytes([Cc.REQUEST_DATA_LENGTH_INVALID]), None
        auth_type, requested = data[0] & 0x0F, data[1] & 0x0F
        if auth_type != challenge.auth_type or not 1 <= requested <= Privilege.OEM:
            return bytes([Cc.INVALID_DATA_FIELD]), None
        if not hmac.compare_digest(data[2:18], challenge.challenge):
            self._refused(addr, "Activate Session with a wrong challenge string")
            return bytes([Cc.INVALID_DATA_FIELD]), None
        privilege = Privilege(requested)
        limit = self.bmc.user_privilege_limit(user)
        if privilege > limit:
            self._refused(addr, f"user {user.name.decode(errors='replace')!r} asked for "
                          f"{privilege.name}, limit is {limit.name}")
            return bytes([CC_PRIVILEGE_EXCEEDS_LIMIT]), None
        if not self._v15_auth_type_enabled(auth_type, privilege):
            self._refused(addr, f"auth type {auth_type} not enabled for {privilege.name}")
            return bytes([Cc.INVALID_DATA_FIELD]), None
        outbound = _u32(data[18:22])
        if outbound == 0:
            return bytes([CC_INVALID_SESSION_ID]), None
        if self._active_count() >= int(self._security.max_sessions):
            self._refused(addr, "session table full")
            return bytes([CC_NO_SESSION_SLOT]), None
        session = Session(self, self._new_session_id(), addr, auth_type, now)
        session.user_id, session.user_name = user.user_id, user.name
        session.password = user.password
        session.max_privilege = privilege
        session.privilege = min(Privilege.USER, privilege)  # IPMI 1.5 sessions start at USER
        inbound = int.from_bytes(os.urandom(4), "little") or 1
        session.inbound = SequenceWindow(V15_SEQ_WINDOW, inbound)
        session.outbound_sequence = outbound
        self._sessions[session.session_id] = session
        self._activate(session, now)
        self._opened(session)
        return (bytes([Cc.OK, auth_type]) + _le32(session.session_id) + _le32(inbound)
                + bytes([privilege])), session

    def _v15_in_session(self, session: Session, packet: Ipmi15Packet, addr: Address,
                        now: float) -> None:
        if packet.auth_type != session.auth_type:
            raise PacketError(f"authtype {packet.auth_type} is not the session's "
                              f"{session.auth_type}")
        if not crypto.v15_authcode_ok(session.auth_type, session.password, packet.session_id,
                                      packet.sequence, packet.message, packet.authcode):
            raise PacketError(f"bad authcode on session {session.session_id:#010x}")
        if not session.inbound.accept(packet.sequence):
            raise PacketError(f"sequence {packet.sequence:#010x} replayed or out of window")
        session.touch(now, addr)
        reply = self._run_request(packet.message, session.privilege, session, now)
        sequence = session.next_v15_sequence()
        authcode = crypto.v15_authcode(session.auth_type, session.password, session.session_id,
                                       sequence, reply)
        self._queue(build_ipmi15(session.auth_type, sequence, session.session_id, reply,
                                 authcode), addr)

    # ================================================================= RMCP+
    def _receive_rmcpplus(self, packet: RmcpPlusPacket, addr: Address, now: float) -> None:
        kind = packet.payload_type
        if kind in SETUP_PAYLOADS:
            setup = {
                PayloadType.OPEN_SESSION_REQUEST: self._open_session,
                PayloadType.RAKP1: self._rakp1,
                PayloadType.RAKP3: self._rakp3,
            }[kind]
            if packet.authenticated or packet.encrypted:
                raise PacketError("session setup payload marked authenticated/encrypted")
            setup(packet, addr, now)
            return
        if packet.session_id == 0:
            self._rmcpplus_sessionless(packet, addr, now)
            return
        session = self._sessions.get(packet.session_id)
        if session is None or not session.is_rmcpplus or not session.active:
            raise PacketError(f"RMCP+ packet for unknown or inactive session "
                              f"{packet.session_id:#010x}")
        payload = self._unwrap(session, packet)
        session.touch(now, addr)
        if kind == PayloadType.IPMI:
            reply = self._run_request(payload, session.privilege, session, now)
            self._queue(self._wrap(session, PayloadType.IPMI, reply), addr)
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

    def _unwrap(self, session: Session, packet: RmcpPlusPacket) -> bytes:
        """Check integrity, sequence and confidentiality; the plain payload or PacketError."""
        suite, keys = session.suite, session.keys
        assert suite is not None and keys is not None
        signed = suite.integrity.number != crypto.INTEGRITY_NONE
        sealed = suite.confidentiality.number != crypto.CONFIDENTIALITY_NONE
        if packet.authenticated != signed or packet.encrypted != sealed:
            log.info("%s: session %#010x: packet %s/%s does not match %s; dropped", self._name,
                     session.session_id,
                     "authenticated" if packet.authenticated else "unauthenticated",
                     "encrypted" if packet.encrypted else "clear", suite)
            raise PacketError("protection flags do not match the cipher suite")
        if signed:
            covered, authcode = packet.split_trailer(suite.integrity.authcode_len)
            if not crypto.integrity_ok(suite.integrity, keys, covered, authcode):
                raise PacketError(f"bad AuthCode on session {session.session_id:#010x}")
        window = session.authenticated_window if signed else session.unauthenticated_window
        if not window.accept(packet.sequence):
            raise PacketError(f"sequence {packet.sequence:#010x} replayed or out of window")
        if sealed:
            return crypto.aes_decrypt(keys.aes_key, packet.payload)
        return packet.payload

    def _wrap(self, session: Session, payload_type: int, payload: bytes) -> bytes:
        suite, keys = session.suite, session.keys
        assert suite is not None and keys is not None
        signed = suite.integrity.number != crypto.INTEGRITY_NONE
        sealed = suite.confidentiality.number != crypto.CONFIDENTIALITY_NONE
        body = crypto.aes_encrypt(keys.aes_key, payload) if sealed else payload
        sign = (lambda data: crypto.integrity_authcode(suite.integrity, keys, data)) \
            if signed else None
        sequence = session.next_rmcpplus_sequence(signed)
        return build_rmcpplus(payload_type, session.console_sid, sequence, body,
                              encrypted=sealed, sign=sign)

    def _setup_reply(self, payload_type: int, payload: bytes, addr: Address) -> bytes:
        datagram = build_rmcpplus(payload_type, 0, 0, payload)
        self._queue(datagram, addr)
        return datagram

    # ----------------------------------------------------------------- Open Session
    def _open_session(self, packet: RmcpPlusPacket, addr: Address, now: float) -> None:
        data = packet.payload
        if not data:
            raise PacketError("empty Open Session request")
        tag = data[0]
        console_sid = _u32(data[4:8]) if len(data) >= 8 else 0

        def refuse(status: RmcpStatus, why: str) -> None:
            self._refused(addr, f"Open Session: {why} (status {status:#04x})")
            self._setup_reply(PayloadType.OPEN_SESSION_RESPONSE,
                              bytes([tag, status, 0, 0]) + _le32(console_sid), addr)

        if packet.session_id != 0:
            return refuse(RmcpStatus.INVALID_SESSION_ID, "non-zero session ID in the header")
        if len(data) < OPEN_REQUEST_LEN:
            return refuse(RmcpStatus.ILLEGAL_PARAMETER, f"request is {len(data)} bytes")
        requested = data[1] & 0x0F
        if requested > Privilege.OEM:
            return refuse(RmcpStatus.ILLEGAL_PARAMETER, f"privilege {requested}")
        if console_sid == 0:
            return refuse(RmcpStatus.INVALID_SESSION_ID, "remote console session ID 0")
        choice = self._choose_suite(data)
        if isinstance(choice, RmcpStatus):
            return refuse(choice, "no enabled cipher suite matches the proposal "
                          f"{data[12] & 0x3F}/{data[20] & 0x3F}/{data[28] & 0x3F}")
        limit = min(self.bmc.channel_privilege_limit(LAN_CHANNEL),
                    self.bmc.cipher_suite_max_privilege(choice.suite_id))
        if limit == Privilege.NONE:
            return refuse(RmcpStatus.NO_CIPHER_SUITE_MATCH, f"{choice} is disabled")
        if self._active_count() >= int(self._security.max_sessions):
            return refuse(RmcpStatus.INSUFFICIENT_RESOURCES, "session table full")
        self._make_room_for_half_open()
        session = Session(self, self._new_session_id(), addr, AuthType.RMCPPLUS, now)
        session.console_sid = console_sid
        session.suite = choice
        # "Highest" (0) is answered with what the channel and suite allow; xCAT needs >= 4.
        session.open_privilege = limit if requested == 0 else min(Privilege(requested), limit)
        self._sessions[session.session_id] = session
        response = (bytes([tag, RmcpStatus.NO_ERRORS, session.open_privilege, 0])
                    + _le32(console_sid) + _le32(session.session_id)
                    + _algorithm_record(0, choice.auth.number)
                    + _algorithm_record(1, choice.integrity.number)
                    + _algorithm_record(2, choice.confidentiality.number))
        self._setup_reply(PayloadType.OPEN_SESSION_RESPONSE, response, addr)
        return None

    def _choose_suite(self, data: bytes) -> CipherSuite | RmcpStatus:
        """Match the proposal (length-0 records are wildcards) against the enabled suites."""
        proposal: list[int | None] = []
        for index, offset in enumerate((8, 16, 24)):
            record = data[offset:offset + 8]
            if record[0] != index:
                return RmcpStatus.ILLEGAL_PARAMETER
            if record[3] == 0:
                proposal.append(None)
            elif record[3] == 8:
                proposal.append(record[4] & 0x3F)
            else:
                return RmcpStatus.ILLEGAL_PARAMETER
        enabled_ids = set(self.bmc.cipher_suites())
        enabled = [crypto.CIPHER_SUITES[i] for i in SUITE_PREFERENCE if i in enabled_ids]
        unknown = (RmcpStatus.INVALID_AUTHENTICATION_ALGORITHM,
                   RmcpStatus.INVALID_INTEGRITY_ALGORITHM,
                   RmcpStatus.INVALID_CONFIDENTIALITY_ALGORITHM)
        for position, wanted in enumerate(proposal):
            if wanted is not None and all(s.algorithms[position] != wanted for s in enabled):
                return unknown[position]
        for suite in enabled:
            if all(w is None or w == a for w, a in zip(proposal, suite.algorithms, strict=True)):
                return suite
        return RmcpStatus.NO_CIPHER_SUITE_MATCH

    # ----------------------------------------------------------------- RAKP 1 -> 2
    def _rakp1(self, packet: RmcpPlusPacket, addr: Address, now: float) -> None:
        data = packet.payload
        if len(data) < 8:
            raise PacketError(f"RAKP 1 too short ({len(data)} bytes)")
        tag = data[0]
        session = self._sessions.get(_u32(data[4:8]))
        if session is None or not session.is_rmcpplus:
            self._rakp_error(PayloadType.RAKP2, tag, RmcpStatus.INVALID_SESSION_ID, 0, addr)
            return
        if session.state is SessionState.RAKP2_SENT and data == session.last_rakp1:
            self._queue(session.rakp2_reply, addr)  # a retransmitted RAKP 1: same answer
            return
        if session.state is not SessionState.OPENED:
            log.debug("%s: RAKP 1 out of order for session %#010x (%s)", self._name,
                      session.session_id, session.state.value)
            self._rakp_error(PayloadType.RAKP2, tag, RmcpStatus.INVALID_SESSION_ID,
                             session.console_sid, addr)
            return
        status, why = self._rakp1_checks(session, data)
        if status is not RmcpStatus.NO_ERRORS:
            self._refused(addr, f"RAKP 1: {why} (status {status:#04x})")
            self._rakp_error(PayloadType.RAKP2, tag, status, session.console_sid, addr)
            self._discard(session)
            return
        assert session.exchange is not None
        reply = (bytes([tag, RmcpStatus.NO_ERRORS, 0, 0]) + _le32(session.console_sid)
                 + session.exchange.bmc_random + session.exchange.guid
                 + session.exchange.rakp2_authcode(session.kuid))
        session.state = SessionState.RAKP2_SENT
        session.last_rakp1 = data
        session.rakp2_reply = self._setup_reply(PayloadType.RAKP2, reply, addr)
        session.touch(now, addr)

    def _rakp1_checks(self, session: Session, data: bytes) -> tuple[RmcpStatus, str]:
        """Validate RAKP 1, look the user up and fill in the exchange; (status, why)."""
        if len(data) < RAKP1_FIXED_LEN:
            return RmcpStatus.ILLEGAL_PARAMETER, f"message is {len(data)} bytes"
        role, name_length = data[24], data[27]
        if name_length > MAX_USER_NAME or len(data) < RAKP1_FIXED_LEN + name_length:
            return RmcpStatus.INVALID_NAME_LENGTH, f"user name length {name_length}"
        name = data[RAKP1_FIXED_LEN:RAKP1_FIXED_LEN + name_length]
        shown = name.decode(errors="replace")
        requested = role & 0x0F
        if not Privilege.CALLBACK <= requested <= Privilege.OEM:
            return RmcpStatus.INVALID_ROLE, f"role byte {role:#04x}"
        user = self.bmc.find_user(name)  # name-only and name+role lookups both go by name
        if user is None:
            return RmcpStatus.UNAUTHORIZED_NAME, f"unknown user {shown!r}"
        user_limit = self.bmc.user_privilege_limit(user)
        if user_limit == Privilege.NONE:
            return RmcpStatus.UNAUTHORIZED_NAME, f"user {shown!r} has no LAN access"
        assert session.suite is not None
        limit = min(Privilege(requested), user_limit,
                    self.bmc.cipher_suite_max_privilege(session.suite.suite_id))
        if limit == Privilege.NONE:
            return RmcpStatus.INVALID_ROLE, f"no privilege left for {shown!r}"
        session.user_id, session.user_name = user.user_id, bytes(name)
        session.max_privilege = limit
        session.kuid = crypto.user_key(user.password)
        session.exchange = RakpExchange(
            auth=session.suite.auth, console_sid=session.console_sid,
            bmc_sid=session.session_id, console_random=bytes(data[8:24]),
            bmc_random=os.urandom(16), guid=bytes(self.bmc.guid), role=role,
            user_name=bytes(name))
        return RmcpStatus.NO_ERRORS, ""

    # ----------------------------------------------------------------- RAKP 3 -> 4
    def _rakp3(self, packet: RmcpPlusPacket, addr: Address, now: float) -> None:
        data = packet.payload
        if len(data) < 8:
            raise PacketError(f"RAKP 3 too short ({len(data)} bytes)")
        tag, status = data[0], data[1]
        session = self._sessions.get(_u32(data[4:8]))
        if session is None or not session.is_rmcpplus:
            self._rakp_error(PayloadType.RAKP4, tag, RmcpStatus.INVALID_SESSION_ID, 0, addr)
            return
        if session.active and data == session.last_rakp3:
            self._queue(session.rakp4_reply, addr)  # a retransmitted RAKP 3: same answer
            return
        if session.state is not SessionState.RAKP2_SENT:
            log.debug("%s: RAKP 3 out of order for session %#010x (%s)", self._name,
                      session.session_id, session.state.value)
            self._rakp_error(PayloadType.RAKP4, tag, RmcpStatus.INVALID_SESSION_ID,
                             session.console_sid, addr)
            return
        exchange = session.exchange
        assert exchange is not None and session.suite is not None
        user = session.user_name.decode(errors="replace")
        if status != RmcpStatus.NO_ERRORS:
            self._refused(addr, f"console ended the login of {user!r} with status {status:#04x}")
            self._discard(session)
            return
        if not hmac.compare_digest(bytes(data[8:]), exchange.rakp3_authcode(session.kuid)):
            self._refused(addr, f"bad password for user {user!r} (RAKP 3 mismatch)")
            self._rakp_error(PayloadType.RAKP4, tag, RmcpStatus.INVALID_INTEGRITY_CHECK_VALUE,
                             session.console_sid, addr)
            self._discard(session)
            return
        if self._active_count() >= int(self._security.max_sessions):
            self._refused(addr, "session table full")
            self._rakp_error(PayloadType.RAKP4, tag, RmcpStatus.INSUFFICIENT_RESOURCES,
                             session.console_sid, addr)
            self._discard(session)
            return
        sik = exchange.session_integrity_key(session.kuid)
        session.keys = crypto.derive_keys(session.suite.auth, sik, session.kuid)
        reply = (bytes([tag, RmcpStatus.NO_ERRORS, 0, 0]) + _le32(session.console_sid)
                 + exchange.rakp4_icv(sik))
        session.privilege = session.max_privilege  # RMCP+ starts at the negotiated role
        session.last_rakp3 = data
        session.rakp4_reply = self._setup_reply(PayloadType.RAKP4, reply, addr)
        session.touch(now, addr)
        self._activate(session, now)
        self._opened(session)

    def _rakp_error(self, payload_type: int, tag: int, status: RmcpStatus, console_sid: int,
                    addr: Address) -> None:
        self._setup_reply(payload_type, bytes([tag, status, 0, 0]) + _le32(console_sid), addr)


def _algorithm_record(kind: int, number: int) -> bytes:
    """One Open Session algorithm payload: type, 2 reserved, length 8, algorithm, 3 reserved."""
    return bytes([kind, 0, 0, 8, number, 0, 0, 0])


def _fmt(addr: tuple) -> str:
    try:
        return f"{addr[0]}:{addr[1]}"
    except (IndexError, TypeError):
        return repr(addr)
