"""The BMC side of a power backend's listener, for backend tests: records what it reports."""

from __future__ import annotations

from pybmc.model.power import BootChoice, PowerEvent


class Recorder:
    """Records every PowerEvent and answers boot events with `next_boot` (once) or with
    `persistent` (every time), as the BMC's boot flags would."""

    def __init__(self) -> None:
        self.events: list[PowerEvent] = []
        self.next_boot = BootChoice()
        self.persistent: BootChoice | None = None

    def __call__(self, event: PowerEvent) -> BootChoice | None:
        self.events.append(event)
        if event.kind != "boot":
            return None
        if self.persistent is not None:
            return self.persistent
        choice, self.next_boot = self.next_boot, BootChoice()
        return choice

    def kinds(self) -> list[str]:
        return [event.kind for event in self.events]

    def of(self, kind: str) -> list[str]:
        """The causes of the events of one kind."""
        return [event.cause for event in self.events if event.kind == kind]
