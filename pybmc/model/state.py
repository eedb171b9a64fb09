"""What IPMI clients change, persisted in the BMC's state_dir by atomic write-and-rename.

How config and saved state combine: each section of the state (users, LAN) remembers a
fingerprint of the config section it was seeded from. While the config section is unchanged,
what clients set over IPMI wins; when the user edits that config section, it is re-seeded from
the new config (and a log line says so). `pybmc serve --reset-state` starts from the config alone.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import stat
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from pybmc.wire.codes import SERIAL_CHANNEL

log = logging.getLogger("pybmc.state")

STATE_FILE = "state.json"
STATE_VERSION = 1
TEMP_PREFIX = ".state."  # save()'s temporary files; a kill -9 between write and rename leaves one


@dataclass(slots=True)
class UserAccess:
    """A user's access on one channel (Set/Get User Access)."""

    privilege: int = 0x0F  # 0x0F = no access
    ipmi_messaging: bool = False
    link_auth: bool = False
    callback_only: bool = False
    session_limit: int = 0  # Set User Access byte 4: sessions at once; 0 = no own limit


# The access of a user with none on any channel: one read-only empty mapping for every such
# record (16 slots per BMC, most of them empty), replaced by a dict at the first access_on().
NO_ACCESS: Mapping[int, UserAccess] = MappingProxyType({})


@dataclass(slots=True)
class UserRecord:
    user_id: int
    name: bytes = b""
    password: bytes = b""
    enabled: bool = False
    # written only through access_on()
    access: Mapping[int, UserAccess] = field(default_factory=lambda: NO_ACCESS)

    def access_on(self, channel: int) -> UserAccess:
        """The user's access on `channel`, to change (made if missing). A shared mapping
        (NO_ACCESS, or a configured user's: pybmc.model.users) is copied first."""
        if not isinstance(self.access, dict):
            self.access = {ch: replace(a) for ch, a in self.access.items()}
        access = self.access.get(channel)
        if access is None:
            access = self.access[channel] = UserAccess()
        return access


# Set/Get Channel Access modes (bits 2:0 of byte 2).
ACCESS_DISABLED, ACCESS_PRE_BOOT_ONLY, ACCESS_ALWAYS_AVAILABLE, ACCESS_SHARED = 0, 1, 2, 3


@dataclass(slots=True)
class ChannelAccess:
    """Set/Get Channel Access data for one channel (volatile and non-volatile copies)."""

    access_mode: int = ACCESS_ALWAYS_AVAILABLE
    user_level_auth_disabled: bool = False
    per_message_auth_disabled: bool = False
    alerting_disabled: bool = False
    privilege_limit: int = 4  # administrator


@dataclass
class State:
    users: dict[int, UserRecord] = field(default_factory=dict)
    channel_access: dict[str, ChannelAccess] = field(default_factory=dict)  # "1.volatile"
    lan: dict[str, bytes] = field(default_factory=dict)  # "3" or "24.0" -> raw parameter data
    sol: dict[str, bytes] = field(default_factory=dict)
    serial: dict[str, bytes] = field(default_factory=dict)  # Serial/Modem parameters
    boot: dict[str, bytes] = field(default_factory=dict)
    power_on: bool = False
    restore_policy: int = 1  # 0 always off, 1 previous, 2 always on
    restart_cause: int = 0
    poh_minutes_base: int = 0
    global_enables: int = 0x0C  # event message buffer + system event logging
    seeded: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # room for later features

    def channel(self, channel: int, volatile: bool) -> ChannelAccess:
        """A channel's access settings. The serial channel nobody set up is disabled: no IPMI
        message arrives over it (pybmc.model.serial_params)."""
        key = f"{channel}.{'volatile' if volatile else 'nonvolatile'}"
        access = self.channel_access.get(key)
        if access is None:
            mode = ACCESS_DISABLED if channel == SERIAL_CHANNEL else ACCESS_ALWAYS_AVAILABLE
            access = self.channel_access[key] = ChannelAccess(access_mode=mode)
        return access


class Changes:
    """Marks that the persisted state changed, so the core saves it once, before the reply.

    Model objects and handlers call `mark()` after changing `State`; the core calls `take()`
    after each request (and each power or timer event) and writes the file when it says so:
    a client that got completion code 0 finds the value after a kill -9.
    """

    __slots__ = ("pending",)

    def __init__(self) -> None:
        self.pending = False

    def mark(self) -> None:
        self.pending = True

    def take(self) -> bool:
        pending, self.pending = self.pending, False
        return pending


def fingerprint(value: Any) -> str:
    """A stable digest of a config section, to notice when the user edited it."""
    text = json.dumps(value, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _hex_map(values: dict[str, bytes]) -> dict[str, str]:
    return {k: v.hex() for k, v in values.items()}


def _bytes_map(values: dict[str, str]) -> dict[str, bytes]:
    return {str(k): bytes.fromhex(v) for k, v in values.items()}


def _fields(record: UserAccess | ChannelAccess) -> dict[str, Any]:
    """A slotted record's fields by name (what vars() gives for a plain one)."""
    return {name: getattr(record, name) for name in record.__slots__}


def to_json(state: State) -> dict[str, Any]:
    return {
        "version": STATE_VERSION,
        "users": {
            str(uid): {
                "name": u.name.hex(),
                "password": u.password.hex(),
                "enabled": u.enabled,
                "access": {str(ch): _fields(a) for ch, a in u.access.items()},
            }
            for uid, u in sorted(state.users.items())
        },
        "channel_access": {k: _fields(v) for k, v in state.channel_access.items()},
        "lan": _hex_map(state.lan),
        "sol": _hex_map(state.sol),
        "serial": _hex_map(state.serial),
        "boot": _hex_map(state.boot),
        "power_on": state.power_on,
        "restore_policy": state.restore_policy,
        "restart_cause": state.restart_cause,
        "poh_minutes_base": state.poh_minutes_base,
        "global_enables": state.global_enables,
        "seeded": state.seeded,
        "extra": state.extra,
    }


def from_json(data: dict[str, Any]) -> State:
    if data.get("version") != STATE_VERSION:
        raise ValueError(f"unknown state version {data.get('version')!r}")
    users = {}
    for uid_text, u in data.get("users", {}).items():
        uid = int(uid_text)
        users[uid] = UserRecord(
            user_id=uid,
            name=bytes.fromhex(u["name"]),
            password=bytes.fromhex(u["password"]),
            enabled=bool(u["enabled"]),
            access={int(ch): UserAccess(**a) for ch, a in u["access"].items()}
            if u.get("access") else NO_ACCESS,
        )
    return State(
        users=users,
        channel_access={k: ChannelAccess(**v) for k, v in data.get("channel_access", {}).items()},
        lan=_bytes_map(data.get("lan", {})),
        sol=_bytes_map(data.get("sol", {})),
        serial=_bytes_map(data.get("serial", {})),
        boot=_bytes_map(data.get("boot", {})),
        power_on=bool(data.get("power_on", False)),
        restore_policy=int(data.get("restore_policy", 1)),
        restart_cause=int(data.get("restart_cause", 0)),
        poh_minutes_base=int(data.get("poh_minutes_base", 0)),
        global_enables=int(data.get("global_enables", 0x0C)),
        seeded=dict(data.get("seeded", {})),
        extra=dict(data.get("extra", {})),
    )


# Directories whose lock is taken at their first write (pybmc.edge.startup, a fleet's start):
# str(directory) -> a callable that takes it, or raises OSError (nothing is written then).
_first_write_guards: dict[str, Callable[[], None]] = {}


def guard_first_write(directory: Path, guard: Callable[[], None] | None) -> None:
    """Have `guard()` run before anything is written into `directory` (None: no more);
    it stays until removed, so a guard that failed runs (and fails) again at the next write."""
    if guard is None:
        _first_write_guards.pop(str(directory), None)
    else:
        _first_write_guards[str(directory)] = guard


def atomic_write(path: Path, payload: bytes, temp_prefix: str, durable: bool = True) -> None:
    """Write `payload` to a temporary file beside `path` (mode 0600 from creation: state holds
    passwords), fsync it if `durable`, and rename it over `path`: a crash leaves the old file
    or the new one. The temporary name is fixed per process (`<prefix><pid>.tmp`): only the
    process holding the state dir's lock writes there, and one save at a time."""
    directory = path.parent
    if _first_write_guards:
        guard = _first_write_guards.get(str(directory))
        if guard is not None:
            guard()  # takes the state dir's lock, or raises OSError
    if not os.path.isdir(directory):
        directory.mkdir(parents=True, exist_ok=True)
    tmp = os.path.join(directory, f"{temp_prefix}{os.getpid()}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(tmp, flags, 0o600)
    except FileExistsError:  # left by a save interrupted in this process: ours to replace
        os.unlink(tmp)
        fd = os.open(tmp, flags, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


class StateStore:
    """Loads and saves one BMC's state file; a write never leaves a half-written file."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir if isinstance(state_dir, Path) else Path(state_dir)
        self.found = False  # load() read a state file: saves over it are always fsynced
        self._loaded: bytes | None = None  # a digest of what load() read

    @property
    def path(self) -> Path:
        return self.state_dir / STATE_FILE  # made when used: a Path is ~0.4 KB per BMC

    def load(self) -> State | None:
        """The saved state, or None when there is none (or it was unreadable, set aside)."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as err:
            log.error("cannot read %s: %s; starting from the config", self.path, err)
            return None
        try:
            state = from_json(json.loads(text))
            self.found = True
            self._loaded = hashlib.sha256(text.encode()).digest()
            return state
        except (ValueError, KeyError, TypeError) as err:
            aside = self.path.with_name(f"{STATE_FILE}.bad-{int(time.time())}")
            log.error("%s is unreadable (%s); kept as %s, starting from the config",
                      self.path, err, aside.name)
            with contextlib.suppress(OSError):
                os.replace(self.path, aside)
            return None

    def remove_orphans(self) -> int:
        """Delete the temporary files an interrupted save() left (they hold the whole state,
        passwords included); only regular files of ours with save()'s prefix, in our
        state_dir. Call it while no other save() may run (at start, under the state_dir lock).
        Returns how many were removed."""
        try:
            names = os.listdir(self.state_dir)
        except OSError:
            return 0
        removed = 0
        for name in names:
            if not name.startswith(TEMP_PREFIX):
                continue
            path = self.state_dir / name
            try:
                info = os.lstat(path)
                if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid():
                    continue
                path.unlink()
            except OSError as err:
                log.warning("cannot remove the leftover temporary file %s: %s", path, err)
                continue
            removed += 1
        if removed:
            log.info("removed %d temporary state file(s) left by an interrupted save in %s",
                     removed, self.state_dir)
        return removed

    def save(self, state: State, durable: bool = True, unless_loaded: bool = False) -> None:
        """Write the state atomically; `durable=False` without fsyncs (see save_json), and
        `unless_loaded` not at all if the file holds it already (as load() read it)."""
        payload = json.dumps(to_json(state), indent=1, sort_keys=True).encode()
        if unless_loaded and self._loaded == hashlib.sha256(payload).digest():
            return
        self._loaded = None
        atomic_write(self.path, payload, TEMP_PREFIX, durable)
        if not durable:
            return
        with contextlib.suppress(OSError):
            dir_fd = os.open(self.state_dir, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)

    def reset(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def create_private_file(path: Path, text: str,
                        opener: Callable[[str, int, int], int] | None = None) -> bool:
    """Create `path` holding `text`, readable by us alone from its first moment (mode 0600
    given to open(2), never a chmod after); False, and nothing written, if it exists already.
    `opener` defaults to os.open (a test passes a spy)."""
    try:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
        fd = (opener or os.open)(str(path), flags, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    return True
