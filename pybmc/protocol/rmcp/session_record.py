"""What the BMC knows about one session or pending IPMI 1.5 login; no protocol logic here."""

from __future__ import annotations

from collections.abc import Callable

from pybmc.protocol.rmcp.crypto import CipherSuite, RakpExchange, SessionKeys
from pybmc.protocol.rmcp.login_state import LoginEvent, SessionState, advance
from pybmc.protocol.rmcp.sequence import (
    V15_SEQ_WINDOW,
    V20_SEQ_WINDOW,
    SequenceWindow,
    next_sequence,
)
from pybmc.wire.codes import LAN_CHANNEL, AuthType, Privilege
from pybmc.wire.message import Request

__all__ = ["MAX_USER_NAME", "Address", "Challenge", "Session", "SessionState"]

Address = tuple[str, int]

RETRANSMIT_WINDOW = 5.0  # a repeated request within this gets the cached reply
MAX_USER_NAME = 16


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

    def __init__(self, session_id: int, remote: Address, auth_type: int, now: float,
                 closer: Callable[[Session, str], None]) -> None:
        self._closer = closer  # the session table's close: Close Session ends it there
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
        # Bad-password accounting (the host's LoginGuard): when RAKP 2 went out, whether this
        # login's outcome was reported already, and whether the user was locked out at RAKP 1
        # (its RAKP 2 was then keyed with random bytes, so that no password can match).
        self.rakp2_at = 0.0
        self.attempt_reported = False
        self.locked_out = False
        # The RAKP 1 and RAKP 3 answered (by request payload type): (request, reply payload),
        # so that a retransmitted request gets the same answer.
        self.answered: dict[int, tuple[bytes, bytes]] = {}
        # Retransmit cache: the previous request and the reply message it got.
        self._last_request: tuple[int, int, int, int, int, bytes] | None = None
        self._last_reply = b""
        self._last_request_at = 0.0

    # ----------------------------------------------------------------- SessionView
    def set_privilege(self, privilege: Privilege) -> None:
        self.privilege = Privilege(privilege)

    def close(self) -> None:
        self._closer(self, "close session")

    def advance(self, event: LoginEvent) -> None:
        """Move along the login state table (pybmc.protocol.rmcp.login_state)."""
        self.state = advance(self.session_id, self.state, event)

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
        """A packet that passed the session's checks arrived from `remote`. Only a packet
        whose integrity was checked may move the session's reply address: with no AuthCode
        (RMCP+ integrity none, IPMI 1.5 authtype none) anyone who saw the session ID could
        redirect the replies."""
        self.last_activity = now
        if self.signed:
            self.remote = remote

    @property
    def signed(self) -> bool:
        """Whether every packet of this session carries a checked AuthCode."""
        if self.is_rmcpplus:
            return self.authenticated
        return self.auth_type != AuthType.NONE

    def next_v15_sequence(self) -> int:
        sequence = self.outbound_sequence
        self.outbound_sequence = next_sequence(sequence)
        return sequence

    def next_rmcpplus_sequence(self, authenticated: bool) -> int:
        if authenticated:
            sequence = self.authenticated_out
            self.authenticated_out = next_sequence(sequence)
        else:
            sequence = self.unauthenticated_out
            self.unauthenticated_out = next_sequence(sequence)
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
