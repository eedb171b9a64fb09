"""The host firmware's settings: BIOS attributes (current and pending until the next boot)
and UEFI Secure Boot, kept in the BMC's state.

Like a real BMC's, pending BIOS attributes (a Redfish PATCH of Bios/Settings, or ResetBios)
take effect when the machine next boots: the core calls `apply_at_boot` from its power
listener on every "boot" event. Under QEMU they are informational: the VM's firmware is what
its args say (SeaBIOS or OVMF) and reads none of them.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass
from typing import Any

from pybmc.model.state import State

BIOS_KEY = "bios"  # State.extra keys
SECURE_BOOT_KEY = "secure_boot"
ENABLED = ("Enabled", "Disabled")
SECURE_BOOT_MODES = ("SetupMode", "UserMode", "AuditMode", "DeployedMode")
RESET_KEYS_TYPES = ("ResetAllKeysToDefault", "DeleteAllKeys", "DeletePK")


@dataclass(frozen=True)
class Attribute:
    name: str
    values: tuple[str, ...] | None  # the allowed values; None: a boolean
    default: str | bool


def attributes(uefi: bool) -> tuple[Attribute, ...]:
    """The attributes served, each with its default (BootMode follows the firmware)."""
    return (
        Attribute("BootMode", ("Uefi", "Bios"), "Uefi" if uefi else "Bios"),
        Attribute("ProcTurboMode", ENABLED, "Enabled"),
        Attribute("ProcHyperthreading", ENABLED, "Enabled"),
        Attribute("ProcVirtualization", ENABLED, "Enabled"),
        Attribute("NicBoot1", ("NetworkBoot", "Disabled"), "NetworkBoot"),
        Attribute("QuietBoot", None, False),
    )


class BiosError(ValueError):
    """An attribute name or value the BIOS does not have; `name` says which."""

    def __init__(self, name: str, value: object, unknown: bool) -> None:
        super().__init__(f"{name}={value!r}")
        self.name = name
        self.value = value
        self.unknown = unknown


def defaults(uefi: bool) -> dict[str, Any]:
    return {a.name: a.default for a in attributes(uefi)}


def _record(state: State) -> dict[str, Any]:
    # "current" holds only what a boot applied: an attribute never set follows its default
    # (BootMode follows the firmware the config gives).
    record = state.extra.setdefault(BIOS_KEY, {})
    record.setdefault("current", {})
    record.setdefault("pending", {})
    record.setdefault("reset_pending", False)
    record.setdefault("applied_at", None)
    return record


def current(state: State, uefi: bool) -> dict[str, Any]:
    known = defaults(uefi)
    applied = {k: v for k, v in _record(state)["current"].items() if k in known}
    return {**known, **applied}


def pending(state: State, uefi: bool) -> dict[str, Any]:
    """The attributes the next boot will have (current with the pending changes)."""
    record = _record(state)
    base = defaults(uefi) if record["reset_pending"] else current(state, uefi)
    return {**base, **record["pending"]}


def reset_pending(state: State) -> bool:
    return bool(_record(state)["reset_pending"])


def applied_at(state: State) -> float | None:
    value = _record(state)["applied_at"]
    return None if value is None else float(value)


def check(changes: dict[str, Any], uefi: bool) -> None:
    """Raise BiosError for the first unknown attribute or value not allowed."""
    table = {a.name: a for a in attributes(uefi)}
    for name, value in changes.items():
        attribute = table.get(name)
        if attribute is None:
            raise BiosError(name, value, unknown=True)
        if attribute.values is None:
            if not isinstance(value, bool):
                raise BiosError(name, value, unknown=False)
        elif value not in attribute.values:
            raise BiosError(name, value, unknown=False)


def set_pending(state: State, uefi: bool, changes: dict[str, Any]) -> None:
    """Store attributes for the next boot; every value is checked before any is kept."""
    check(changes, uefi)
    _record(state)["pending"].update(changes)


def reset_to_defaults(state: State) -> None:
    """ResetBios: every attribute goes back to its default at the next boot."""
    record = _record(state)
    record["reset_pending"] = True
    record["pending"] = {}


def apply_at_boot(state: State, uefi: bool, wall_time: float) -> bool:
    """The machine boots: pending attributes become current (and the Secure Boot setting
    takes effect). True when something was applied."""
    record = _record(state)
    applied = bool(record["pending"]) or bool(record["reset_pending"])
    if applied:
        base = {} if record["reset_pending"] else record["current"]
        record["current"] = {**base, **record["pending"]}
        record["pending"] = {}
        record["reset_pending"] = False
        record["applied_at"] = wall_time
    secure = _secure_record(state)
    booted_secure = secure["enable"] and current(state, uefi)["BootMode"] == "Uefi" \
        and secure["mode"] != "SetupMode"
    if secure["current_boot"] != booted_secure:
        secure["current_boot"] = booted_secure
        applied = True
    return applied


# ----------------------------------------------------------------- BIOS passwords
PASSWORD_NAMES = ("AdminPassword", "UserPassword")
PASSWORD_MAX = 32
_PBKDF2_ROUNDS = 100_000


def _password_hash(password: str, salt: bytes) -> str:
    return hashlib.pbkdf2_hmac("sha256", password.encode(), salt, _PBKDF2_ROUNDS).hex()


def password_set(state: State, name: str) -> bool:
    return name in _record(state).setdefault("passwords", {})


def change_password(state: State, name: str, old: str, new: str) -> bool:
    """Bios.ChangePassword: only a salted hash is kept (a state file never holds the
    password). False when `old` does not match the password set (none set: "" matches)."""
    if name not in PASSWORD_NAMES:
        raise ValueError(name)
    passwords = _record(state).setdefault("passwords", {})
    stored = passwords.get(name)
    if stored is None:
        if old:
            return False
    elif not hmac.compare_digest(
            _password_hash(old, bytes.fromhex(stored["salt"])), stored["hash"]):
        return False
    if new:
        salt = os.urandom(16)
        passwords[name] = {"salt": salt.hex(), "hash": _password_hash(new, salt)}
    else:  # an empty new password clears it
        passwords.pop(name, None)
    return True


# ----------------------------------------------------------------- Secure Boot
def _secure_record(state: State) -> dict[str, Any]:
    record = state.extra.setdefault(SECURE_BOOT_KEY, {})
    record.setdefault("enable", False)
    record.setdefault("current_boot", False)
    record.setdefault("mode", "UserMode")  # keys enrolled (OVMF's default PK/KEK/db)
    record.setdefault("deleted", [])  # the key databases emptied (SecureBootDatabases)
    return record


@dataclass(frozen=True)
class SecureBoot:
    enable: bool  # what the next boot does
    current_boot: bool  # what this boot did (enabled, UEFI, keys enrolled)
    mode: str


def secure_boot(state: State) -> SecureBoot:
    record = _secure_record(state)
    return SecureBoot(bool(record["enable"]), bool(record["current_boot"]), str(record["mode"]))


def set_secure_boot(state: State, enable: bool) -> None:
    _secure_record(state)["enable"] = enable


def reset_keys(state: State, reset_type: str) -> None:
    """SecureBoot.ResetKeys: default keys back (UserMode), or the platform key (and the
    others) deleted, which leaves the firmware in SetupMode with Secure Boot off."""
    if reset_type not in RESET_KEYS_TYPES:
        raise ValueError(reset_type)
    record = _secure_record(state)
    record["mode"] = "UserMode" if reset_type == "ResetAllKeysToDefault" else "SetupMode"
    record["deleted"] = {"ResetAllKeysToDefault": [], "DeletePK": ["PK"],
                         "DeleteAllKeys": list(KEY_DATABASES)}[reset_type]
    if record["mode"] == "SetupMode":
        record["enable"] = False


KEY_DATABASES = ("PK", "KEK", "db", "dbx")
DATABASE_RESET_TYPES = ("ResetAllKeysToDefault", "DeleteAllKeys")


def database_deleted(state: State, database: str) -> bool:
    return database in _secure_record(state)["deleted"]


def reset_database(state: State, database: str, reset_type: str) -> None:
    """SecureBootDatabase.ResetKeys on one database. As in UEFI, the mode follows the PK
    alone: without it the firmware is in SetupMode (Secure Boot off), with it in UserMode."""
    if database not in KEY_DATABASES or reset_type not in DATABASE_RESET_TYPES:
        raise ValueError((database, reset_type))
    record = _secure_record(state)
    deleted = set(record["deleted"])
    if reset_type == "DeleteAllKeys":
        deleted.add(database)
    else:
        deleted.discard(database)
    record["deleted"] = [d for d in KEY_DATABASES if d in deleted]
    if "PK" in deleted:
        record["mode"], record["enable"] = "SetupMode", False
    else:
        record["mode"] = "UserMode"
