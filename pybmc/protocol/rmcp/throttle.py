"""Login throttling: a token bucket per source address for the requests that start a login.

Open Session + RAKP 1 hand anyone the password-keyed RAKP 2 HMAC (inherent to IPMI 2.0) and
tell whether a user name exists; Get Session Challenge tells the same for IPMI 1.5. Nothing
stops that but making it slow: each such request from a source address takes one token from
that address's bucket, which holds `burst` tokens and refills at `rate` per second. A request
that finds the bucket empty is refused (the caller drops it).

Memory is bounded: a bucket that refilled completely is the same as no bucket and is forgotten,
and at most `max_sources` buckets are kept (the least recently used goes first, so a flood from
many addresses costs an attacker his own throttling before it costs anyone else a login).
Sans-IO: `now` is passed in.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

DEFAULT_MAX_SOURCES = 4096


@dataclass
class _Bucket:
    tokens: float
    stamp: float  # when `tokens` was right


class LoginThrottle:
    """Token buckets by source address; rate <= 0 turns throttling off."""

    def __init__(self, rate: float, burst: int, max_sources: int = DEFAULT_MAX_SOURCES) -> None:
        self.rate = float(rate)
        self.burst = float(max(1, burst))
        self.max_sources = max_sources
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()  # least recently used first

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def __len__(self) -> int:
        return len(self._buckets)

    def allow(self, source: str, now: float) -> bool:
        """Take one token for `source`; False when its bucket is empty."""
        if not self.enabled:
            return True
        self._forget_full(now)
        bucket = self._buckets.pop(source, None)
        tokens = self.burst if bucket is None else self._tokens(bucket, now)
        allowed = tokens >= 1.0
        if allowed:
            tokens -= 1.0
        self._buckets[source] = _Bucket(tokens, now)
        while len(self._buckets) > self.max_sources:
            self._buckets.popitem(last=False)
        return allowed

    def tokens(self, source: str, now: float) -> float:
        """What `source` has left at `now` (for tests and logs)."""
        bucket = self._buckets.get(source)
        return self.burst if bucket is None else self._tokens(bucket, now)

    def _tokens(self, bucket: _Bucket, now: float) -> float:
        elapsed = max(0.0, now - bucket.stamp)  # a clock that stepped back refills nothing
        return min(self.burst, bucket.tokens + elapsed * self.rate)

    def _forget_full(self, now: float) -> None:
        """Drop the least recently used buckets that have refilled (idle sources)."""
        while self._buckets:
            source, bucket = next(iter(self._buckets.items()))
            if self._tokens(bucket, now) < self.burst:
                return
            del self._buckets[source]
