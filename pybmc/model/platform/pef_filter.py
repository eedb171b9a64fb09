"""PEF event filtering (IPMI 2.0 section 17, tables 17-2/30-2): which actions an event calls for.

Every event the platform logs is offered to `PefEngine.process`. When PEF is enabled
(parameter 1 bit 0), each enabled entry of the event filter table (parameter 6) is compared
with the SEL record; the actions of all matching entries are combined, masked by the action
global control (parameter 2), and the one power action of highest priority is kept (the
spec's order: power down, power cycle, reset, diagnostic interrupt). Alerts of matching
filters are kept too, with their alert policy number.

Nothing is done here: the decisions wait in `pending` until the core drains them after the
request or timer that caused the event, because the event may have come from inside a power
transition (the power backend's listener), where starting another one is not allowed.

Startup delay (parameters 3 and 4, enabled by parameter 1 bits 2 and 3): for that many
seconds after the machine powers up or resets, actions (resp. alerts) of matching filters
are dropped, with a log line; the events themselves are still logged in the SEL. Dropping
(not postponing) is what the spec's delay is for: the events of a booting machine are not
meant to trip the actions that would stop it booting.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from pybmc.model.platform import pef
from pybmc.model.power import PowerAction

log = logging.getLogger("pybmc.pef")

ANY = 0xFF
FILTER_ENABLED = 0x80
# Event filter action bits (table 30-2 byte 2) = action global control bits (parameter 2).
ACTION_ALERT = 0x01
ACTION_POWER_OFF = 0x02
ACTION_RESET = 0x04
ACTION_POWER_CYCLE = 0x08
ACTION_DIAG = 0x20
ACTIONS_SUPPORTED = ACTION_ALERT | ACTION_POWER_OFF | ACTION_RESET | ACTION_POWER_CYCLE \
    | ACTION_DIAG
# Highest priority first (IPMI 2.0 section 17.6).
POWER_PRIORITY: tuple[tuple[int, PowerAction], ...] = (
    (ACTION_POWER_OFF, PowerAction.OFF),
    (ACTION_POWER_CYCLE, PowerAction.CYCLE),
    (ACTION_RESET, PowerAction.RESET),
    (ACTION_DIAG, PowerAction.DIAG),
)
PEF_ENABLE = 0x01
STARTUP_DELAY_ENABLE = 0x04
ALERT_STARTUP_DELAY_ENABLE = 0x08


@dataclass(frozen=True)
class AlertRequest:
    """A matching filter's alert: send along alert policy `policy` for this SEL record."""

    policy: int
    filter_number: int
    record: bytes
    severity: int


@dataclass
class PefDecisions:
    """What PEF decided and the core has yet to carry out."""

    power: list[PowerAction] = field(default_factory=list)
    alerts: list[AlertRequest] = field(default_factory=list)

    def take(self) -> tuple[list[PowerAction], list[AlertRequest]]:
        power, alerts = self.power, self.alerts
        self.power, self.alerts = [], []
        return power, alerts


def _data_byte_matches(value: int, and_mask: int, compare1: int, compare2: int) -> bool:
    """Table 30-2 bytes 12-20: bits in the AND mask are compared with compare 2; those also
    set in compare 1 must all match, and of the others at least one must (section 17.7)."""
    exact = and_mask & compare1
    if (value ^ compare2) & exact:
        return False
    loose = and_mask & ~compare1 & 0xFF
    return not loose or bool(~(value ^ compare2) & loose)


def filter_matches(entry: bytes, record: bytes) -> bool:
    """Does this 20-byte filter entry (enabled or not) match this 16-byte SEL event record?"""
    generator = record[7:9]
    sensor_type, sensor_number, trigger = record[10], record[11], record[12] & 0x7F
    data = record[13:16]
    if entry[4] != ANY and entry[4] != generator[0]:
        return False
    if entry[5] != ANY and entry[5] != generator[1]:
        return False
    if entry[6] != ANY and entry[6] != sensor_type:
        return False
    if entry[7] != ANY and entry[7] != sensor_number:
        return False
    if entry[8] != ANY and entry[8] & 0x7F != trigger:
        return False
    offset_mask = entry[9] | entry[10] << 8
    if not offset_mask & (1 << (data[0] & 0x0F)):
        return False
    return all(_data_byte_matches(data[i], *entry[11 + 3 * i:14 + 3 * i]) for i in range(3))


class PefEngine:
    """Runs SEL records through the event filter table of a PefConfig."""

    def __init__(self, name: str, config: pef.PefConfig, clock: Callable[[], float]) -> None:
        self.name = name
        self.config = config
        self.clock = clock
        self.pending = PefDecisions()
        self.powered_up_at: float | None = None  # the last power-up or reset

    def _byte(self, parameter: int) -> int:
        return self.config.get(parameter, 0)[1]

    def machine_started(self) -> None:
        self.powered_up_at = self.clock()

    def _in_delay(self, enable_bit: int, parameter: int) -> bool:
        if not self._byte(pef.PEF_CONTROL) & enable_bit or self.powered_up_at is None:
            return False
        return self.clock() - self.powered_up_at < self._byte(parameter)

    def process(self, record: bytes) -> None:
        """Decide what a newly logged SEL event record calls for (see the module docstring)."""
        if not self._byte(pef.PEF_CONTROL) & PEF_ENABLE or len(record) != 16:
            return
        actions = 0
        alerts: list[AlertRequest] = []
        for number in range(1, pef.EVENT_FILTERS + 1):
            entry = self.config.get(pef.FILTER_TABLE, number)[2:]
            if not entry[0] & FILTER_ENABLED or not filter_matches(entry, record):
                continue
            actions |= entry[1]
            if entry[1] & ACTION_ALERT:
                alerts.append(AlertRequest(entry[2] & 0x0F, number, record, entry[3]))
        actions &= self._byte(pef.ACTION_GLOBAL_CONTROL) & ACTIONS_SUPPORTED
        if not actions:
            return
        if self._in_delay(STARTUP_DELAY_ENABLE, pef.STARTUP_DELAY):
            log.info("%s: PEF startup delay: actions %#04x for SEL event dropped",
                     self.name, actions & ~ACTION_ALERT)
            actions &= ACTION_ALERT
        if actions & ACTION_ALERT and self._in_delay(ALERT_STARTUP_DELAY_ENABLE,
                                                     pef.ALERT_STARTUP_DELAY):
            log.info("%s: PEF alert startup delay: alert for SEL event dropped", self.name)
            actions &= ~ACTION_ALERT
        power = next((action for bit, action in POWER_PRIORITY if actions & bit), None)
        if power is not None:
            log.info("%s: PEF: SEL event calls for %s", self.name, power.name.lower())
            self.pending.power.append(power)
        if actions & ACTION_ALERT:
            self.pending.alerts.extend(alerts)
