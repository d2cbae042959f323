"""Slowing down key guessing: a token bucket of failed logins per client address.

Each address may fail `burst` times at once, then `per_second` times a second. While its
bucket is empty, requests from it whose key has not authenticated from there recently are
refused with 429 before the key is even looked up; keys that did authenticate from that
address keep working, so a good client behind the same address (a shared NAT, loopback in
tests) is not locked out by a bad one. Memory is bounded: at most `max_addresses` buckets.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field


@dataclass
class _Bucket:
    tokens: float
    stamp: float
    good: OrderedDict[str, None] = field(default_factory=OrderedDict)


class LoginLimiter:
    """Per-address budget of failed authentications."""

    GOOD_KEYS_PER_ADDRESS = 32

    def __init__(
        self, burst: int = 100, per_second: float = 10.0, max_addresses: int = 10_000
    ) -> None:
        self.burst = burst
        self.per_second = per_second
        self.max_addresses = max_addresses
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def _fingerprint(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()[:32]

    def _bucket(self, address: str, now: float) -> _Bucket:
        bucket = self._buckets.get(address)
        if bucket is None:
            bucket = self._buckets[address] = _Bucket(float(self.burst), now)
            while len(self._buckets) > self.max_addresses:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(address)
            bucket.tokens = min(
                float(self.burst), bucket.tokens + (now - bucket.stamp) * self.per_second
            )
            bucket.stamp = now
        return bucket

    def retry_after(self, address: str, key: str | None) -> float | None:
        """Seconds to wait when `address` is out of failures and `key` is not one it used
        successfully; None to go ahead and check the key."""
        with self._lock:
            bucket = self._bucket(address, time.monotonic())
            if bucket.tokens >= 1:
                return None
            if key is not None and self._fingerprint(key) in bucket.good:
                return None
            return (1 - bucket.tokens) / self.per_second

    def failed(self, address: str) -> None:
        with self._lock:
            bucket = self._bucket(address, time.monotonic())
            bucket.tokens = max(0.0, bucket.tokens - 1)

    def succeeded(self, address: str, key: str) -> None:
        with self._lock:
            bucket = self._bucket(address, time.monotonic())
            bucket.good[self._fingerprint(key)] = None
            bucket.good.move_to_end(self._fingerprint(key))
            while len(bucket.good) > self.GOOD_KEYS_PER_ADDRESS:
                bucket.good.popitem(last=False)
