"""Boot options (Set/Get System Boot Options parameter 5): what the next boot uses, and when
a one-time override is consumed. Placeholder until the chassis commands land."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pybmc.vm.base import BootChoice

if TYPE_CHECKING:
    from pybmc.bmc import Bmc


def take_boot_device(bmc: Bmc) -> BootChoice:
    """The device for the boot that is starting now; clears a one-time override."""
    return BootChoice()
