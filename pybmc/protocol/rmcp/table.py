"""The session table of one BMC: sessions, pending logins, outbox and events, and their upkeep.

The login modules (ipmi15.py, rakp.py) and the router (session.py) share this table; it holds
no protocol logic of its own beyond the bounds every login obeys (session and half-open
limits, per-user limits and room for higher privilege, timeouts, reporting bad passwords to
the host's lockout) and running one IPMI request for a session through the host.
"""

from __future__ import annotations

import logging
from enum import Enum

from pybmc.protocol.rmcp.events import SessionClosed, SessionEvent, SessionOpened
from pybmc.protocol.rmcp.host import LoginRequests, SessionHost
from pybmc.protocol.rmcp.login_state import LoginEvent, SessionState
from pybmc.protocol.rmcp.session_record import Address, Challenge, Session
from pybmc.protocol.rmcp.throttle import LoginThrottle
from pybmc.wire.codes import Privilege
from pybmc.wire.message import MessageError, decode_request, encode_response
from pybmc.wire.ratelog import RateLimitedLog

log = logging.getLogger("pybmc.session")

HALF_OPEN_TIMEOUT = 30.0  # an unfinished login (or an unused challenge) is dropped after this
MAX_HANDLE = 0xFD
# A RAKP 2 with no RAKP 3 this long after counts as one bad password: ipmitool, pyghmi and
# FreeIPMI check the RAKP 2 HMAC themselves and, finding the password wrong, send nothing.
RAKP3_WAIT = 5.0


class NoRoom(Enum):
    """Why a login that proved its password gets no session."""

    TABLE_FULL = "session table full"
    USER_LIMIT = "the user's session limit is reached"


class SessionTable:
    """All sessions of one BMC and what waits to leave: datagrams and events."""

    def __init__(self, host: SessionHost) -> None:
        self.host = host
        self.name = host.name
        self.sessions_by_id: dict[int, Session] = {}  # by BMC session ID, half-open and active
        self.challenges: dict[int, Challenge] = {}  # IPMI 1.5, by temporary session ID
        self._outbox: list[tuple[bytes, Address]] = []
        self._events: list[SessionEvent] = []
        self._next_handle = 1
        self.throttle = LoginThrottle(host.security.login_rate, host.security.login_burst)
        # Refusals and drops a peer can cause at will are logged through this, per source.
        self.log_limiter = RateLimitedLog(log, self.name)
        # The `now` of the datagram or timer being handled: refused() logs with it, so the
        # login code need not pass it down to every refusal.
        self.now = 0.0

    # ----------------------------------------------------------------- outputs
    def queue(self, datagram: bytes, addr: Address) -> None:
        self._outbox.append((datagram, addr))

    def datagrams_to_send(self) -> list[tuple[bytes, Address]]:
        out, self._outbox = self._outbox, []
        return out

    def events_to_process(self) -> list[SessionEvent]:
        events, self._events = self._events, []
        return events

    # ----------------------------------------------------------------- limits and timers
    @property
    def half_open_timeout(self) -> float:
        return min(HALF_OPEN_TIMEOUT, float(self.host.security.session_timeout))

    def deadline(self, session: Session) -> float:
        """When the timer must next look at the session: its expiry, or the moment its
        unanswered RAKP 2 counts as a bad password."""
        if session.active:
            return session.last_activity + float(self.host.security.session_timeout)
        expiry = self.half_open_expiry(session)
        if session.state is SessionState.RAKP2_SENT and not session.attempt_reported:
            return min(expiry, session.rakp2_at + RAKP3_WAIT)
        return expiry

    def half_open_expiry(self, session: Session) -> float:
        return session.last_activity + self.half_open_timeout

    def active_count(self) -> int:
        return sum(1 for s in self.sessions_by_id.values() if s.active)

    def table_full(self) -> bool:
        return self.active_count() >= int(self.host.security.max_sessions)

    def new_session_id(self) -> int:
        while True:
            candidate = int.from_bytes(self.host.random(4), "little")
            if (candidate and candidate not in self.sessions_by_id
                    and candidate not in self.challenges):
                return candidate

    def new_session(self, remote: Address, auth_type: int, now: float) -> Session:
        session = Session(self.new_session_id(), remote, auth_type, now, self.close_session)
        self.sessions_by_id[session.session_id] = session
        return session

    def _new_handle(self) -> int:
        used = {s.handle for s in self.sessions_by_id.values() if s.active}
        for _ in range(MAX_HANDLE):
            handle = self._next_handle
            self._next_handle = handle % MAX_HANDLE + 1
            if handle not in used:
                return handle
        raise RuntimeError("no free session handle")  # max_sessions <= 63 makes this impossible

    def has_room_for(self, privilege: Privilege) -> bool:
        """Whether a login at this privilege could get a session (Open Session asks this
        before the user is known): a free slot, or a session of lower privilege to evict."""
        return not self.table_full() or any(
            s.active and s.max_privilege < privilege for s in self.sessions_by_id.values())

    def make_room(self, user_id: int, privilege: Privilege, channel: int) -> NoRoom | None:
        """Room for one more active session of an authenticated user, or why there is none.

        The user's own limit (Set User Access) comes first. A full table gives way to a
        higher privilege: the active session of the lowest maximum privilege below it,
        idle the longest, is closed (docs/security.md, "Sessions"). Only a login that proved
        its password gets here, so nobody can evict a session without an account."""
        active = [s for s in self.sessions_by_id.values() if s.active]
        user = self.host.accounts.get(user_id)
        limit = self.host.accounts.session_limit(user, channel) if user is not None else 0
        if limit and sum(1 for s in active
                         if s.user_id == user_id and s.channel == channel) >= limit:
            return NoRoom.USER_LIMIT
        if len(active) < int(self.host.security.max_sessions):
            return None
        lower = [s for s in active if s.max_privilege < privilege]
        if not lower:
            return NoRoom.TABLE_FULL
        victim = min(lower, key=lambda s: (s.max_privilege, s.last_activity))
        log.info("%s: session %#010x of user %r (%s) evicted to make room for a login at %s",
                 self.name, victim.session_id, victim.user_name.decode(errors="replace"),
                 victim.max_privilege.name, privilege.name)
        self.close_session(victim, f"evicted for a login at {privilege.name}")
        return None

    # ----------------------------------------------------------------- bad passwords
    def report_failure(self, session: Session, now: float) -> None:
        """The login of `session` failed after its RAKP 2: one bad password, reported once.
        A login that began while the user was locked out proves nothing and is not counted."""
        if session.attempt_reported:
            return
        session.attempt_reported = True
        if session.locked_out or not session.user_id:
            return
        self.host.guard.record_failure(session.user_id, session.channel, now)

    def report_success(self, session: Session, now: float) -> None:
        session.attempt_reported = True
        self.host.guard.record_success(session.user_id, session.channel, now)

    def rakp2_unanswered(self, session: Session, now: float) -> None:
        """RAKP3_WAIT passed after RAKP 2 with no RAKP 3: the client found the password
        wrong. The half-open session itself lives on until it expires."""
        log.debug("%s: no RAKP 3 for session %#010x of user %r within %g s", self.name,
                  session.session_id, session.user_name.decode(errors="replace"), RAKP3_WAIT)
        self.report_failure(session, now)

    def make_room_for_half_open(self, now: float) -> None:
        """Half-open logins are cheap to abandon (xCAT does); evict the oldest beyond the bound."""
        limit = max(8, 2 * int(self.host.security.max_sessions))
        while True:
            half_open: list[tuple[float, Session | Challenge]] = [
                (s.created, s) for s in self.sessions_by_id.values() if not s.active]
            half_open += [(c.created, c) for c in self.challenges.values()]
            if len(half_open) < limit:
                return
            _, oldest = min(half_open, key=lambda item: item[0])
            if isinstance(oldest, Session):
                self.abandoned(oldest, "evicted", now)
                self.discard(oldest, LoginEvent.EVICTED)
            else:
                del self.challenges[oldest.temp_sid]
            log.debug("%s: evicted the oldest half-open login", self.name)

    # ----------------------------------------------------------------- life cycle
    def activate(self, session: Session, event: LoginEvent, now: float) -> None:
        session.advance(event)
        session.handle = self._new_handle()
        session.last_activity = now
        log.info("%s: session %#010x opened: user %r, %s, %s, from %s", self.name,
                 session.session_id, session.user_name.decode(errors="replace"),
                 session.privilege.name, session.describe(), fmt_addr(session.remote))
        self._events.append(SessionOpened(session))

    def discard(self, session: Session, event: LoginEvent) -> None:
        self.sessions_by_id.pop(session.session_id, None)
        if session.state is not SessionState.CLOSED:
            session.advance(event)

    def close_session(self, session: Session, reason: str,
                      event: LoginEvent = LoginEvent.CLOSED) -> None:
        """End one session now. A reply already being built for it is still sent."""
        if self.sessions_by_id.get(session.session_id) is not session:
            return
        was_active = session.active
        self.discard(session, event)
        if was_active:
            log.info("%s: session %#010x closed (%s): user %r from %s", self.name,
                     session.session_id, reason, session.user_name.decode(errors="replace"),
                     fmt_addr(session.remote))
            self._events.append(SessionClosed(session, reason))

    def abandoned(self, session: Session, how: str, now: float) -> None:
        """A half-open login went away. After RAKP 2 that usually means the client found the
        BMC's HMAC wrong: a wrong password (ipmitool then stops without sending RAKP 3)."""
        if session.state is SessionState.RAKP2_SENT:
            self.report_failure(session, now)
            self.refused(session.remote, f"login of user "
                         f"{session.user_name.decode(errors='replace')!r} abandoned after "
                         f"RAKP 2, {how} (wrong password on the client?)")
        else:
            log.debug("%s: half-open session %#010x from %s %s", self.name,
                      session.session_id, fmt_addr(session.remote), how)

    def refused(self, addr: Address, why: str) -> None:
        self.log_limiter.log(self.now, (str(addr[0]), "login refused"), logging.INFO,
                             "%s: login from %s refused: %s", self.name, fmt_addr(addr), why)

    def login_allowed(self, addr: Address, now: float, request: str) -> bool:
        """Take a token from the source's login bucket (throttle.py); False: drop `request`.

        A throttled request is dropped without an answer, as a real BMC drops what it has no
        time for. A client that was briefly over the limit gets through when it retransmits
        (ipmitool, FreeIPMI and pyghmi all do, after 1-2 s), while an Open Session answered
        with status 0x01 (insufficient resources) would make ipmitool give up at once; and a
        harvester learns nothing from silence but that the BMC is slow."""
        if self.throttle.allow(str(addr[0]), now):
            return True
        self.log_limiter.log(
            now, (str(addr[0]), "login throttled"), logging.WARNING,
            "%s: %s from %s dropped: over %g login requests/s (burst %d) from this address; "
            "possible RAKP 2 hash harvesting or user name probing", self.name, request,
            fmt_addr(addr), self.throttle.rate, int(self.throttle.burst))
        return False

    # ----------------------------------------------------------------- requests
    def run_request(self, message: bytes, privilege: Privilege, session: Session | None,
                    now: float, login: LoginRequests | None = None) -> bytes:
        """Decode, execute and encode one IPMI request (MessageError when it is not one)."""
        req = decode_request(message)
        if req.netfn & 1:
            raise MessageError(f"netfn {req.netfn:#04x} is a response")
        if session is not None:
            cached = session.cached_reply(req, now)
            if cached is not None:
                log.debug("%s: retransmitted request rqSeq %d cmd %#04x answered from cache",
                          self.name, req.rq_seq, req.cmd)
                return cached
        reply = encode_response(req, self.host.execute(req, privilege, session, now, login))
        if session is not None:
            session.remember(req, reply, now)
        return reply


def fmt_addr(addr: tuple) -> str:
    try:
        return f"{addr[0]}:{addr[1]}"
    except (IndexError, TypeError):
        return repr(addr)
