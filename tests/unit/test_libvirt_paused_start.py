"""A libvirt power on with the console wired (`before_run` set): the domain is created paused
and resumed once the console is open, also when the wait fails. libvirt's test driver has no
VIR_DOMAIN_START_PAUSED: the paused start is create() + suspend() there, and without the
patch the fallback (a plain create) is what is tested."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from pybmc.edge.power.libvirt_power import LibvirtPower
from pybmc.model.power import PowerAction

libvirt = pytest.importorskip("libvirt")

from tests.unit.test_libvirt_power import make, other, until  # noqa: E402, F401  (fixtures)


def paused_start(power: LibvirtPower) -> None:
    """What a driver with VIR_DOMAIN_START_PAUSED does (QEMU's), on the BMC's domain."""
    dom = power._dom

    def create_with_flags(flags: int) -> int:
        assert flags == libvirt.VIR_DOMAIN_START_PAUSED
        dom.create()
        dom.suspend()
        return 0

    dom.createWithFlags = create_with_flags


async def test_a_power_on_waits_paused_until_the_console_is_open(
        make: Callable[..., Any]) -> None:  # noqa: F811
    dom, power, _ = await make()
    gate = asyncio.Event()
    states: list[int] = []

    async def console_open() -> None:
        states.append(dom.state()[0])
        await gate.wait()

    paused_start(power)
    power.before_run = console_open
    power.request(PowerAction.ON)
    await until(lambda: bool(states), "before_run called")
    assert states == [libvirt.VIR_DOMAIN_PAUSED]
    assert power.is_on()  # powered: the guest just has not run its first instruction yet
    gate.set()
    await until(lambda: dom.state()[0] == libvirt.VIR_DOMAIN_RUNNING, "resumed")


async def test_the_domain_runs_even_if_the_console_wait_fails(
        make: Callable[..., Any]) -> None:  # noqa: F811
    dom, power, _ = await make()

    async def broken() -> None:
        raise RuntimeError("no console")

    paused_start(power)
    power.before_run = broken
    power.request(PowerAction.ON)
    await until(lambda: dom.isActive() and dom.state()[0] == libvirt.VIR_DOMAIN_RUNNING,
                "running")


async def test_a_driver_without_paused_starts_creates_a_running_domain(
        make: Callable[..., Any]) -> None:  # noqa: F811
    dom, power, _ = await make()
    called: list[bool] = []

    async def console_open() -> None:
        called.append(True)

    power.before_run = console_open  # the test driver refuses START_PAUSED: a plain create
    power.request(PowerAction.ON)
    await until(lambda: dom.isActive(), "started")
    assert dom.state()[0] == libvirt.VIR_DOMAIN_RUNNING and power.is_on()
    assert called == []  # nothing to wait for: the guest already runs
