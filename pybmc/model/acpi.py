"""The ACPI power state the BMC reports (Get/Set ACPI Power State, IPMI 2.0 section 20.6-20.7).

System software may tell the BMC its ACPI state; pybmc keeps what it was told (persisted)
for as long as the machine's power stays as it was then. Once the power backend sees the
machine go on or off, the state follows the power: S0/G0 and D0 when on, S5/G2 soft-off and
D3 when off, as a BMC watching the platform's power rails reports it.
"""

from __future__ import annotations

from dataclasses import dataclass

from pybmc.model.state import State

S0_WORKING = 0x00
S5_SOFT_OFF = 0x05
D0 = 0x00
D3 = 0x03
NO_CHANGE = 0x7F
UNKNOWN = 0x2A
SYSTEM_STATES = frozenset([*range(0x00, 0x0B), 0x20, 0x21, UNKNOWN])  # S0..override, legacy
DEVICE_STATES = frozenset([*range(0x00, 0x04), UNKNOWN])  # D0..D3
STATE_KEY = "acpi_power_state"


@dataclass(frozen=True)
class AcpiState:
    system: int
    device: int


def following_power(powered: bool) -> AcpiState:
    return AcpiState(S0_WORKING, D0) if powered else AcpiState(S5_SOFT_OFF, D3)


def current(state: State, powered: bool) -> AcpiState:
    """The state last set, unless the power changed since; then the one the power implies."""
    saved = state.extra.get(STATE_KEY)
    if isinstance(saved, dict) and saved.get("powered") == powered:
        try:
            return AcpiState(int(saved["system"]) & 0x7F, int(saved["device"]) & 0x7F)
        except (KeyError, TypeError, ValueError):
            pass
    return following_power(powered)


def set_state(state: State, powered: bool, system: int | None, device: int | None) -> str | None:
    """Record what system software says (None: that part unchanged); returns why it is
    invalid, or None."""
    if system is not None and system not in SYSTEM_STATES:
        return f"system power state {system:#04x} is reserved"
    if device is not None and device not in DEVICE_STATES:
        return f"device power state {device:#04x} is reserved"
    now = current(state, powered)
    state.extra[STATE_KEY] = {
        "system": now.system if system is None else system,
        "device": now.device if device is None else device,
        "powered": powered,
    }
    return None
