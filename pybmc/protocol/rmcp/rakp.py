"""RMCP+ login: Open Session, then the RAKP 1/2 and RAKP 3/4 exchanges (a strict state machine).

Open Session creates a half-open session with the chosen cipher suite; RAKP 1 names the user and
gets RAKP 2 (the BMC's HMAC); RAKP 3 proves the password and gets RAKP 4, which activates the
session with keys derived from the exchange.
"""

from __future__ import annotations

import hmac
import logging

from pybmc.protocol.rmcp import crypto
from pybmc.protocol.rmcp.crypto import CipherSuite, RakpExchange
from pybmc.protocol.rmcp.login_state import LoginEvent, SessionState, allows
from pybmc.protocol.rmcp.packet import PacketError, RmcpPlusPacket, build_rmcpplus
from pybmc.protocol.rmcp.sequence import le32, u32
from pybmc.protocol.rmcp.session_record import MAX_USER_NAME, Address, Session
from pybmc.protocol.rmcp.table import NoRoom, SessionTable
from pybmc.wire.codes import LAN_CHANNEL, AuthType, PayloadType, Privilege, RmcpStatus

log = logging.getLogger("pybmc.session")

RAKP_ERROR_REPLY_LEN = 8  # tag, status, 2 reserved, console session ID
RAKP1_FIXED_LEN = 28
OPEN_REQUEST_LEN = 32

# When an Open Session request leaves an algorithm to the BMC, the strongest enabled suite wins.
SUITE_PREFERENCE = (17, 3, 16, 8, 12, 2, 7, 11, 15, 1, 6, 0)


def _setup_reply(table: SessionTable, payload_type: int, payload: bytes,
                 addr: Address) -> bytes:
    datagram = build_rmcpplus(payload_type, 0, 0, payload)
    table.queue(datagram, addr)
    return datagram


# ----------------------------------------------------------------- Open Session
def open_session(table: SessionTable, packet: RmcpPlusPacket, addr: Address,
                 now: float) -> None:
    if not table.login_allowed(addr, now, "Open Session"):
        return
    data = packet.payload
    if not data:
        raise PacketError("empty Open Session request")
    tag = data[0]
    console_sid = u32(data[4:8]) if len(data) >= 8 else 0

    def refuse(status: RmcpStatus, why: str) -> None:
        table.refused(addr, f"Open Session: {why} (status {status:#04x})")
        _setup_reply(table, PayloadType.OPEN_SESSION_RESPONSE,
                     bytes([tag, status, 0, 0]) + le32(console_sid), addr)

    if packet.session_id != 0:
        return refuse(RmcpStatus.INVALID_SESSION_ID, "non-zero session ID in the header")
    if len(data) < OPEN_REQUEST_LEN:
        return refuse(RmcpStatus.ILLEGAL_PARAMETER, f"request is {len(data)} bytes")
    requested = data[1] & 0x0F
    if requested > Privilege.OEM:
        return refuse(RmcpStatus.ILLEGAL_PARAMETER, f"privilege {requested}")
    if console_sid == 0:
        return refuse(RmcpStatus.INVALID_SESSION_ID, "remote console session ID 0")
    choice = _choose_suite(table, data)
    if isinstance(choice, RmcpStatus):
        return refuse(choice, "no enabled cipher suite matches the proposal "
                      f"{data[12] & 0x3F}/{data[20] & 0x3F}/{data[28] & 0x3F}")
    limit = min(table.host.accounts.channel_privilege_limit(LAN_CHANNEL),
                table.host.channel.cipher_suite_max_privilege(choice.suite_id))
    if limit == Privilege.NONE:
        return refuse(RmcpStatus.NO_CIPHER_SUITE_MATCH, f"{choice} is disabled")
    # "Highest" (0) is answered with what the channel and suite allow; xCAT needs >= 4.
    open_privilege = limit if requested == 0 else min(Privilege(requested), limit)
    if not table.has_room_for(open_privilege):
        return refuse(RmcpStatus.INSUFFICIENT_RESOURCES, "session table full")
    table.make_room_for_half_open(now)
    session = table.new_session(addr, AuthType.RMCPPLUS, now)
    session.console_sid = console_sid
    session.suite = choice
    session.open_privilege = open_privilege
    response = (bytes([tag, RmcpStatus.NO_ERRORS, session.open_privilege, 0])
                + le32(console_sid) + le32(session.session_id)
                + _algorithm_record(0, choice.auth.number)
                + _algorithm_record(1, choice.integrity.number)
                + _algorithm_record(2, choice.confidentiality.number))
    _setup_reply(table, PayloadType.OPEN_SESSION_RESPONSE, response, addr)
    return None


def _choose_suite(table: SessionTable, data: bytes) -> CipherSuite | RmcpStatus:
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
    enabled_ids = set(table.host.channel.cipher_suites())
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
def rakp1(table: SessionTable, packet: RmcpPlusPacket, addr: Address, now: float) -> None:
    if not table.login_allowed(addr, now, "RAKP 1"):
        return  # each RAKP 2 is a password hash to guess offline: the bucket rations them
    data = packet.payload
    if len(data) < 8:
        raise PacketError(f"RAKP 1 too short ({len(data)} bytes)")
    tag = data[0]
    session = _step_session(table, PayloadType.RAKP1, data, addr, SessionState.RAKP2_SENT,
                            LoginEvent.RAKP1_ACCEPTED, now)
    if session is None:
        return
    status, why = _rakp1_checks(table, session, data)
    if status is not RmcpStatus.NO_ERRORS:
        table.refused(addr, f"RAKP 1: {why} (status {status:#04x})")
        _rakp_error(table, PayloadType.RAKP2, tag, status, session.console_sid, addr)
        table.discard(session, LoginEvent.RAKP1_REFUSED)
        return
    assert session.exchange is not None
    if table.host.guard.is_locked(session.user_id, session.channel, now):
        # A locked-out user is answered as if the password were wrong whatever it is: the
        # RAKP 2 HMAC is keyed with random bytes, so the client finds it wrong (and an
        # offline guess at the captured HMAC finds nothing).
        session.locked_out = True
        session.kuid = table.host.random(len(session.kuid))
        table.refused(addr, f"user {session.user_name.decode(errors='replace')!r} is locked "
                      "out (RAKP 2 answered as for a bad password)")
    reply = (bytes([tag, RmcpStatus.NO_ERRORS, 0, 0]) + le32(session.console_sid)
             + session.exchange.bmc_random + session.exchange.guid
             + session.exchange.rakp2_authcode(session.kuid))
    session.advance(LoginEvent.RAKP1_ACCEPTED)
    session.rakp2_at = now
    _setup_reply(table, PayloadType.RAKP2, reply, addr)
    session.answered[PayloadType.RAKP1] = (bytes(data), reply)
    session.touch(now, addr)


def _rakp1_checks(table: SessionTable, session: Session, data: bytes) -> tuple[RmcpStatus, str]:
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
    user = table.host.accounts.find_user(name)  # name-only and name+role lookups both go by name
    if user is None:
        return RmcpStatus.UNAUTHORIZED_NAME, f"unknown user {shown!r}"
    user_limit = table.host.accounts.privilege_limit(user)
    if user_limit == Privilege.NONE:
        return RmcpStatus.UNAUTHORIZED_NAME, f"user {shown!r} has no LAN access"
    assert session.suite is not None
    limit = min(Privilege(requested), user_limit,
                table.host.channel.cipher_suite_max_privilege(session.suite.suite_id))
    if limit == Privilege.NONE:
        return RmcpStatus.INVALID_ROLE, f"no privilege left for {shown!r}"
    session.user_id, session.user_name = user.user_id, bytes(name)
    session.max_privilege = limit
    session.kuid = crypto.user_key(user.password)
    session.exchange = RakpExchange(
        auth=session.suite.auth, console_sid=session.console_sid,
        bmc_sid=session.session_id, console_random=bytes(data[8:24]),
        bmc_random=table.host.random(16), guid=bytes(table.host.guid), role=role,
        user_name=bytes(name))
    return RmcpStatus.NO_ERRORS, ""


# ----------------------------------------------------------------- RAKP 3 -> 4
def rakp3(table: SessionTable, packet: RmcpPlusPacket, addr: Address, now: float) -> None:
    data = packet.payload
    if len(data) < 8:
        raise PacketError(f"RAKP 3 too short ({len(data)} bytes)")
    tag, status = data[0], data[1]
    session = _step_session(table, PayloadType.RAKP3, data, addr, SessionState.ACTIVE,
                            LoginEvent.RAKP3_ACCEPTED, now)
    if session is None:
        return
    exchange = session.exchange
    assert exchange is not None and session.suite is not None
    user = session.user_name.decode(errors="replace")
    if status != RmcpStatus.NO_ERRORS:
        # 0Fh from the console: RAKP 2's HMAC did not match its password, i.e. a wrong one.
        # Any refusal of our RAKP 2 is a failed login after it: a bad password for the lockout.
        table.refused(addr, f"wrong password for user {user!r} (the console found RAKP 2's "
                      "HMAC invalid)" if status == RmcpStatus.INVALID_INTEGRITY_CHECK_VALUE
                      else f"console ended the login of {user!r} with status {status:#04x}")
        table.report_failure(session, now)
        table.discard(session, LoginEvent.CONSOLE_ABORTED)
        return

    def refuse(rakp4_status: RmcpStatus, why: str) -> None:
        table.refused(addr, why)
        _rakp_error(table, PayloadType.RAKP4, tag, rakp4_status, session.console_sid, addr)
        table.discard(session, LoginEvent.RAKP3_REFUSED)

    matches = hmac.compare_digest(bytes(data[8:]), exchange.rakp3_authcode(session.kuid))
    if session.locked_out or (
            matches and table.host.guard.is_locked(session.user_id, session.channel, now)):
        # Locked out at RAKP 1, or since: refused exactly as a bad password, not counted.
        return refuse(RmcpStatus.INVALID_INTEGRITY_CHECK_VALUE,
                      f"user {user!r} is locked out (refused as a bad password)")
    if not matches:
        table.report_failure(session, now)
        return refuse(RmcpStatus.INVALID_INTEGRITY_CHECK_VALUE,
                      f"bad password for user {user!r} (RAKP 3 mismatch)")
    table.report_success(session, now)
    no_room = table.make_room(session.user_id, session.max_privilege, session.channel)
    if no_room is NoRoom.USER_LIMIT:
        return refuse(RmcpStatus.INSUFFICIENT_RESOURCES_FOR_ROLE,
                      f"user {user!r}: {no_room.value}")
    if no_room is not None:
        return refuse(RmcpStatus.INSUFFICIENT_RESOURCES, no_room.value)
    # With a BMC key (K_G) the session keys depend on it too: a client must know both.
    sik = exchange.session_integrity_key(session.kuid, table.host.channel.bmc_key())
    session.keys = crypto.derive_keys(session.suite.auth, sik, session.kuid)
    reply = (bytes([tag, RmcpStatus.NO_ERRORS, 0, 0]) + le32(session.console_sid)
             + exchange.rakp4_icv(sik))
    session.privilege = session.max_privilege  # RMCP+ starts at the negotiated role
    _setup_reply(table, PayloadType.RAKP4, reply, addr)
    session.answered[PayloadType.RAKP3] = (bytes(data), reply)
    session.touch(now, addr)
    table.activate(session, LoginEvent.RAKP3_ACCEPTED, now)


def _step_session(table: SessionTable, step: int, data: bytes, addr: Address,
                  answered_state: SessionState, event: LoginEvent,
                  now: float) -> Session | None:
    """The session a RAKP 1 or RAKP 3 may act on, or None once it was answered here: an
    unknown session ID, another address than the Open Session's (ignored), a retransmit of
    the request already answered (the same reply again), or a step out of order."""
    name = "RAKP 1" if step == PayloadType.RAKP1 else "RAKP 3"
    reply_type = step + 1  # RAKP 2 answers RAKP 1, RAKP 4 answers RAKP 3
    tag = data[0]
    session = table.sessions_by_id.get(u32(data[4:8]))
    if session is None or not session.is_rmcpplus:
        _rakp_error(table, reply_type, tag, RmcpStatus.INVALID_SESSION_ID, 0, addr)
        return None
    if addr != session.remote:
        # A half-open login belongs to the address that opened it: a RAKP from anywhere
        # else (someone who saw the session ID) must not cancel or take it over.
        table.refused(addr, f"{name} for session {session.session_id:#010x} opened from "
                      "another address; ignored")
        return None
    answered = session.answered.get(step)
    # A retransmit may carry a new message tag (FreeIPMI counts it up on every retry); the
    # rest is the same request, and it gets the same answer under its own tag (neither the
    # RAKP 2 auth code nor the RAKP 4 ICV covers the tag).
    if (session.state is answered_state and answered is not None
            and answered[0][1:] == bytes(data[1:])):
        _setup_reply(table, reply_type, bytes([tag]) + answered[1][1:], addr)
        if step == PayloadType.RAKP1:
            session.rakp2_at = now  # the console lost RAKP 2: its RAKP 3 wait starts again
        return None
    if not allows(session.state, event):
        log.debug("%s: %s out of order for session %#010x (%s)", table.name, name,
                  session.session_id, session.state.value)
        _rakp_error(table, reply_type, tag, RmcpStatus.INVALID_SESSION_ID,
                    session.console_sid, addr)
        return None
    return session


def _rakp_error(table: SessionTable, payload_type: int, tag: int, status: RmcpStatus,
                console_sid: int, addr: Address) -> None:
    _setup_reply(table, payload_type, bytes([tag, status, 0, 0]) + le32(console_sid), addr)


def _algorithm_record(kind: int, number: int) -> bytes:
    """One Open Session algorithm payload: type, 2 reserved, length 8, algorithm, 3 reserved."""
    return bytes([kind, 0, 0, 8, number, 0, 0, 0])
