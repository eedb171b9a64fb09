"""Who a Redfish request comes from: Basic auth or a session token, over the IPMI user table."""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
from dataclasses import dataclass

from pybmc.model.lockout import Lockout
from pybmc.model.users import Users
from pybmc.wire.codes import LAN_CHANNEL, Privilege

SESSION_LIMIT = 16
SESSION_IDLE_TIMEOUT = 600.0  # seconds

ROLE_BY_PRIVILEGE = {
    Privilege.USER: "ReadOnly",
    Privilege.OPERATOR: "Operator",
    Privilege.ADMINISTRATOR: "Administrator",
    Privilege.OEM: "Administrator",
}


@dataclass
class Identity:
    """An authenticated caller: the IPMI user it is and the privilege it holds."""

    user_name: str
    privilege: Privilege
    session_id: str | None = None

    @property
    def role(self) -> str:
        return ROLE_BY_PRIVILEGE.get(self.privilege, "NoAccess")


@dataclass
class RedfishSession:
    session_id: str
    token: str
    user_name: str
    last_used: float


def check_password(users: Users, name: str, password: str, lockout: Lockout,
                   now: float) -> Identity | None:
    """The identity for these credentials, if an enabled IPMI user with LAN access has them.

    A wrong password of a known user counts toward its bad-password lockout on the LAN
    channel, as IPMI logins do; a locked-out user is refused as a wrong password is."""
    user = users.find_user(name.encode())
    if user is None:
        return None
    if lockout.is_locked(user.user_id, LAN_CHANNEL, now):
        return None
    stored = user.password.rstrip(b"\x00")
    if not hmac.compare_digest(stored, password.encode()):
        lockout.record_failure(user.user_id, LAN_CHANNEL, now)
        return None
    lockout.record_success(user.user_id, LAN_CHANNEL, now)
    privilege = users.privilege_limit(user, LAN_CHANNEL)
    if privilege < Privilege.USER:
        return None
    return Identity(name, privilege)


def parse_basic(header: str) -> tuple[str, str] | None:
    """User name and password from an `Authorization: Basic ...` header."""
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    name, sep, password = decoded.partition(":")
    return (name, password) if sep else None


class SessionTable:
    """Redfish sessions (SessionService); each refers to an IPMI user by name."""

    def __init__(self, users: Users) -> None:
        self.users = users
        self.sessions: dict[str, RedfishSession] = {}
        self._next_id = 1

    def expire(self, now: float) -> None:
        for sid, session in list(self.sessions.items()):
            if now - session.last_used > SESSION_IDLE_TIMEOUT:
                del self.sessions[sid]

    def create(self, user_name: str, now: float) -> RedfishSession | None:
        self.expire(now)
        if len(self.sessions) >= SESSION_LIMIT:
            return None
        sid = str(self._next_id)
        self._next_id += 1
        session = RedfishSession(sid, secrets.token_hex(16), user_name, now)
        self.sessions[sid] = session
        return session

    def by_token(self, token: str, now: float) -> Identity | None:
        self.expire(now)
        for session in self.sessions.values():
            if hmac.compare_digest(session.token, token):
                user = self.users.find_user(session.user_name.encode())
                if user is None:  # user removed or disabled over IPMI: the session ends
                    del self.sessions[session.session_id]
                    return None
                session.last_used = now
                privilege = self.users.privilege_limit(user, LAN_CHANNEL)
                if privilege < Privilege.USER:
                    return None
                return Identity(session.user_name, privilege, session.session_id)
        return None

    def delete(self, session_id: str) -> bool:
        return self.sessions.pop(session_id, None) is not None
