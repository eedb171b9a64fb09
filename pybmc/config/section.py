"""What every config section reader shares: ConfigError and the table reader that names the file
and key in every error and reports unknown keys."""

from __future__ import annotations

import ipaddress
from typing import Any


class ConfigError(Exception):
    """A configuration problem, already phrased as one line for the user."""


class _Section:
    """Reads one TOML table, remembering which keys were used so leftovers are reported."""

    def __init__(self, source: str, name: str, table: Any) -> None:
        self.source = source
        self.name = name
        if not isinstance(table, dict):
            raise self.error(None, "must be a table")
        self.table: dict[str, Any] = table
        self.used: set[str] = set()

    def error(self, key: str | None, message: str) -> ConfigError:
        where = f"[{self.name}]" + (f" {key}" if key else "")
        return ConfigError(f"{self.source}: {where}: {message}")

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = None,
            required: bool = False) -> Any:
        self.used.add(key)
        if key not in self.table:
            if required:
                raise self.error(key, "is required")
            return default
        value = self.table[key]
        # bool is an int in Python; a number key given `true` is still a mistake.
        if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
            raise self.error(key, f"must be {_kind_name(kind)}, not a boolean")
        if not isinstance(value, kind):
            raise self.error(key, f"must be {_kind_name(kind)}, got {value!r}")
        return value

    def number(self, key: str, default: float, low: float, high: float) -> float:
        value = self.get(key, (int, float), default)
        if not low <= value <= high:
            raise self.error(key, f"must be between {low} and {high}, got {value}")
        return float(value)

    def integer(self, key: str, default: int, low: int, high: int) -> int:
        value = self.get(key, int, default)
        if not low <= value <= high:
            raise self.error(key, f"must be between {low} and {high}, got {value}")
        return int(value)

    def choice(self, key: str, choices: tuple[str, ...], default: str) -> str:
        value = self.get(key, str, default)
        if value not in choices:
            raise self.error(key, f"must be one of {', '.join(choices)}; got {value!r}")
        return value

    def ipv4(self, key: str, default: str, required: bool = False) -> str:
        value = self.get(key, str, default, required)
        try:
            return str(ipaddress.IPv4Address(value))
        except ValueError:
            raise self.error(key, f"is not an IPv4 address: {value!r}") from None

    def mac(self, key: str, default: str) -> str:
        value = self.get(key, str, default)
        if value and not _is_mac(value):
            raise self.error(key, f"is not a MAC address like 52:54:00:12:34:56: {value!r}")
        return value.lower()

    def finish(self) -> None:
        extra = sorted(set(self.table) - self.used)
        if extra:
            raise self.error(extra[0], "is not a known key")


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if kinds == (int, float):
        return "a number"
    names = {int: "an integer", float: "a number", str: "a string", bool: "true or false",
             list: "a list", dict: "a table"}
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _is_mac(text: str) -> bool:
    parts = text.split(":")
    return len(parts) == 6 and all(
        len(p) == 2 and all(c in "0123456789abcdefABCDEF" for c in p) for p in parts
    )
