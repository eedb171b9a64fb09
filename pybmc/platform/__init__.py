"""Platform data a real BMC describes its server with: sensors, SDR repository, SEL, FRU."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pybmc.vm.base import PowerEvent

if TYPE_CHECKING:
    from pybmc.bmc import Bmc


class Platform:
    """Placeholder until the SDR/SEL/FRU work lands: it only receives power events."""

    def __init__(self, bmc: Bmc) -> None:
        self.bmc = bmc

    def on_power_event(self, event: PowerEvent) -> None:
        return None
