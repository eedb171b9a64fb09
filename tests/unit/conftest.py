"""Shared unit-test fixtures: a Bmc built from a small in-memory config in a temporary dir.

A module that needs other defaults overrides `bmc_sections` (config sections every Bmc of that
module gets) or `prepare_bmc` (what to do to a fresh Bmc, e.g. pin its clocks)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pybmc.config.bmc import parse_config
from pybmc.core.bmc import Bmc

ADMIN = {"name": "admin", "password": "secret"}

MakeBmc = Callable[..., Bmc]


@pytest.fixture
def bmc_sections() -> dict[str, Any]:
    """Config sections (users, power, security...) for every Bmc the module's tests build."""
    return {"users": [ADMIN]}


@pytest.fixture
def prepare_bmc() -> Callable[[Bmc], None]:
    """Applied to every freshly built Bmc; modules override it to pin clocks."""
    return lambda bmc: None


@pytest.fixture
def bmc_clock() -> Callable[[], float] | None:
    """The clock every Bmc of the module reads (None: the real one); modules with timed
    behaviour override it with a FakeClock (tests/unit/clock.py)."""
    return None


@pytest.fixture
def make_bmc(tmp_path: Path, bmc_sections: dict[str, Any],
             prepare_bmc: Callable[[Bmc], None],
             bmc_clock: Callable[[], float] | None) -> MakeBmc:
    """Build a Bmc: `make_bmc()` keeps its state in tmp_path, `make_bmc(dir)` elsewhere (the
    same dir again is a restart); keyword sections replace the module's defaults."""
    def make(state_dir: Path | None = None, **sections: Any) -> Bmc:
        directory = tmp_path if state_dir is None else state_dir
        config = parse_config({
            "bmc": {"name": "t", "address": "127.0.0.2", "state_dir": str(directory)},
            **bmc_sections,
            **sections,
        })
        bmc = Bmc(config) if bmc_clock is None else Bmc(config, clock=bmc_clock)
        prepare_bmc(bmc)
        return bmc
    return make


@pytest.fixture
def bmc(make_bmc: MakeBmc) -> Bmc:
    return make_bmc()
