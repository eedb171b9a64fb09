"""Plain-words names of SEL events for log lines (IPMI 2.0 tables 42-2 and 42-3).

Only what a log reader needs: the offsets pybmc's own sensors write, the threshold
offsets, and the generic "state asserted" forms; anything else is shown by number.
"""

from __future__ import annotations

THRESHOLD = 0x01
SENSOR_SPECIFIC = 0x6F

THRESHOLD_OFFSETS = (
    "lower non-critical going low", "lower non-critical going high",
    "lower critical going low", "lower critical going high",
    "lower non-recoverable going low", "lower non-recoverable going high",
    "upper non-critical going low", "upper non-critical going high",
    "upper critical going low", "upper critical going high",
    "upper non-recoverable going low", "upper non-recoverable going high",
)

# Sensor type -> offset -> words, for the sensor-specific types a pybmc BMC logs.
SENSOR_SPECIFIC_OFFSETS: dict[int, dict[int, str]] = {
    0x09: {0: "power off", 1: "power cycle", 2: "240VA power down", 3: "interlock power down",
           4: "AC lost", 5: "soft power control failure", 6: "power unit failure",
           7: "predictive failure"},
    0x10: {0: "correctable memory error logging disabled", 1: "event type logging disabled",
           2: "log area reset/cleared", 3: "all event logging disabled", 4: "SEL full",
           5: "SEL almost full"},
    0x1D: {0: "initiated by power up", 1: "initiated by hard reset",
           2: "initiated by warm reset", 3: "user requested PXE boot",
           4: "automatic boot to diagnostic", 5: "OS / run-time software initiated hard reset",
           6: "OS / run-time software initiated warm reset", 7: "system restart"},
    0x22: {0: "S0/G0 working", 1: "S1 sleeping", 2: "S2 sleeping", 3: "S3 sleeping",
           4: "S4 non-volatile sleep", 5: "S5/G2 soft-off", 6: "S4/S5 soft-off",
           7: "G3 mechanical off", 8: "sleeping in S1-S3", 9: "G1 sleeping",
           10: "S5 entered by override", 11: "legacy ON state", 12: "legacy OFF state"},
    0x23: {0: "timer expired", 1: "hard reset", 2: "power down", 3: "power cycle",
           8: "timer interrupt"},
    0x28: {0: "sensor access degraded or unavailable",
           1: "controller access degraded or unavailable", 2: "management controller off-line",
           3: "management controller unavailable", 4: "sensor failure", 5: "FRU failure"},
}


def event_words(sensor_type: int, reading_type: int, event_data: bytes) -> str:
    """What an event says, e.g. "power off" (Power Unit, offset 0)."""
    offset = event_data[0] & 0x0F if event_data else 0
    if reading_type == THRESHOLD and offset < len(THRESHOLD_OFFSETS):
        return THRESHOLD_OFFSETS[offset]
    if reading_type == SENSOR_SPECIFIC:
        words = SENSOR_SPECIFIC_OFFSETS.get(sensor_type, {}).get(offset)
        if words is not None:
            return words
    return f"type {sensor_type:#04x} event {reading_type:#04x} offset {offset}"
