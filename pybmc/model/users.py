"""The user table: who may log in, with which privilege on which channel (IPMI 2.0 §22.26-29)."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from types import MappingProxyType

from pybmc.config.bmc import MAX_USERS, UserConfig
from pybmc.model.state import State, UserAccess, UserRecord
from pybmc.wire.codes import LAN_CHANNEL, Privilege

NO_ACCESS = 0x0F
FIRST_NAMED_USER = 2  # user 1 is IPMI's anonymous user, whose name stays empty


class Users:
    """One BMC's users over its persisted State; the session layer and handlers share it."""

    def __init__(self, state: State) -> None:
        self.state = state

    @property
    def records(self) -> dict[int, UserRecord]:
        return self.state.users

    def get(self, user_id: int) -> UserRecord | None:
        return self.state.users.get(user_id)

    def slot(self, user_id: int) -> UserRecord:
        """The record of a user ID, made empty on first use."""
        return self.state.users.setdefault(user_id, UserRecord(user_id=user_id))

    def find_user(self, name: bytes) -> UserRecord | None:
        """The enabled user with this name (RAKP and Activate Session look users up by name)."""
        for uid in sorted(self.state.users):
            user = self.state.users[uid]
            if user.name == name and user.enabled:
                return user
        return None

    def privilege_limit(self, user: UserRecord, channel: int = LAN_CHANNEL) -> Privilege:
        """The highest privilege this user may hold on the channel (NO_ACCESS -> NONE)."""
        access = user.access.get(channel)
        if access is None or not access.ipmi_messaging or access.privilege > Privilege.OEM:
            return Privilege.NONE
        limit = min(access.privilege, self.channel_privilege_limit(channel))
        return Privilege(limit) if limit >= 1 else Privilege.NONE

    def session_limit(self, user: UserRecord, channel: int = LAN_CHANNEL) -> int:
        """The most sessions this user may hold at once on the channel (0: no own limit)."""
        access = user.access.get(channel)
        return access.session_limit if access is not None else 0

    def channel_privilege_limit(self, channel: int = LAN_CHANNEL) -> Privilege:
        limit = self.state.channel(channel, volatile=True).privilege_limit
        return Privilege(min(max(limit, 1), 5))

    # Account operations for fronts other than IPMI's own user commands (Redfish's
    # AccountService): the same records, so a user made here is one IPMI reads back.
    def name_taken(self, name: bytes, except_id: int | None = None) -> bool:
        """RAKP and Activate Session find users by name, so two may not share one."""
        return any(user.name == name for uid, user in self.state.users.items()
                   if uid != except_id)

    def free_slot(self) -> int | None:
        """The lowest user ID without a name (user 1, IPMI's anonymous user, excepted)."""
        for uid in range(FIRST_NAMED_USER, MAX_USERS + 1):
            user = self.state.users.get(uid)
            if user is None or not user.name:
                return uid
        return None

    def set_lan_privilege(self, user: UserRecord, privilege: Privilege) -> None:
        """The user may log in over the LAN with this privilege (IPMI messaging on)."""
        access = user.access_on(LAN_CHANNEL)
        access.privilege = int(privilege)
        access.ipmi_messaging = True
        access.link_auth = True

    def clear(self, user_id: int) -> None:
        """The slot as an unused one: no name, no password, disabled, no access."""
        self.state.users[user_id] = UserRecord(user_id=user_id)


def users_from_config(configured: Iterable[UserConfig]) -> dict[int, UserRecord]:
    """The user table a config's [[users]] describe: every slot, the configured ones filled."""
    users = {uid: UserRecord(user_id=uid) for uid in range(1, MAX_USERS + 1)}
    for user in configured:
        record = users[user.user_id]
        record.name = user.name.encode()
        record.password = user.password.encode()
        record.enabled = user.enabled
        record.access = _lan_access(int(user.privilege))
    return users


@functools.lru_cache(maxsize=16)
def _lan_access(privilege: int) -> Mapping[int, UserAccess]:
    """A configured user's access: one read-only mapping per privilege for every BMC's users,
    copied by UserRecord.access_on before a change."""
    return MappingProxyType({LAN_CHANNEL: UserAccess(
        privilege=privilege, ipmi_messaging=True, link_auth=True, callback_only=False)})
