"""What the session layer needs from the BMC it serves, declared here so it never imports it.

The core builds one `SessionHost` per BMC from its model parts: the security settings, the user
accounts, the LAN channel's login policy, a callable that runs one IPMI request, the random
source every session ID, challenge and RAKP nonce comes from (injected so a captured login can
be replayed byte for byte), and the bad-password lockout logins report to.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from pybmc.config.bmc import SecurityConfig
from pybmc.wire.codes import LAN_CHANNEL, Privilege
from pybmc.wire.message import Request

if TYPE_CHECKING:
    from pybmc.protocol.rmcp.session_record import Session


class Account(Protocol):
    """One user slot as a login sees it."""

    user_id: int
    name: bytes
    password: bytes
    enabled: bool


class Accounts(Protocol):
    """User lookups for logins (pybmc.model.users.Users is one)."""

    def get(self, user_id: int) -> Account | None: ...

    def find_user(self, name: bytes) -> Account | None: ...

    def privilege_limit(self, user: Account, channel: int = LAN_CHANNEL) -> Privilege: ...

    def channel_privilege_limit(self, channel: int = LAN_CHANNEL) -> Privilege: ...

    def session_limit(self, user: Account, channel: int = LAN_CHANNEL) -> int:
        """The most sessions the user may hold at once on the channel; 0 = no own limit."""
        ...


class LoginGuard(Protocol):
    """The bad-password lockout as logins see it (pybmc.model.lockout.Lockout is one)."""

    def is_locked(self, user_id: int, channel: int, now: float) -> bool: ...

    def record_failure(self, user_id: int, channel: int, now: float) -> bool:
        """One bad password; whether the user is locked out now."""
        ...

    def record_success(self, user_id: int, channel: int, now: float) -> None: ...


class NoLockout:
    """A LoginGuard that never locks anyone (a host built without a lockout policy)."""

    def is_locked(self, user_id: int, channel: int, now: float) -> bool:
        return False

    def record_failure(self, user_id: int, channel: int, now: float) -> bool:
        return False

    def record_success(self, user_id: int, channel: int, now: float) -> None:
        return None


class ChannelPolicy(Protocol):
    """The LAN channel's login settings (pybmc.model.lan.Lan is one)."""

    def ipmi_enabled(self) -> bool:
        """Whether the channel's active access mode lets IPMI messages in (not Disabled)."""
        ...

    def cipher_suites(self) -> Iterable[int]: ...

    def cipher_suite_max_privilege(self, suite: int) -> Privilege: ...

    def auth_types_enabled(self, privilege: Privilege) -> int: ...

    def bmc_key(self) -> bytes | None: ...


class LoginRequests(Protocol):
    """Get Session Challenge and Activate Session, answered by the session layer for the
    peer a session-less request came from (the dispatcher's handlers call these)."""

    def get_session_challenge(self, data: bytes) -> bytes: ...

    def activate_session(self, data: bytes) -> bytes: ...


# Runs one decoded request at a privilege, for a session (None: session-less) at `now`, with
# the login requests a session-less request may make; returns completion code + data.
Execute = Callable[[Request, Privilege, "Session | None", float, "LoginRequests | None"],
                   bytes]
RandomSource = Callable[[int], bytes]


@dataclass
class SessionHost:
    name: str
    guid: bytes  # the System GUID in wire order, part of every RAKP exchange
    security: SecurityConfig
    accounts: Accounts
    channel: ChannelPolicy
    execute: Execute
    random: RandomSource = field(default=os.urandom)
    guard: LoginGuard = field(default_factory=NoLockout)
