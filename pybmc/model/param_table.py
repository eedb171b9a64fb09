"""Configuration-parameter tables: specs, raw-bytes storage, set and block selectors.

The LAN (with its IPv6 part) and SOL parameter families are tables of `ParameterSpec`s over
one raw-bytes dict of the BMC state; `pybmc.model.lan_params` and `pybmc.model.lan6_params`
hold the tables themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from pybmc.wire.codes import Cc

if TYPE_CHECKING:
    from pybmc.config.bmc import BmcConfig
    from pybmc.model.state import State

# Completion codes the configuration-parameter commands define for themselves.
CC_PARAMETER_NOT_SUPPORTED = 0x80
CC_SET_IN_PROGRESS_HELD = 0x81
CC_READ_ONLY = 0x82

SET_COMPLETE = 0
SET_IN_PROGRESS = 1
COMMIT_WRITE = 2


class Lan(Protocol):
    """What parameter defaults and checks read of the BMC (`pybmc.model.lan.Lan` is one);
    declared here so that the tables need not import the class that serves them."""

    name: str
    config: BmcConfig
    state: State

    def cipher_suites(self) -> tuple[int, ...]: ...

    def mac(self) -> str: ...


class ParameterError(Exception):
    """A Get/Set of a configuration parameter that ends with this completion code."""

    def __init__(self, cc: int, reason: str) -> None:
        super().__init__(reason)
        self.cc = cc


Default = Callable[["Lan", int], bytes]  # (lan, set selector) -> the value when none is stored
Check = Callable[["Lan", bytes], str | None]  # -> why the value is invalid, or None
View = Callable[["Lan", bytes], bytes]  # what a Get shows of a value (read-only fields filled)


def fixed(value: bytes) -> Default:
    return lambda _lan, _selector: value


def any_value(_lan: Lan, _data: bytes) -> str | None:
    return None


def as_stored(_lan: Lan, value: bytes) -> bytes:
    return value


@dataclass(frozen=True)
class ParameterSpec:
    """One configuration parameter: its length, default, and what a Set may write.

    A parameter with a `block_limit` has a set selector and a block selector as its first two
    bytes (a DUID stored 16 bytes at a time); its `default` gives the block's data only."""

    number: int
    name: str
    length: int  # data length a Set must have (read-only ones: 0)
    default: Default
    check: Check = any_value
    writable: bool = True
    selector_limit: int | None = None  # parameters whose first byte is a set selector
    block_limit: int | None = None  # ... and whose second byte is a block selector
    view: View = as_stored


@dataclass
class SetLock:
    """The "set in progress" parameter of one family; `since` is when it was taken (ctx.now)."""

    state: int = SET_COMPLETE
    since: float = 0.0
    changed: set[int] = field(default_factory=set)  # parameters set while it was held


class ParameterFamily:
    """LAN or SOL parameters: a table of specs over one raw-bytes dict of the BMC state."""

    def __init__(self, name: str, specs: Iterable[ParameterSpec],
                 storage: Callable[[Lan], dict[str, bytes]]) -> None:
        self.name = name
        self.specs = {spec.number: spec for spec in specs}
        self.storage = storage

    def spec(self, number: int) -> ParameterSpec:
        spec = self.specs.get(number)
        if spec is None:
            raise ParameterError(CC_PARAMETER_NOT_SUPPORTED,
                                 f"{self.name} parameter {number} is not supported")
        return spec

    def get(self, lan: Lan, number: int, selector: int = 0, block: int = 0) -> bytes:
        """The value a Get returns (after the revision byte); raises ParameterError."""
        spec = self.spec(number)
        selector = self._checked_selector(spec, selector)
        block = self._checked_block(spec, block)
        stored = self.storage(lan).get(_key(spec, selector, block))
        if stored is None:
            stored = spec.default(lan, selector)
            if spec.block_limit is not None:
                stored = bytes([selector, block]) + stored
        return spec.view(lan, stored)

    def set(self, lan: Lan, number: int, data: bytes) -> None:
        """Validate and store a value exactly as given; raises ParameterError."""
        spec = self.spec(number)
        if not spec.writable:
            raise ParameterError(CC_READ_ONLY, f"{self.name} parameter {number} is read-only")
        if len(data) != spec.length:
            raise ParameterError(Cc.REQUEST_DATA_LENGTH_INVALID,
                                 f"{self.name} parameter {number} takes {spec.length} bytes, "
                                 f"got {len(data)}")
        selector = block = 0
        if spec.selector_limit is not None:
            if data[0] & 0xF0:
                raise ParameterError(Cc.INVALID_DATA_FIELD, "reserved selector bits set")
            selector = self._checked_selector(spec, data[0])
        if spec.block_limit is not None:
            block = self._checked_block(spec, data[1])
        problem = spec.check(lan, data)
        if problem:
            raise ParameterError(Cc.INVALID_DATA_FIELD,
                                 f"{self.name} parameter {number} ({spec.name}): {problem}")
        self.storage(lan)[_key(spec, selector, block)] = bytes(data)

    def _checked_selector(self, spec: ParameterSpec, selector: int) -> int:
        if spec.selector_limit is None:
            return 0  # the spec says "00h if not used"; ignore whatever came
        if not 0 <= selector <= spec.selector_limit:
            raise ParameterError(Cc.INVALID_DATA_FIELD,
                                 f"{self.name} parameter {spec.number}: set selector {selector} "
                                 f"is not 0..{spec.selector_limit}")
        return selector

    def _checked_block(self, spec: ParameterSpec, block: int) -> int:
        if spec.block_limit is None:
            return 0
        if not 0 <= block <= spec.block_limit:
            # Clients walk the blocks until this error (ipmitool `lan6 print`).
            raise ParameterError(Cc.INVALID_DATA_FIELD,
                                 f"{self.name} parameter {spec.number}: block selector {block} "
                                 f"is not 0..{spec.block_limit}")
        return block


def _key(spec: ParameterSpec, selector: int, block: int) -> str:
    if spec.block_limit is not None:
        return f"{spec.number}.{selector}.{block}"
    return f"{spec.number}.{selector}" if spec.selector_limit is not None else str(spec.number)
