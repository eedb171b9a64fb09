"""One copy of equal config sections across the BMCs of a process.

A fleet's files mostly repeat each other: the same [[sensors]], [fru], [security] and
[[users]] in a thousand files. `share_sections` gives a parsed file's tables back with every
section equal to one seen before replaced by that earlier (equal) copy, and the keys interned,
so a 1000-BMC process keeps one copy of each section instead of a thousand; `memo_by_section`
lets a parser of such a section (the sensor specs) run once per distinct section, and
`shared_value` does the same for the parsed (frozen) parts of the configs.

Shared sections are read, never changed: nothing in pybmc writes into `BmcConfig.raw`. At most
`LIMIT` distinct sections are kept (unique ones, a [lan] with its MAC, stop being kept then).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

LIMIT = 4096
# [bmc] names the BMC and its address: never equal to another's, and every key of it is a
# field of BmcConfig (unknown keys are refused), so `raw` leaves it out.
LEFT_OUT = frozenset({"bmc"})

_CANONICAL: dict[Hashable, Any] = {}
_KEPT_IDS: set[int] = set()  # ids of the kept copies (alive for the process's life)
_MEMOS: dict[tuple[str, int], Any] = {}
_VALUES: dict[Any, Any] = {}

T = TypeVar("T")


def freeze(value: Any) -> Hashable:
    """A hashable stand-in for a TOML value; equal only for values of equal types (1 and
    True, 1 and 1.0 stay apart)."""
    if isinstance(value, dict):
        return ("d", tuple((key, freeze(item)) for key, item in value.items()))
    if isinstance(value, list):
        return ("l", tuple(freeze(item) for item in value))
    return (type(value).__name__, value)


def _interned(value: Any) -> Any:
    if isinstance(value, dict):
        return {sys.intern(key) if isinstance(key, str) else key: _interned(item)
                for key, item in value.items()}
    if isinstance(value, list):
        return [_interned(item) for item in value]
    return value


def shared(value: Any) -> Any:
    """`value`, or the equal copy kept earlier."""
    if not isinstance(value, (dict, list)):
        return value
    try:
        key = freeze(value)
        found = _CANONICAL.get(key)
    except TypeError:  # an unhashable leaf: TOML has none, a caller's dict might
        return value
    if found is not None:
        return found
    copy = _interned(value)
    if len(_CANONICAL) < LIMIT:
        _CANONICAL[key] = copy
        _KEPT_IDS.add(id(copy))
    return copy


def share_sections(data: dict[str, Any]) -> dict[str, Any]:
    """A file's tables but [bmc], each section shared (the caller's dict is left as it was)."""
    return {sys.intern(name): shared(section) for name, section in data.items()
            if name not in LEFT_OUT}


def shared_value(value: T) -> T:
    """`value`, or an equal one kept earlier: for immutable values (frozen dataclasses of a
    config), of which a fleet has a few distinct ones and a thousand copies."""
    try:
        found = _VALUES.get(value)
    except TypeError:  # unhashable
        return value
    if found is not None:
        return found  # type: ignore[no-any-return]
    if len(_VALUES) < LIMIT:
        _VALUES[value] = value
    return value


def memo_by_section(kind: str, section: Any, parse: Callable[[], T]) -> T:
    """`parse()`, once per kept section: its result must depend on the section alone (a
    parse that raises is not remembered, so each file gets its own error)."""
    if section is not None and id(section) not in _KEPT_IDS:
        return parse()
    key = (kind, id(section))  # None (the section is absent) lives as long as the process
    if key in _MEMOS:
        return _MEMOS[key]  # type: ignore[no-any-return]
    result = parse()
    _MEMOS[key] = result
    return result
