"""Session sequence numbers: the inbound replay window and 32-bit little-endian helpers."""

from __future__ import annotations

SEQ_MASK = 0xFFFFFFFF
V15_SEQ_WINDOW = 8  # IPMI 1.5: accept up to 8 ahead of / behind the highest seen
V20_SEQ_WINDOW = 16  # RMCP+: 16 either way


class SequenceWindow:
    """Inbound session sequence numbers: a sliding window with a seen-bitmap against replays."""

    def __init__(self, window: int, first: int) -> None:
        self.window = window
        self.highest = (first - 1) & SEQ_MASK
        # Bit i set: highest - 1 - i was seen. Start full so nothing before `first` is accepted.
        self.seen = (1 << window) - 1

    def accept(self, sequence: int) -> bool:
        if sequence == 0:  # 0 means "outside a session" in both formats
            return False
        ahead = (sequence - self.highest) & SEQ_MASK
        if ahead == 0:
            return False
        if ahead <= self.window:
            self.seen = ((self.seen << ahead) | (1 << (ahead - 1))) & ((1 << self.window) - 1)
            self.highest = sequence
            return True
        behind = (self.highest - sequence) & SEQ_MASK
        if behind <= self.window:
            bit = 1 << (behind - 1)
            if self.seen & bit:
                return False
            self.seen |= bit
            return True
        return False


def next_sequence(value: int) -> int:
    value = (value + 1) & SEQ_MASK
    return value or 1


def le32(value: int) -> bytes:
    return (value & SEQ_MASK).to_bytes(4, "little")


def u32(data: bytes) -> int:
    return int.from_bytes(data[:4], "little")
