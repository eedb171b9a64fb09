"""Interfaces and addresses through netlink (pyroute2): bridges, taps, veths, addresses,
namespaces.

Blocking calls, each short; asyncio callers run them in a thread. Every function works in the
namespace of the handle it is given (IPRoute for this process's own, NetNS for a named one).
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import struct
import threading
from collections.abc import Callable
from typing import Any, TypeVar

try:  # an optional dependency of `serve` (only `[lan] interface` needs it), required by cluster
    import pyroute2
    from pyroute2 import netns as pyroute2_netns
    from pyroute2.netlink.exceptions import NetlinkError
except ImportError:  # pragma: no cover - exercised only where pyroute2 is missing
    pyroute2 = None
    pyroute2_netns = None
    NetlinkError = OSError

NETNS_RUN_DIR = "/var/run/netns"  # where `ip netns` and pyroute2 keep named namespaces
CLONE_NEWNET = 0x40000000
TUN_DEVICE = "/dev/net/tun"
TUNSETIFF, TUNSETPERSIST = 0x400454CA, 0x400454CB  # linux/if_tun.h
IFF_TAP, IFF_NO_PI = 0x0002, 0x1000
T = TypeVar("T")
Handle = Any  # pyroute2.IPRoute | pyroute2.NetNS; both share the same methods


class NetlinkUnavailable(RuntimeError):
    """pyroute2 is not installed."""


def open_handle(netns: str = "") -> Handle:
    if pyroute2 is None:
        raise NetlinkUnavailable("pyroute2 is not installed (pip install pyroute2)")
    if not netns:
        return pyroute2.IPRoute()
    # NetNS() would create a missing namespace: one nobody removes afterwards.
    if netns not in namespaces():
        raise LookupError(f"no network namespace {netns!r}")
    return pyroute2.NetNS(netns)


def link_index(handle: Handle, name: str) -> int | None:
    found = handle.link_lookup(ifname=name)
    return found[0] if found else None


def ensure_bridge(handle: Handle, name: str) -> bool:
    """Create the bridge (up) unless it exists; True when this call created it."""
    created = False
    if link_index(handle, name) is None:
        handle.link("add", ifname=name, kind="bridge")
        created = True
    handle.link("set", index=link_index(handle, name), state="up")
    return created


def ensure_veth(handle: Handle, name: str, peer: str, netns: str, bridge: str) -> bool:
    """A veth pair: `name` in the handle's namespace (up), `peer` in namespace `netns`,
    attached to `bridge` there (up). True when this call created it."""
    created = False
    if link_index(handle, name) is None:
        handle.link("add", ifname=name, kind="veth", peer=peer)
        handle.link("set", index=link_index(handle, peer), net_ns_fd=netns)
        created = True
    handle.link("set", index=link_index(handle, name), state="up")
    with open_handle(netns) as inner:
        if link_index(inner, peer) is None:
            raise LookupError(f"veth {name}: its peer {peer} is not in namespace {netns}")
        inner.link("set", index=link_index(inner, peer), master=link_index(inner, bridge),
                   state="up")
    return created


def link_indexes(handle: Handle) -> dict[str, int]:
    """Every interface of the handle's namespace, by name: one dump instead of one lookup each."""
    return {link.get("ifname"): int(link["index"]) for link in handle.get_links()}


def create_taps(netns: str, names: list[str]) -> list[str]:
    """Create persistent taps (down, no master) in the namespace ("" = this process's own),
    all from one thread there; the ioctls are far cheaper than one netlink request each.
    Returns the names created (those not there already)."""
    def create() -> list[str]:
        created = []
        for name in names:
            fd = os.open(TUN_DEVICE, os.O_RDWR | os.O_CLOEXEC)
            try:
                request = struct.pack("16sH22x", name.encode(), IFF_TAP | IFF_NO_PI)
                fcntl.ioctl(fd, TUNSETIFF, request)
                fcntl.ioctl(fd, TUNSETPERSIST, 1)
            finally:
                os.close(fd)
            created.append(name)
        return created
    return run_in_namespace(netns, create, timeout=5.0 + 0.1 * len(names)) if names else []


def attach(handle: Handle, index: int, bridge_index: int) -> None:
    """Make the interface a port of the bridge, and up."""
    handle.link("set", index=index, master=bridge_index, state="up")


def set_up(handle: Handle, name: str) -> None:
    index = link_index(handle, name)
    if index is not None:
        handle.link("set", index=index, state="up")


def delete_link(handle: Handle, name: str) -> bool:
    index = link_index(handle, name)
    if index is None:
        return False
    handle.link("del", index=index)
    return True


def add_address(handle: Handle, interface: str, address: str, prefix: int) -> bool:
    """Add address/prefix; True when it is there afterwards (also when it already was)."""
    index = link_index(handle, interface)
    if index is None:
        raise LookupError(f"no interface {interface!r}")
    try:
        handle.addr("add", index=index, address=address, prefixlen=prefix)
    except NetlinkError as err:
        if getattr(err, "code", None) != errno.EEXIST:
            raise
    return True


def remove_address(handle: Handle, interface: str, address: str, prefix: int) -> bool:
    """Remove address/prefix; False when it was not there."""
    index = link_index(handle, interface)
    if index is None:
        return False
    try:
        handle.addr("del", index=index, address=address, prefixlen=prefix)
    except NetlinkError as err:
        if getattr(err, "code", None) in (errno.EADDRNOTAVAIL, errno.ENOENT, errno.ESRCH):
            return False
        raise
    return True


def interface_addresses(handle: Handle, interface: str) -> list[str]:
    index = link_index(handle, interface)
    if index is None:
        return []
    return [a.get("address") for a in handle.get_addr(index=index, family=2)]


def namespaces() -> list[str]:
    if pyroute2 is None:
        raise NetlinkUnavailable("pyroute2 is not installed (pip install pyroute2)")
    return list(pyroute2_netns.listnetns())


def create_namespace(name: str) -> bool:
    """Create the named namespace (loopback up); True when this call created it."""
    created = name not in namespaces()
    if created:
        pyroute2_netns.create(name)
    with open_handle(name) as handle:
        set_up(handle, "lo")
    return created


def remove_namespace(name: str) -> bool:
    if name not in namespaces():
        return False
    pyroute2_netns.remove(name)
    return True


def run_in_namespace(name: str, function: Callable[[], T], timeout: float = 10.0) -> T:
    """Call `function` in a thread moved into the named namespace (this process's own when
    `name` is ""), for what is per namespace but not netlink: sockets, /proc/sys/net."""
    if not name:
        return function()
    enter = namespace_entry(name)
    result: list[T] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            enter()  # this thread only: the namespace is per thread
            result.append(function())
        except BaseException as err:  # handed to the caller
            failure.append(err)
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout)
    if failure:
        raise failure[0]
    if not result:
        raise TimeoutError(f"no answer from namespace {name} within {timeout:g} s")
    return result[0]


def namespace_entry(name: str) -> Callable[[], None]:
    """A function that moves the calling thread into the named network namespace: a child's
    preexec_fn (so everything it execs lives there) or a thread that opens sockets there.
    libc and the path are looked up now, not in the forked child."""
    libc = ctypes.CDLL(None, use_errno=True)
    path = f"{NETNS_RUN_DIR}/{name}"

    def enter() -> None:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            if libc.setns(fd, CLONE_NEWNET) != 0:
                code = ctypes.get_errno()
                raise OSError(code, f"setns {path}: {os.strerror(code)}")
        finally:
            os.close(fd)
    return enter
