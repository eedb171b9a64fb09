"""Rate-limited log lines: per key, the first line passes and repeats are counted, then summed up.

A flood (refused logins, dropped packets) must not flood the log: for each key, such as
(source address, kind of message), the first line in a window is logged; later ones in the
window are only counted, and when the window ends one line says how many were suppressed and
shows the last of them. A key that stayed quiet for a whole window is forgotten. Time comes in
as `now` (sans-IO: the caller's clock, a fake one in tests); `get_timer`/`handle_timer` let the
owner's one timer emit summaries on time even if the flood stopped.

Memory is bounded: at most `max_keys` keys are tracked; beyond that, new keys share one
overflow entry, so even spoofed sources cannot grow the table or the log without bound.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass

DEFAULT_WINDOW = 10.0
DEFAULT_MAX_KEYS = 1024
OVERFLOW_SOURCE = "other sources"  # the shared key's source once the table is full

Key = tuple[str, str]  # (source, kind)


@dataclass
class _Entry:
    window_end: float
    level: int
    suppressed: int = 0
    last: tuple[str, tuple[object, ...]] | None = None  # the last suppressed message


class RateLimitedLog:
    """Per-key rate limiting in front of one logger; `prefix` (the BMC's name) starts the
    summary lines as it starts the logged ones."""

    def __init__(self, logger: logging.Logger, prefix: str, window: float = DEFAULT_WINDOW,
                 max_keys: int = DEFAULT_MAX_KEYS) -> None:
        self.logger = logger
        self.prefix = prefix
        self.window = window
        self.max_keys = max_keys
        # Ordered by window end: entries are appended or moved to the end with now + window.
        self._entries: OrderedDict[Key, _Entry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def log(self, now: float, key: Key, level: int, msg: str, *args: object,
            exc_info: bool = False) -> None:
        """Log `msg % args` unless `key` already logged within the window (then count it)."""
        self.handle_timer(now)
        if not self.logger.isEnabledFor(level):
            return
        entry = self._entries.get(key)
        if entry is None and len(self._entries) >= self.max_keys:
            key = (OVERFLOW_SOURCE, key[1])
            entry = self._entries.get(key)
        if entry is not None:
            entry.suppressed += 1
            entry.last = (msg, args)
            return
        self.logger.log(level, msg, *args, exc_info=exc_info)
        self._entries[key] = _Entry(now + self.window, level)

    def get_timer(self) -> float | None:
        """When the next summary is due (None: nothing pending)."""
        for entry in self._entries.values():
            return entry.window_end
        return None

    def handle_timer(self, now: float) -> None:
        """Emit the summaries of windows that ended; forget keys that stayed quiet."""
        while self._entries:
            key, entry = next(iter(self._entries.items()))
            if entry.window_end > now:
                return
            if not entry.suppressed:
                del self._entries[key]
                continue
            self._summarise(key, entry)
            # The source is still noisy: keep counting for one more window.
            entry.suppressed, entry.last = 0, None
            entry.window_end = now + self.window
            self._entries.move_to_end(key)

    def flush(self) -> None:
        """Emit every pending summary now (at shutdown)."""
        for key, entry in self._entries.items():
            if entry.suppressed:
                self._summarise(key, entry)
        self._entries.clear()

    def _summarise(self, key: Key, entry: _Entry) -> None:
        msg, args = entry.last or ("%s", ("",))
        try:
            last = msg % args if args else msg
        except (TypeError, ValueError):
            last = msg
        last = last.removeprefix(f"{self.prefix}: ")
        plural = "" if entry.suppressed == 1 else "s"
        self.logger.log(entry.level, "%s: suppressed %d similar message%s from %s (%s) in "
                        "%.0f s; the last: %s", self.prefix, entry.suppressed, plural, key[0],
                        key[1], self.window, last)
