"""The PowerBackend protocol every backend implements, and the events it reports."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol


class PowerAction(Enum):
    """Chassis Control actions (IPMI 2.0 table 28-4), by their data byte."""

    OFF = 0
    ON = 1
    CYCLE = 2
    RESET = 3
    DIAG = 4
    SOFT_OFF = 5


class PowerError(Exception):
    """An action the machine cannot carry out now; `cc` is the completion code to answer."""

    def __init__(self, cc: int, reason: str) -> None:
        super().__init__(reason)
        self.cc = cc


@dataclass(frozen=True)
class PowerEvent:
    """What a backend tells the BMC: the machine changed power state, or it booted.

    kind is "on", "off" or "boot" (firmware starts: power-on, reset, guest reboot); cause
    says who did it ("chassis control", "guest", "process exited", ...).
    """

    kind: str
    cause: str


@dataclass(frozen=True)
class BootChoice:
    """The device the firmware should boot from this time ("default" = its own order)."""

    device: str = "default"  # default | pxe | disk | cdrom | bios | floppy
    efi: bool = False
    http: bool = False  # UEFI HTTP boot (Redfish UefiHttp): device is "pxe", efi is True
    http_uri: str | None = None  # Redfish HttpBootUri; None: the firmware asks DHCP
    # The override stays for the boots after this one (IPMI persistent, Redfish Continuous);
    # backends that write it into a machine definition (libvirt) undo a one-time one. Not
    # part of equality: which device to boot is the choice, this is how long it lasts.
    persistent: bool = field(default=False, compare=False)


def event_cause(requester: str | None, what: str) -> str:
    """The PowerEvent cause: what happened, and who asked when it was not Chassis Control
    (pybmc.model.boot reads "watchdog (hard reset)" as a watchdog restart)."""
    return what if requester is None else f"{requester} ({what})"


# For "boot" events the listener answers with the BootChoice for the boot that is starting
# (consuming a one-time override); for other events it answers None.
PowerListener = Callable[[PowerEvent], BootChoice | None]


class Untimed:
    """For backends whose transitions run on their own (asyncio tasks, a VM): no deadlines."""

    def get_timer(self) -> float | None:
        return None

    def handle_timer(self, now: float) -> None:
        return None


class PowerBackend(Protocol):
    """What the BMC needs from the machine it manages."""

    # Seconds a power cycle waits between off and on (Set Power Cycle Interval changes it).
    cycle_interval: float

    def is_on(self) -> bool:
        """The real power state, as last observed."""
        ...

    def request(self, action: PowerAction, cause: str | None = None) -> None:
        """Start an action; returns once accepted. Raises PowerError if not possible now.
        `cause` names who asked when it was not an IPMI Chassis Control command (e.g.
        "watchdog"): the PowerEvents say so, for the restart cause (see pybmc.model.boot)."""
        ...

    def set_listener(self, listener: PowerListener) -> None:
        """Where to report PowerEvents (the Bmc applies boot options and logs them)."""
        ...

    def get_timer(self) -> float | None:
        """When handle_timer must next run (a now-driven backend's pending transition)."""
        ...

    def handle_timer(self, now: float) -> None:
        """Carry out what is due at `now`."""
        ...

    async def start(self) -> None:
        """Attach to the machine (or start it per the restore policy) when the BMC starts."""
        ...

    async def stop(self, leave_running: bool = True) -> None:
        """Let go of the machine when the BMC stops; a VM keeps running unless told not to."""
        ...
