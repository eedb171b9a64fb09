"""Bad-password lockout: counts failed logins per user and channel and locks a user out.

IPMI 2.0 LAN configuration parameter 26 ("bad password threshold", table 23-4) says how:

    byte 1    bit 0: generate a Session Audit "invalid password disable" event on lockout
    byte 2    threshold: bad passwords in a row that disable the user on the channel; 0 = off
    bytes 3-4 attempt count reset interval, tens of seconds, LS byte first; 0 = never
    bytes 5-6 user lockout interval, tens of seconds, LS byte first; 0 = until an
              administrator re-enables the user (Set User Password "enable user")

While a client never set parameter 26, the `[security]` keys lockout_threshold,
lockout_seconds and lockout_reset_seconds stand in for it (in seconds, so a test can use a
2-second lockout; the parameter reads back as those values rounded up to tens of seconds).

The state is a small table in memory, keyed by (user ID, channel): a count of failures, the
time of the last one, and when the lock began. Nothing here reads a clock: every call passes
`now`, and a lock ends lazily, the first time it is asked about after its interval. A restart
of pybmc forgets every count and lock.

IPMI logins (RAKP 3, IPMI 1.5 Activate Session) reach this through the session layer's
LoginGuard protocol; the Redfish front calls it directly.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

from pybmc.config.bmc import SecurityConfig
from pybmc.model.users import Users

log = logging.getLogger("pybmc.lockout")

PARAMETER_UNIT = 10.0  # seconds per unit of the two intervals
GENERATE_EVENT = 0x01

# The SEL record of a lockout: sensor type Session Audit, offset "invalid password disable"
# (IPMI 2.0 table 42-3). Event data 2 holds the user ID, data 3 the channel, each marked in
# byte 1 as a sensor-specific extension code (bits 7:6 and 5:4 = 11b).
SESSION_AUDIT_SENSOR_TYPE = 0x2A
SENSOR_SPECIFIC_READING = 0x6F
INVALID_PASSWORD_DISABLE = 0x03
EXTENSION_CODES_IN_DATA_2_AND_3 = 0xF0

# add_event(sensor type, event/reading type, event data): log a sensor event in the SEL.
AddEvent = Callable[[int, int, bytes], object]


@dataclass(frozen=True)
class LockoutPolicy:
    """Parameter 26 in seconds."""

    threshold: int = 0  # 0: lockout disabled
    reset_interval: float = 0.0  # 0: a count is kept until a success or a lockout
    lockout_interval: float = 0.0  # 0: locked until re-enabled
    generate_event: bool = False

    @classmethod
    def decode(cls, data: bytes) -> LockoutPolicy:
        """From the 6 bytes of parameter 26."""
        return cls(threshold=data[1],
                   reset_interval=int.from_bytes(data[2:4], "little") * PARAMETER_UNIT,
                   lockout_interval=int.from_bytes(data[4:6], "little") * PARAMETER_UNIT,
                   generate_event=bool(data[0] & GENERATE_EVENT))

    def encode(self) -> bytes:
        """The 6 bytes of parameter 26; intervals rounded up to whole tens of seconds."""
        return (bytes([GENERATE_EVENT if self.generate_event else 0, self.threshold])
                + _tens(self.reset_interval) + _tens(self.lockout_interval))


def _tens(seconds: float) -> bytes:
    return min(math.ceil(seconds / PARAMETER_UNIT), 0xFFFF).to_bytes(2, "little")


def config_policy(security: SecurityConfig) -> LockoutPolicy:
    """The policy the config gives while parameter 26 was never set (events on, when on)."""
    if security.lockout_threshold == 0:
        return LockoutPolicy()
    return LockoutPolicy(threshold=security.lockout_threshold,
                         reset_interval=security.lockout_reset_seconds,
                         lockout_interval=security.lockout_seconds, generate_event=True)


def lockout_event_data(user_id: int, channel: int) -> bytes:
    return bytes([EXTENSION_CODES_IN_DATA_2_AND_3 | INVALID_PASSWORD_DISABLE,
                  user_id & 0x3F, channel & 0x0F])


@dataclass
class _Attempts:
    failures: int = 0
    last_failure: float = 0.0
    locked_at: float | None = None


class Lockout:
    """Failed-login counts and locks of one BMC's users, per channel (a LoginGuard)."""

    def __init__(self, name: str, users: Users, policy: Callable[[int], LockoutPolicy],
                 add_event: AddEvent) -> None:
        self.name = name
        self.users = users
        self.policy = policy  # channel -> its policy, read at every call
        self.add_event = add_event
        self._attempts: dict[tuple[int, int], _Attempts] = {}

    def is_locked(self, user_id: int, channel: int, now: float) -> bool:
        """Whether the user is locked out on the channel at `now` (a lock past its interval
        ends here)."""
        attempts = self._attempts.get((user_id, channel))
        if attempts is None or attempts.locked_at is None:
            return False
        interval = self.policy(channel).lockout_interval
        if interval and now >= attempts.locked_at + interval:
            del self._attempts[(user_id, channel)]
            log.info("%s: user %d (%r) is no longer locked out on channel %d", self.name,
                     user_id, self._user_name(user_id), channel)
            return False
        return True

    def record_failure(self, user_id: int, channel: int, now: float) -> bool:
        """One bad password for the user on the channel; whether the user is locked now.
        Attempts while locked are not counted: the lock runs from when it began."""
        if self.is_locked(user_id, channel, now):
            return True
        policy = self.policy(channel)
        if policy.threshold == 0:
            return False
        attempts = self._attempts.setdefault((user_id, channel), _Attempts())
        if policy.reset_interval and now - attempts.last_failure >= policy.reset_interval:
            attempts.failures = 0  # the earlier failures are too old to count
        attempts.failures += 1
        attempts.last_failure = now
        log.debug("%s: bad password %d of %d for user %d on channel %d", self.name,
                  attempts.failures, policy.threshold, user_id, channel)
        if attempts.failures < policy.threshold:
            return False
        attempts.failures, attempts.locked_at = 0, now
        until = (f"for {policy.lockout_interval:g} s" if policy.lockout_interval
                 else "until an administrator enables it again")
        log.warning("%s: user %d (%r) locked out on channel %d after %d bad passwords, %s",
                    self.name, user_id, self._user_name(user_id), channel, policy.threshold,
                    until)
        if policy.generate_event:
            self.add_event(SESSION_AUDIT_SENSOR_TYPE, SENSOR_SPECIFIC_READING,
                           lockout_event_data(user_id, channel))
        return True

    def record_success(self, user_id: int, channel: int, now: float) -> None:
        """The user proved the password: the count of bad ones starts again (a lock stays)."""
        attempts = self._attempts.get((user_id, channel))
        if attempts is not None and attempts.locked_at is None:
            del self._attempts[(user_id, channel)]

    def unlock(self, user_id: int) -> None:
        """An administrator enabled the user: its counts and locks on every channel end."""
        for key in [key for key in self._attempts if key[0] == user_id]:
            if self._attempts.pop(key).locked_at is not None:
                log.info("%s: user %d (%r) unlocked on channel %d", self.name, user_id,
                         self._user_name(user_id), key[1])

    def _user_name(self, user_id: int) -> str:
        user = self.users.get(user_id)
        return user.name.decode(errors="replace") if user is not None else ""
