"""Boot overrides on QEMU: device bootindex (SeaBIOS and OVMF) or the CMOS order, set over QMP.

Two ways, chosen by the VM's own args:
- **bootindex**, when a `-device` has an `id=` and a `bootindex=` (pybmc cluster makes its
  NIC and disk so): before the firmware runs, pybmc moves the chosen kind of device to the
  front with `qom-set /machine/peripheral/ID bootindex N`, and puts the configured values back
  for the boot after a one-time override. QEMU rebuilds the fw_cfg `bootorder` file, which
  SeaBIOS and OVMF both read, at machine reset, so a changed order needs a `system_reset`
  before it counts, also right after launch (QEMU's first reset happened before `-S`).
- **CMOS order** otherwise: HMP `boot_set <order>`, which SeaBIOS reads at POST and OVMF
  ignores; it counts at once.

Both are applied just before the firmware runs, i.e. before `cont` on a power-on and before
`system_reset` on a reset. Guest-initiated reboots are caught, not guessed: while pybmc is
attached QEMU runs with `set-action reboot=shutdown`, so a guest reboot pauses the VM
(SHUTDOWN, reason guest-reset); pybmc then asks the BMC for the boot device (consuming a
one-time override), sets the order, and resets and resumes the VM. SeaBIOS, when started by a
warm reset, first resets the machine once more by itself; that second reset comes within
milliseconds and is recognised as part of the same boot (HOP_WINDOW in qemu.py), so it does
not consume another override. Limits of the CMOS way: three entries; a `bootindex` on any
device and `-kernel` both take precedence over it in SeaBIOS.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from pybmc.edge.power.qemu_argv import BootDevice, firmware_boot_order
from pybmc.model.power import BootChoice

log = logging.getLogger("pybmc.power")

QmpExecute = Callable[[str, dict[str, Any]], Awaitable[Any]]
PERIPHERAL = "/machine/peripheral"  # where QEMU puts devices that have an id


def bootindex_plan(devices: Sequence[BootDevice], choice: BootChoice) -> dict[str, int]:
    """The bootindex of every device for this boot: the configured ones, or, with an override
    whose kind of device exists, those devices first and the others after them, in order."""
    base = {d.id: d.bootindex for d in devices}
    chosen = [d for d in devices if d.kind == choice.device]
    if not chosen:
        return base
    rest = sorted((d for d in devices if d.kind != choice.device and d.bootindex >= 0),
                  key=lambda d: d.bootindex)
    ordered = sorted(chosen, key=lambda d: (d.bootindex < 0, d.bootindex)) + rest
    plan = {d.id: -1 for d in devices}
    plan.update({d.id: position for position, d in enumerate(ordered, start=1)})
    return plan


class BootOrder:
    """What one VM's firmware will boot from, and what is set in QEMU now (so an unchanged
    order costs no QMP command)."""

    def __init__(self, name: str, base_order: str, devices: Sequence[BootDevice]) -> None:
        self.name = name
        self.base_order = base_order
        # bootindex mode only when the args give an order by bootindex to follow.
        self.devices = list(devices) if any(d.bootindex >= 0 for d in devices) else []
        self._cmos: str | None = None
        self._indexes: dict[str, int] | None = None

    @property
    def by_bootindex(self) -> bool:
        return bool(self.devices)

    def launched(self) -> None:
        """A new QEMU process: it runs with the configured order."""
        self._cmos = self.base_order
        self._indexes = {d.id: d.bootindex for d in self.devices}

    def forget(self) -> None:
        self._cmos = None
        self._indexes = None

    async def apply(self, execute: QmpExecute, choice: BootChoice) -> bool:
        """Set the order for the boot that starts now; True when it changed in a way that
        takes effect only at the next machine reset (bootindex)."""
        if choice.device == "bios":
            log.info("%s: boot to firmware setup requested; booting normally", self.name)
        if choice.http:
            # QEMU can reorder devices but not hand OVMF a boot URI at run time: OVMF tries
            # the NIC's boot options in its own order (PXE, then HTTP boot) and its HTTP boot
            # asks DHCP for the URI (vendor class HTTPClient).
            log.info("%s: UEFI HTTP boot requested (HttpBootUri %s): the NIC boots first; "
                     "the firmware takes the URI from DHCP", self.name,
                     choice.http_uri or "not set")
        if self.by_bootindex:
            return await self._apply_bootindex(execute, choice)
        if choice.efi:
            log.info("%s: EFI boot requested; the override is set in the legacy boot order, "
                     "which OVMF ignores (give the boot devices id= and bootindex=)", self.name)
        await self._apply_cmos(execute, choice)
        return False

    async def _apply_bootindex(self, execute: QmpExecute, choice: BootChoice) -> bool:
        plan = bootindex_plan(self.devices, choice)
        current = self._indexes or {}
        changed = [d for d in plan if current.get(d) != plan[d]]
        if not changed:
            return False
        self._indexes = None  # unknown until every command went through
        # QEMU refuses a bootindex another device holds: clear them all, then set them.
        for device in changed:
            await self._set_bootindex(execute, device, -1)
        for device in changed:
            if plan[device] >= 0:
                await self._set_bootindex(execute, device, plan[device])
        self._indexes = plan
        log.info("%s: boot order by bootindex: %s", self.name, ", ".join(
            f"{d}={i}" for d, i in sorted(plan.items(), key=lambda item: item[1]) if i >= 0))
        return True

    @staticmethod
    async def _set_bootindex(execute: QmpExecute, device: str, index: int) -> None:
        await execute("qom-set", {"path": f"{PERIPHERAL}/{device}", "property": "bootindex",
                                  "value": index})

    async def _apply_cmos(self, execute: QmpExecute, choice: BootChoice) -> None:
        order = firmware_boot_order(choice, self.base_order)
        if order == self._cmos:
            return
        reply = await execute("human-monitor-command", {"command-line": f"boot_set {order}"})
        if "now set" not in str(reply):
            log.warning("%s: boot_set %s: %s", self.name, order, str(reply).strip())
            return
        self._cmos = order
        log.debug("%s: boot order set to %s", self.name, order)
