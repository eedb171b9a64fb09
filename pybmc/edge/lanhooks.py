"""What happens outside pybmc when a client moves the BMC to a new IP address.

- `[lan] interface = "br0"`: pybmc adds the new address to that interface before it binds
  there, and removes the address it added before (or the configured one, which whoever set
  up the interface put there for this BMC) once nothing uses it any more (through
  netlink, in pybmc's own network namespace: `pybmc cluster` starts it inside the lab's).
- `[lan] config_program = "prog args"`: the compatibility hook of ipmi_sim's
  `lan_config_program`, called the same way: `prog args set ip_addr "A" subnet_mask "M"
  default_gw_ip_addr "G" ip_addr_src "static"` (see docs/migrating-from-ipmi_sim.md).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import shlex
from collections.abc import Coroutine
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pybmc.core.bmc import Bmc
    from pybmc.model.lan import LanAddress

log = logging.getLogger("pybmc.lan")

COMMAND_TIMEOUT = 10.0
ADDED_KEY = "interface_addresses"  # state.extra: addresses pybmc added to the interface


class LanHooks:
    __slots__ = ("_tasks", "bmc", "interface", "program")

    def __init__(self, bmc: Bmc) -> None:
        self.bmc = bmc
        settings = bmc.config.lan_settings
        self.interface = settings.interface
        self.program = settings.config_program
        self._tasks: set[asyncio.Task[None]] = set()

    def _spawn(self, coroutine: Coroutine[None, None, object]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def address_changed(self, address: LanAddress) -> None:
        if not self.program:
            return
        args = [*shlex.split(self.program), "set", "ip_addr", address.ip, "subnet_mask",
                address.netmask, "default_gw_ip_addr", address.gateway, "ip_addr_src",
                address.source]
        self._spawn(self._run(args, "lan config program"))

    async def before_bind(self, address: str) -> None:
        if not self.interface:
            return
        netmask = _netmask(self.bmc)
        prefix = ipaddress.IPv4Network(f"0.0.0.0/{netmask}").prefixlen
        ok = await self._netlink("add_address", address, prefix, "add address")
        if ok:
            added = self.bmc.state.extra.setdefault(ADDED_KEY, {})
            added[address] = prefix
            self.bmc.save()

    def retired(self, address: str) -> None:
        added = self.bmc.state.extra.get(ADDED_KEY, {})
        if not self.interface:
            return
        if address in added:
            prefix = added.pop(address)
            self.bmc.save()
        elif address == self.bmc.config.lan_settings.ip_address:
            # The configured address was put on the interface for this BMC (`pybmc cluster up`
            # does): it leaves with the BMC, or a moved BMC would still answer pings there.
            prefix = ipaddress.IPv4Network(f"0.0.0.0/{self.bmc.config.lan_settings.netmask}",
                                           strict=False).prefixlen
        else:
            return
        self._spawn(self._netlink("remove_address", address, prefix, "remove address"))

    async def _netlink(self, change_name: str, address: str, prefix: int, what: str) -> bool:
        """Run pybmc.edge.netlink's `change_name` in a thread; imported only here, so a BMC
        without `[lan] interface` never loads pyroute2."""
        from pybmc.edge import netlink

        change = getattr(netlink, change_name)

        def run() -> bool:
            with netlink.open_handle() as handle:
                return change(handle, self.interface, address, prefix)
        try:
            done = await asyncio.wait_for(asyncio.to_thread(run), COMMAND_TIMEOUT)
        except (OSError, LookupError, TimeoutError, netlink.NetlinkUnavailable) as exc:
            log.error("%s: %s %s/%s on %s failed: %s", self.bmc.name, what, address, prefix,
                      self.interface, exc)
            return False
        log.info("%s: %s %s/%s on %s%s", self.bmc.name, what, address, prefix, self.interface,
                 "" if done else " (was not there)")
        return done

    async def _run(self, args: list[str], what: str) -> bool:
        try:
            proc = await asyncio.create_subprocess_exec(
                *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            out, err = await asyncio.wait_for(proc.communicate(), COMMAND_TIMEOUT)
        except (OSError, TimeoutError) as exc:
            log.error("%s: %s failed: %s: %s", self.bmc.name, what, shlex.join(args), exc)
            return False
        text = (out + err).decode(errors="replace").strip()
        if proc.returncode == 0:
            log.info("%s: %s: %s", self.bmc.name, what, shlex.join(args))
            return True
        log.error("%s: %s failed (exit %s): %s: %s", self.bmc.name, what, proc.returncode,
                  shlex.join(args), text)
        return False


def _netmask(bmc: Bmc) -> str:
    netmask = bmc.lan.address().netmask
    try:
        ipaddress.IPv4Network(f"0.0.0.0/{netmask}")
    except ValueError:
        return "255.255.255.255"
    return netmask
