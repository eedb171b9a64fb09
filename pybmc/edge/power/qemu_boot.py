"""Boot overrides on QEMU: the CMOS boot order SeaBIOS reads at POST, set over QMP.

Boot device overrides (chassis bootdev) use QEMU's legacy boot order in CMOS, which SeaBIOS
reads at POST: HMP `boot_set <order>` just before the firmware runs, i.e. before `cont` on a
power-on and before `system_reset` on a reset. Guest-initiated reboots are caught, not
guessed: while pybmc is attached QEMU runs with `set-action reboot=shutdown`, so a guest reboot
pauses the VM (SHUTDOWN, reason guest-reset); pybmc then asks the BMC for the boot device
(consuming a one-time override), sets the order, and resets and resumes the VM. SeaBIOS, when
started by a warm reset, first resets the machine once more by itself; that second reset comes
within milliseconds and is recognised as part of the same boot (HOP_WINDOW), so it does not
consume another override. Limits: the CMOS order has three entries; a `bootindex` on any device
and `-kernel` both take precedence over it in SeaBIOS; OVMF (UEFI) ignores it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from pybmc.edge.power.qemu_argv import firmware_boot_order
from pybmc.model.power import BootChoice

log = logging.getLogger("pybmc.power")

QmpExecute = Callable[[str, dict[str, Any]], Awaitable[Any]]


async def apply_boot_choice(name: str, execute: QmpExecute, choice: BootChoice, base_order: str,
                            cmos_order: str | None) -> str | None:
    """Set the CMOS boot order SeaBIOS reads at its next POST; returns the order now set."""
    if choice.device == "bios":
        log.info("%s: boot to BIOS setup requested; SeaBIOS has none, booting normally", name)
    if choice.efi:
        log.info("%s: EFI boot requested; the override is set in the legacy boot order, "
                 "which OVMF ignores", name)
    order = firmware_boot_order(choice, base_order)
    if order == cmos_order:
        return cmos_order
    reply = await execute("human-monitor-command", {"command-line": f"boot_set {order}"})
    if "now set" not in str(reply):
        log.warning("%s: boot_set %s: %s", name, order, str(reply).strip())
        return cmos_order
    log.debug("%s: boot order set to %s", name, order)
    return order
