"""Sensor reading conversion (IPMI 2.0 section 36.3): value = (M * raw + B * 10^Bexp) * 10^Rexp.

A Full sensor record carries M, B and the two exponents; clients turn the one-byte raw reading
into volts, degrees or RPM with them. `Linear.for_range` picks factors so that 0..255 covers the
sensor's range with a step of 10..100 units of a power of ten (0.5 degC, 0.063 V, 100 RPM).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

M_LIMIT = 511  # M and B are 10-bit two's complement numbers
EXP_LOW, EXP_HIGH = -8, 7  # the exponents are 4-bit two's complement numbers


@dataclass(frozen=True, slots=True)
class Linear:
    m: int = 1
    b: int = 0
    b_exp: int = 0
    r_exp: int = 0

    @classmethod
    def for_range(cls, low: float, high: float) -> Linear:
        """Factors with which raw 0 reads `low` and raw 255 reads at least `high` (one object
        per range and process: they are immutable, and every BMC's sensors have them)."""
        return _for_range(cls, low, high)

    @property
    def step(self) -> float:
        return self.m * 10.0**self.r_exp

    def to_value(self, raw: int) -> float:
        return (self.m * raw + self.b * 10.0**self.b_exp) * 10.0**self.r_exp

    def to_raw(self, value: float) -> int:
        """The raw byte nearest to `value`, clamped to 0..255."""
        raw = (value / 10.0**self.r_exp - self.b * 10.0**self.b_exp) / self.m
        return max(0, min(255, round(raw)))

    def to_raw_delta(self, delta: float) -> int:
        """A difference (hysteresis) in raw counts, rounded, never negative."""
        return max(0, min(255, round(delta / self.step)))

    def encode(self) -> bytes:
        """Bytes 25..30 of a Full sensor record (also the tail of Get Sensor Reading Factors).

        Tolerance, accuracy and sensor direction are 0 (unspecified).
        """
        m = self.m & 0x3FF
        b = self.b & 0x3FF
        return bytes([
            m & 0xFF,
            (m >> 8) << 6,
            b & 0xFF,
            (b >> 8) << 6,
            0x00,
            ((self.r_exp & 0x0F) << 4) | (self.b_exp & 0x0F),
        ])


@functools.lru_cache(maxsize=1024)
def _for_range(cls: type[Linear], low: float, high: float) -> Linear:
    if not high > low:
        raise ValueError(f"the range {low}..{high} is empty")
    step = (high - low) / 255
    r_exp = math.floor(math.log10(step)) - 1
    if not EXP_LOW <= r_exp <= EXP_HIGH:
        raise ValueError(f"the range {low}..{high} cannot be expressed")
    # The tiny slack keeps float noise (16/255/0.001 = 62.745...01) from adding a step.
    m = math.ceil(step / 10**r_exp - 1e-9)
    b_exp = 0
    b = round(low / 10**r_exp)
    while abs(b) > M_LIMIT:
        b_exp += 1
        b = round(low / 10 ** (r_exp + b_exp))
    if b_exp > EXP_HIGH:
        raise ValueError(f"the range {low}..{high} cannot be expressed")
    return cls(m=m, b=b, b_exp=b_exp, r_exp=r_exp)
