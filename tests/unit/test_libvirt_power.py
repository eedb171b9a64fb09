"""The libvirt power backend against libvirt's built-in test driver (test:///default, no daemon).

The test driver supports define, create, destroy, shutdown, reset, injectNMI and lifecycle
events; it sends no REBOOT events (reset() there is silent) and has no updateDeviceFlags, so
reboot coalescing is driven by calling the backend's REBOOT handler, with a fake clock.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from pybmc.config.bmc import LibvirtConfig, parse_config
from pybmc.edge.power.libvirt_connection import forget_connections
from pybmc.model.inventory import firmware_is_uefi, inventory
from pybmc.model.libvirt_boot import boot_order
from pybmc.model.power import BootChoice, PowerAction, PowerError, PowerEvent

libvirt = pytest.importorskip("libvirt")

from pybmc.edge.power.libvirt_power import (  # noqa: E402
    LibvirtPower,
    NoSuchDomain,
    libvirt_bmc_config,
)

URI = "test:///default"


def domain_xml(name: str, boot: str = "os") -> str:
    os_boot = "<boot dev='hd'/><boot dev='network'/>" if boot == "os" else ""
    disk_boot = "<boot order='1'/>" if boot == "device" else ""
    return f"""<domain type='test'><name>{name}</name><uuid>{uuid.uuid4()}</uuid>
<memory unit='MiB'>512</memory><vcpu>2</vcpu>
<os><type arch='x86_64'>hvm</type>{os_boot}</os>
<devices>
<disk type='file' device='disk'><source file='/img/{name}.qcow2'/>
<target dev='vda' bus='virtio'/>{disk_boot}</disk>
<disk type='file' device='cdrom'><target dev='hdc' bus='ide'/><readonly/></disk>
<interface type='network'><mac address='52:54:00:AA:BB:01'/><source network='default'/>
<model type='virtio'/></interface>
</devices></domain>"""


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Recorder:
    """The BMC side: PowerEvents in, BootChoices out (one-time ones used up)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []
        self.choices: list[BootChoice] = []
        self.persistent: BootChoice | None = None

    def __call__(self, event: PowerEvent) -> BootChoice | None:
        self.events.append((event.kind, event.cause))
        if event.kind != "boot":
            return None
        if self.choices:
            return self.choices.pop(0)
        return self.persistent or BootChoice()

    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.events]


async def until(condition: Callable[[], bool], what: str) -> None:
    for _ in range(400):  # bounded: 4 s of 10 ms steps
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never happened: {what}")


@pytest.fixture
async def other() -> AsyncIterator[Any]:
    """A second connection: what virsh would do behind the BMC's back."""
    conn = libvirt.open(URI)
    yield conn
    conn.close()


@pytest.fixture
async def make(other: Any) -> AsyncIterator[Callable[..., Any]]:
    made: list[tuple[Any, LibvirtPower]] = []

    async def build(boot: str = "os", initially_on: bool = False,
                    clock: Clock | None = None) -> tuple[Any, LibvirtPower, Recorder]:
        name = f"pybmc-u-{uuid.uuid4().hex[:8]}"
        dom = other.defineXML(domain_xml(name, boot))
        power = LibvirtPower(name, LibvirtConfig(URI, name), initially_on=initially_on,
                             cycle_interval=0.0, clock=clock or Clock())
        recorder = Recorder()
        power.set_listener(recorder)
        await power.start()
        await until(lambda: power._dom is not None, "connected")
        made.append((dom, power))
        return dom, power, recorder

    yield build
    for dom, power in made:
        await power.stop()
        if dom.isActive():
            dom.destroy()
        dom.undefine()
    forget_connections()


async def idle(power: LibvirtPower) -> None:
    await until(lambda: power._pending == 0, "actions done")
    await asyncio.sleep(0.02)  # events of the last call dispatched


def orders(dom: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(live, persistent) boot order."""
    return boot_order(dom.XMLDesc(0)), boot_order(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))


async def test_power_on_off_soft_reset_nmi(make: Callable[..., Any]) -> None:
    dom, power, recorder = await make()
    assert not power.is_on() and recorder.events == []
    power.request(PowerAction.ON)
    await idle(power)
    assert dom.isActive() and power.is_on()
    assert recorder.kinds() == ["boot", "on"]
    power.request(PowerAction.RESET)
    power.request(PowerAction.DIAG)
    await idle(power)
    assert dom.isActive() and power.reboots == 1
    assert recorder.kinds() == ["boot", "on", "boot"]
    power.request(PowerAction.SOFT_OFF)
    await idle(power)
    await until(lambda: not power.is_on(), "soft off seen")
    assert not dom.isActive()
    assert recorder.events[-1] == ("off", "soft off")
    with pytest.raises(PowerError):
        power.request(PowerAction.RESET)
    power.request(PowerAction.CYCLE)  # a cycle of an off machine powers it on
    await idle(power)
    assert dom.isActive()
    power.request(PowerAction.OFF)
    await idle(power)
    assert not dom.isActive() and not power.is_on()
    assert recorder.events[-1] == ("off", "chassis control")


async def test_changes_behind_the_bmc_come_as_events(make: Callable[..., Any],
                                                     other: Any) -> None:
    dom, power, recorder = await make()
    dom.create()  # virsh start
    await until(power.is_on, "start seen")
    await idle(power)
    assert recorder.events == [("on", "domain started"), ("boot", "domain started")]
    dom.destroy()  # virsh destroy
    await until(lambda: not power.is_on(), "destroy seen")
    assert recorder.events[-1] == ("off", "domain destroyed")
    dom.create()
    await until(power.is_on, "start seen again")
    dom.shutdown()  # the guest powers off
    await until(lambda: not power.is_on(), "guest power off seen")
    assert recorder.events[-1] == ("off", "guest power off")


async def test_one_time_override_lands_before_start_and_is_undone(
        make: Callable[..., Any]) -> None:
    dom, power, recorder = await make()
    assert orders(dom) == (("hd", "network"), ("hd", "network"))
    recorder.choices = [BootChoice("pxe")]
    power.request(PowerAction.ON)
    await idle(power)
    live, persistent = orders(dom)
    assert live == ("network", "hd")  # the running domain booted with it
    assert persistent == ("hd", "network")  # the definition is as before
    # The next reset boots the default order: the running order differs, so destroy+create.
    power.request(PowerAction.RESET)
    await idle(power)
    assert dom.isActive() and orders(dom) == (("hd", "network"), ("hd", "network"))
    assert power.is_on()
    assert [kind for kind in recorder.kinds() if kind != "boot"] == ["on"]  # no off seen


async def test_persistent_override_stays(make: Callable[..., Any]) -> None:
    dom, power, recorder = await make()
    recorder.persistent = BootChoice("pxe", persistent=True)
    power.request(PowerAction.ON)
    await idle(power)
    assert orders(dom) == (("network", "hd"), ("network", "hd"))
    power.request(PowerAction.OFF)
    power.request(PowerAction.ON)
    await idle(power)
    assert orders(dom) == (("network", "hd"), ("network", "hd"))


async def test_override_by_device_boot_order(make: Callable[..., Any]) -> None:
    dom, power, recorder = await make(boot="device")
    recorder.choices = [BootChoice("cdrom")]
    power.request(PowerAction.ON)
    await idle(power)
    live, persistent = orders(dom)
    assert live == ("disk:hdc", "disk:vda")
    assert persistent == ("disk:vda",)


async def test_reboot_events_of_one_reset_count_once(make: Callable[..., Any]) -> None:
    clock = Clock()
    _dom, power, recorder = await make(clock=clock)
    power.request(PowerAction.ON)
    await idle(power)
    power.request(PowerAction.RESET)
    await idle(power)
    for _ in range(4):  # what QEMU reports for one reset (the test driver sends none)
        clock.now += 0.3
        power._rebooted()
    await idle(power)
    assert power.reboots == 1
    assert recorder.kinds().count("boot") == 2  # power-on and the reset
    clock.now += 10  # a guest reboot later: counted, with its own boot event
    power._rebooted()
    clock.now += 0.2
    power._rebooted()
    await idle(power)
    assert power.reboots == 2
    assert recorder.events[-1] == ("boot", "guest reboot")


async def test_guest_reboot_with_another_order_restarts_the_domain(
        make: Callable[..., Any]) -> None:
    dom, power, recorder = await make()
    power.request(PowerAction.ON)
    await idle(power)
    recorder.choices = [BootChoice("pxe")]
    power._rebooted()
    await idle(power)
    assert dom.isActive() and orders(dom) == (("network", "hd"), ("hd", "network"))


async def test_restore_policy_powers_on(make: Callable[..., Any]) -> None:
    dom, power, _recorder = await make(initially_on=True)
    await idle(power)
    assert dom.isActive() and power.is_on()


async def test_unknown_domain_refuses_with_a_completion_code() -> None:
    power = LibvirtPower("ghost", LibvirtConfig(URI, "no-such-domain"))
    power.set_listener(Recorder())
    await power.start()
    await asyncio.sleep(0.05)
    try:
        with pytest.raises(PowerError):
            power.request(PowerAction.ON)
    finally:
        await power.stop()
        forget_connections()


async def test_start_outside_honours_the_boot_override(make: Callable[..., Any]) -> None:
    dom, power, recorder = await make()
    recorder.choices = [BootChoice("pxe")]
    dom.create()  # virsh start, with a one-time PXE boot pending
    await until(power.is_on, "start seen")
    await idle(power)
    assert dom.isActive() and orders(dom) == (("network", "hd"), ("hd", "network"))
    assert [kind for kind in recorder.kinds() if kind != "boot"] == ["on"]


async def test_reconnect_rereads_state(make: Callable[..., Any]) -> None:
    dom, power, recorder = await make()
    shared = power.shared
    first = shared.connects
    shared.lost("test")  # what the close callback does when libvirtd goes away
    assert power._domain_or_none() is None
    dom.create()  # changed while disconnected: no event reaches the BMC
    await until(lambda: shared.connects > first and power._dom is not None, "reconnected")
    await until(power.is_on, "state re-read")
    assert recorder.events[-1] == ("on", "domain started")
    power.request(PowerAction.OFF)
    await idle(power)
    assert not dom.isActive()


async def test_inventory_and_guid_from_the_domain(other: Any) -> None:
    name = f"pybmc-u-{uuid.uuid4().hex[:8]}"
    dom = other.defineXML(domain_xml(name))
    try:
        config = parse_config({"bmc": {"name": "n1", "address": "127.0.0.1"},
                               "power": {"backend": "libvirt"},
                               "libvirt": {"uri": URI, "domain": name}})
        served = libvirt_bmc_config(config)
        assert str(served.guid) == dom.UUIDString()
        inv = inventory(served)
        assert inv.memory_mib == 512 and inv.processors.logical == 2
        assert [n.mac for n in inv.nics] == ["52:54:00:aa:bb:01"]
        assert [d.path for d in inv.disks] == [f"/img/{name}.qcow2"]
        assert not firmware_is_uefi(served)
        with pytest.raises(NoSuchDomain, match="no domain 'no-such-domain'"):
            libvirt_bmc_config(parse_config({
                "bmc": {"name": "n2", "address": "127.0.0.1"}, "power": {"backend": "libvirt"},
                "libvirt": {"uri": URI, "domain": "no-such-domain"}}))
        unreachable = parse_config({
            "bmc": {"name": "n3", "address": "127.0.0.1"}, "power": {"backend": "libvirt"},
            "libvirt": {"uri": "qemu+unix:///system?socket=/tmp/pybmc-no-such.sock",
                        "domain": name}})
        assert libvirt_bmc_config(unreachable) is unreachable  # retried by the backend
    finally:
        dom.undefine()
        forget_connections()


def test_config_needs_a_domain() -> None:
    from pybmc.config.bmc import ConfigError

    with pytest.raises(ConfigError, match=r"\[libvirt\] domain"):
        parse_config({"bmc": {"name": "n", "address": "127.0.0.1"},
                      "power": {"backend": "libvirt"}})
    config = parse_config({"bmc": {"name": "n", "address": "127.0.0.1"},
                           "power": {"backend": "libvirt"}, "libvirt": {"domain": "d"}})
    assert config.libvirt.uri == "qemu:///system"


async def test_domain_defined_after_the_bmc_started_is_found(other: Any,
                                                             caplog: Any) -> None:
    """libvirt's connection-wide DEFINED/UNDEFINED events: a missing domain is found once it
    is defined, an undefined one reads off and is refused with 0xD5 (logged), and a domain of
    the same name defined again (another UUID) is driven from then on."""
    name = f"pybmc-u-{uuid.uuid4().hex[:8]}"
    power = LibvirtPower(name, LibvirtConfig(URI, name), cycle_interval=0.0)
    recorder = Recorder()
    power.set_listener(recorder)
    await power.start()
    doms: list[Any] = []
    try:
        await until(lambda: power.shared.current() is not None, "connected")
        await asyncio.sleep(0.02)
        assert power._dom is None
        with pytest.raises(PowerError) as refused:
            power.request(PowerAction.ON)
        assert refused.value.cc == 0xD5
        doms.append(other.defineXML(domain_xml(name)))  # virsh define
        await until(lambda: power._dom is not None, "the defined domain found")
        power.request(PowerAction.ON)
        await idle(power)
        assert doms[0].isActive() and power.is_on()
        doms[0].destroy()
        await until(lambda: not power.is_on(), "destroy seen")
        caplog.clear()
        doms[0].undefine()  # virsh undefine
        await until(lambda: power._dom is None, "the undefine seen")
        assert recorder.events[-1] == ("off", "domain destroyed")  # already off: no new event
        assert "is gone (undefined)" in caplog.text
        with pytest.raises(PowerError) as refused:
            power.request(PowerAction.ON)
        assert refused.value.cc == 0xD5 and "refusing power on" in caplog.text
        doms.append(other.defineXML(domain_xml(name)))  # the same name, another UUID
        await until(lambda: power._dom is not None, "the redefined domain found")
        assert power._uuid == doms[1].UUIDString().lower()
        power.request(PowerAction.ON)
        await idle(power)
        assert doms[1].isActive() and power.is_on()
        # pybmc's own defineXML (a one-time boot order) is no reason to look it up again
        bound = power._dom
        power.request(PowerAction.OFF)
        recorder.choices = [BootChoice("pxe")]
        power.request(PowerAction.ON)
        await idle(power)
        assert power._dom is bound and doms[1].isActive()
    finally:
        await power.stop()
        for dom in doms[1:]:
            if dom.isActive():
                dom.destroy()
            dom.undefine()
        forget_connections()


async def test_undefined_while_running_then_stopped_reads_off(make: Callable[..., Any],
                                                              other: Any) -> None:
    """A running domain undefined stays driven (libvirt keeps it, transient) until it stops;
    then it is gone: off in Chassis Status, requests refused, no traceback."""
    dom, power, recorder = await make()
    power.request(PowerAction.ON)
    await idle(power)
    xml = dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
    another = other.defineXML(domain_xml(f"{dom.name()}-x"))  # another domain: no effect
    dom.undefine()
    await asyncio.sleep(0.05)
    assert power._dom is not None and power.is_on()
    power.request(PowerAction.OFF)  # destroy(): the transient domain is no more
    await idle(power)
    await until(lambda: power._dom is None, "the stopped transient domain is gone")
    assert not power.is_on()
    with pytest.raises(PowerError):
        power.request(PowerAction.ON)
    other.defineXML(xml)  # defined again (for the fixture's clean-up)
    await until(lambda: power._dom is not None, "found again")
    another.undefine()
    assert ("off", "chassis control") in recorder.events


def test_a_slow_libvirt_call_is_logged(monkeypatch: pytest.MonkeyPatch, caplog: Any) -> None:
    """How long a call took (DEBUG), measured in the e2e tests (docs/libvirt.md)."""
    import logging

    from pybmc.edge.power import libvirt_connection

    ticks = iter([10.0, 10.3, 20.0, 20.01])
    monkeypatch.setattr(libvirt_connection.time, "monotonic", lambda: next(ticks))
    with caplog.at_level(logging.DEBUG, logger="pybmc.power"):
        with libvirt_connection.timed("n1", "destroy()"):
            pass
        with libvirt_connection.timed("n1", "isActive()"):
            pass
    assert "n1: libvirt destroy() took 0.300 s" in caplog.text
    assert "isActive" not in caplog.text  # quick ones are not


async def test_a_rename_loses_a_domain_named_and_keeps_one_by_uuid(other: Any) -> None:
    name = f"pybmc-u-{uuid.uuid4().hex[:8]}"
    dom = other.defineXML(domain_xml(name))
    by_name = LibvirtPower("by-name", LibvirtConfig(URI, name))
    by_uuid = LibvirtPower("by-uuid", LibvirtConfig(URI, dom.UUIDString().upper()))
    for power in (by_name, by_uuid):
        power.set_listener(Recorder())
        await power.start()
    try:
        await until(lambda: by_name._dom is not None and by_uuid._dom is not None, "found")
        dom.rename(f"{name}-new", 0)  # virsh domrename
        await until(lambda: by_name._dom is None, "the named one lost")
        await asyncio.sleep(0.05)
        assert by_uuid._dom is not None and by_uuid._uuid == dom.UUIDString().lower()
        dom.rename(name, 0)  # and back: found again by its name
        await until(lambda: by_name._dom is not None, "the named one found again")
    finally:
        for power in (by_name, by_uuid):
            await power.stop()
        dom.undefine()
        forget_connections()


async def test_a_slow_destroy_leaves_the_event_loop_running(make: Callable[..., Any]) -> None:
    """destroy() blocks for seconds on a real host: it runs in libvirt's call threads. Here it
    blocks until the event loop (this test) lets it go, which it cannot if it blocks the loop;
    the domain's own STOPPED event still comes after the action's result."""
    import threading

    dom, power, recorder = await make()
    power.request(PowerAction.ON)
    await idle(power)
    entered, release = threading.Event(), threading.Event()
    released: list[bool] = []
    real_destroy = power._dom.destroy

    def slow_destroy() -> int:
        entered.set()
        released.append(release.wait(5.0))  # bounded: False when the loop was frozen
        return real_destroy()

    power._dom.destroy = slow_destroy
    power.request(PowerAction.OFF)
    await until(entered.is_set, "destroy called")
    assert power._pending == 1  # the action is under way, and the loop answers
    release.set()
    await idle(power)
    assert released == [True]
    assert not dom.isActive() and not power.is_on()
    assert recorder.events[-1] == ("off", "chassis control")
    assert ("off", "domain destroyed") not in recorder.events
