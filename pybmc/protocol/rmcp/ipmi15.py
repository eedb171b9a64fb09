"""IPMI 1.5 sessions: Get Session Challenge, Activate Session and per-message authcodes.

Get Session Challenge hands out a temporary session ID and a challenge; Activate Session on that
ID (signed with the user's password) creates the session; then every packet carries the
session's authcode (none, MD2, MD5 or straight password) over sid/msg/seq.
"""

from __future__ import annotations

import hmac
import logging
from typing import TYPE_CHECKING

from pybmc.protocol.rmcp import crypto
from pybmc.protocol.rmcp.login_state import LoginEvent
from pybmc.protocol.rmcp.packet import Ipmi15Packet, PacketError, build_ipmi15
from pybmc.protocol.rmcp.sequence import V15_SEQ_WINDOW, SequenceWindow, le32, u32
from pybmc.protocol.rmcp.session_record import MAX_USER_NAME, Address, Challenge, Session
from pybmc.protocol.rmcp.table import NoRoom, SessionTable
from pybmc.wire.codes import LAN_CHANNEL, AuthType, Cc, NetFn, Privilege
from pybmc.wire.message import MessageError, decode_request, encode_response

if TYPE_CHECKING:
    from pybmc.protocol.rmcp.host import Account

log = logging.getLogger("pybmc.session")

CMD_GET_SESSION_CHALLENGE = 0x39
CMD_ACTIVATE_SESSION = 0x3A

# Activate Session completion codes (IPMI 2.0 table 22-19).
CC_NO_SESSION_SLOT = 0x81
CC_NO_SLOT_FOR_USER = 0x82  # the user's own session limit is reached
CC_INVALID_SESSION_ID = 0x85
CC_PRIVILEGE_EXCEEDS_LIMIT = 0x86
# Get Session Challenge completion codes (table 22-18).
CC_INVALID_USER_NAME = 0x81
CC_NULL_USER_DISABLED = 0x82


def receive_v15(table: SessionTable, packet: Ipmi15Packet, addr: Address, now: float) -> None:
    if packet.session_id == 0:
        _sessionless(table, packet, addr, now)
        return
    session = table.sessions_by_id.get(packet.session_id)
    if session is not None and session.active and not session.is_rmcpplus:
        _in_session(table, session, packet, addr, now)
        return
    challenge = table.challenges.get(packet.session_id)
    if challenge is not None:
        _activate_session(table, challenge, packet, addr, now)
        return
    raise PacketError(f"IPMI 1.5 packet for unknown session {packet.session_id:#010x}")


def _sessionless(table: SessionTable, packet: Ipmi15Packet, addr: Address, now: float) -> None:
    if packet.auth_type != AuthType.NONE:
        raise PacketError("session-less IPMI 1.5 packet with an authtype")
    req = decode_request(packet.message)
    if req.netfn & 1:
        raise MessageError("session-less packet is a response")
    if ((req.netfn, req.cmd) == (NetFn.APP, CMD_GET_SESSION_CHALLENGE)
            and not table.login_allowed(addr, now, "Get Session Challenge")):
        return
    # Get Session Challenge goes through the dispatcher like every command; its handler
    # comes back here through the login object for this peer.
    reply = table.run_request(packet.message, Privilege.NONE, None, now,
                              V15Login(table, addr, now))
    table.queue(build_ipmi15(AuthType.NONE, 0, 0, reply), addr)


class V15Login:
    """The login requests one session-less IPMI 1.5 packet may make (a LoginRequests): Get
    Session Challenge from anyone; Activate Session only on a challenge's temporary session
    ID, once the packet's authcode proved the password."""

    def __init__(self, table: SessionTable, addr: Address, now: float,
                 challenge: Challenge | None = None, user: Account | None = None) -> None:
        self.table, self.addr, self.now = table, addr, now
        self.challenge, self.user = challenge, user
        self.session: Session | None = None  # what Activate Session made

    def get_session_challenge(self, data: bytes) -> bytes:
        if self.challenge is not None:
            return bytes([Cc.INVALID_COMMAND])  # a temporary session ID is for activation
        return _get_session_challenge(self.table, data, self.addr, self.now)

    def activate_session(self, data: bytes) -> bytes:
        if self.challenge is None or self.user is None:
            return bytes([Cc.INVALID_COMMAND])  # no challenge: nothing to activate
        result, self.session = _check_activation(self.table, self.challenge, data, self.user,
                                                 self.addr, self.now)
        return result


def _auth_type_enabled(table: SessionTable, auth_type: int,
                       privilege: Privilege | None = None) -> bool:
    if auth_type not in (AuthType.NONE, AuthType.MD2, AuthType.MD5, AuthType.PASSWORD):
        return False
    levels = [privilege] if privilege is not None else [
        Privilege.CALLBACK, Privilege.USER, Privilege.OPERATOR, Privilege.ADMINISTRATOR]
    return any(table.host.channel.auth_types_enabled(level) >> auth_type & 1 for level in levels)


def _get_session_challenge(table: SessionTable, data: bytes, addr: Address,
                           now: float) -> bytes:
    """06 39: look the user up, hand out a temporary session ID and a 16-byte challenge."""
    if len(data) != 1 + MAX_USER_NAME:
        return bytes([Cc.REQUEST_DATA_LENGTH_INVALID])
    auth_type = data[0] & 0x0F
    if not _auth_type_enabled(table, auth_type):
        table.refused(addr, f"IPMI 1.5 auth type {auth_type} is not enabled")
        return bytes([Cc.INVALID_DATA_FIELD])
    name = data[1:].rstrip(b"\x00")
    user = table.host.accounts.find_user(name)
    if user is None:
        table.refused(addr, f"unknown user {name.decode(errors='replace')!r}")
        return bytes([CC_NULL_USER_DISABLED if not name else CC_INVALID_USER_NAME])
    table.make_room_for_half_open(now)
    temp_sid = table.new_session_id()
    challenge = table.host.random(16)
    table.challenges[temp_sid] = Challenge(temp_sid, challenge, user.user_id, name,
                                              auth_type, addr, now)
    return bytes([Cc.OK]) + le32(temp_sid) + challenge


def _activate_session(table: SessionTable, challenge: Challenge, packet: Ipmi15Packet,
                      addr: Address, now: float) -> None:
    """06 3A on a temporary session ID: verify, then create the session."""
    attempt = (packet.sequence, packet.authcode, packet.message)
    if challenge.answered is not None:
        answered_attempt, reply_datagram = challenge.answered
        if attempt != answered_attempt:
            raise PacketError("temporary session ID already used")
        table.queue(reply_datagram, addr)  # the client lost our reply and asked again
        return
    req = decode_request(packet.message)
    if (req.netfn, req.cmd) != (NetFn.APP, CMD_ACTIVATE_SESSION):
        raise PacketError("only Activate Session may use a temporary session ID")
    user = table.host.accounts.get(challenge.user_id)
    if user is None or not user.enabled or user.name != challenge.user_name:
        del table.challenges[challenge.temp_sid]
        table.refused(addr, "user changed since Get Session Challenge")
        return
    shown = user.name.decode(errors="replace")
    locked = table.host.guard.is_locked(user.user_id, LAN_CHANNEL, now)
    if locked or packet.auth_type != challenge.auth_type or not crypto.v15_authcode_ok(
            packet.auth_type, user.password, packet.session_id, packet.sequence,
            packet.message, packet.authcode):
        # One try per challenge. The refusal is not signed with the real password (that
        # would hand out a hash to guess it offline): its authcode field is all zeros.
        # ipmitool reads the completion code and fails at once instead of retrying for
        # seconds; clients that check authcodes (FreeIPMI) see a bad packet and time out.
        # A locked-out user gets this same refusal whatever the password, uncounted.
        del table.challenges[challenge.temp_sid]
        if locked:
            table.refused(addr, f"user {shown!r} is locked out (refused as a bad password)")
        else:
            table.refused(addr, f"bad password for user {shown!r} (IPMI 1.5 authcode mismatch)")
            table.host.guard.record_failure(user.user_id, LAN_CHANNEL, now)
        reply = encode_response(req, bytes([Cc.INSUFFICIENT_PRIVILEGE]))
        zeros = bytes(16) if packet.auth_type != AuthType.NONE else b""
        table.queue(build_ipmi15(packet.auth_type, 0, challenge.temp_sid, reply, zeros), addr)
        return
    table.host.guard.record_success(user.user_id, LAN_CHANNEL, now)
    login = V15Login(table, addr, now, challenge, user)
    reply = table.run_request(packet.message, Privilege.NONE, None, now, login)
    session = login.session
    # The reply carries the temporary session ID (FreeIPMI checks it) and, when a session
    # was made, the console's initial outbound sequence number as its first sequence.
    sequence = session.next_v15_sequence() if session is not None else 0
    authcode = crypto.v15_authcode(packet.auth_type, user.password, challenge.temp_sid,
                                   sequence, reply)
    datagram = build_ipmi15(packet.auth_type, sequence, challenge.temp_sid, reply, authcode)
    challenge.answered = (attempt, datagram)  # kept until it expires, for retransmits
    table.queue(datagram, addr)


def _check_activation(table: SessionTable, challenge: Challenge, data: bytes, user: Account,
                      addr: Address, now: float) -> tuple[bytes, Session | None]:
    """The Activate Session checks after authentication; (cc + data, new session)."""
    if len(data) != 22:
        return bytes([Cc.REQUEST_DATA_LENGTH_INVALID]), None
    auth_type, requested = data[0] & 0x0F, data[1] & 0x0F
    if auth_type != challenge.auth_type or not 1 <= requested <= Privilege.OEM:
        return bytes([Cc.INVALID_DATA_FIELD]), None
    if not hmac.compare_digest(data[2:18], challenge.challenge):
        table.refused(addr, "Activate Session with a wrong challenge string")
        return bytes([Cc.INVALID_DATA_FIELD]), None
    privilege = Privilege(requested)
    limit = table.host.accounts.privilege_limit(user)
    if privilege > limit:
        table.refused(addr, f"user {user.name.decode(errors='replace')!r} asked for "
                      f"{privilege.name}, limit is {limit.name}")
        return bytes([CC_PRIVILEGE_EXCEEDS_LIMIT]), None
    if not _auth_type_enabled(table, auth_type, privilege):
        table.refused(addr, f"auth type {auth_type} not enabled for {privilege.name}")
        return bytes([Cc.INVALID_DATA_FIELD]), None
    outbound = u32(data[18:22])
    if outbound == 0:
        return bytes([CC_INVALID_SESSION_ID]), None
    no_room = table.make_room(user.user_id, privilege, LAN_CHANNEL)
    if no_room is not None:
        table.refused(addr, f"user {user.name.decode(errors='replace')!r}: {no_room.value}")
        return bytes([CC_NO_SLOT_FOR_USER if no_room is NoRoom.USER_LIMIT
                      else CC_NO_SESSION_SLOT]), None
    session = table.new_session(addr, auth_type, now)
    session.user_id, session.user_name = user.user_id, user.name
    session.password = user.password
    session.max_privilege = privilege
    session.privilege = min(Privilege.USER, privilege)  # IPMI 1.5 sessions start at USER
    inbound = int.from_bytes(table.host.random(4), "little") or 1
    session.inbound = SequenceWindow(V15_SEQ_WINDOW, inbound)
    session.outbound_sequence = outbound
    table.activate(session, LoginEvent.ACTIVATED, now)
    return (bytes([Cc.OK, auth_type]) + le32(session.session_id) + le32(inbound)
            + bytes([privilege])), session


def _in_session(table: SessionTable, session: Session, packet: Ipmi15Packet, addr: Address,
                now: float) -> None:
    if packet.auth_type != session.auth_type:
        raise PacketError(f"authtype {packet.auth_type} is not the session's "
                          f"{session.auth_type}")
    if not crypto.v15_authcode_ok(session.auth_type, session.password, packet.session_id,
                                  packet.sequence, packet.message, packet.authcode):
        raise PacketError(f"bad authcode on session {session.session_id:#010x}")
    if not session.signed and addr != session.remote:
        raise PacketError(f"unsigned packet for session {session.session_id:#010x} from "
                          "another address")
    if not session.inbound.accept(packet.sequence):
        raise PacketError(f"sequence {packet.sequence:#010x} replayed or out of window")
    session.touch(now, addr)
    reply = table.run_request(packet.message, session.privilege, session, now)
    sequence = session.next_v15_sequence()
    authcode = crypto.v15_authcode(session.auth_type, session.password, session.session_id,
                                   sequence, reply)
    table.queue(build_ipmi15(session.auth_type, sequence, session.session_id, reply,
                                authcode), addr)
