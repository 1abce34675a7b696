"""The in-process figures behind the load monitor: fixed-size, in memory, no I/O.

* `LatencyHistogram` — request durations in log-spaced bins (each 5% wide): percentiles within
  ±2.5% whatever the traffic, in bounded memory.
* `TimeRing` — the last ten minutes in 5-second buckets: requests, 5xx, durations, and the
  queue samples (queue size, active jobs, worker concurrency, jobs finished per bucket).
* `SeenClients` — distinct client keys over the last five minutes, kept as keyed hashes (a
  per-process random key): the keys themselves are never stored, counted only.

Times are epoch seconds (`time.time()`), passed in by the caller so tests can drive the clock.
"""

from __future__ import annotations

import hashlib
import math
import secrets
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field

BUCKET_SECONDS = 5
HISTORY_SECONDS = 600
WINDOW_SECONDS = 60  # "the last minute" of every *LastMinute figure
CLIENT_WINDOW_SECONDS = 300
MAX_CLIENTS = 100_000  # past this many distinct clients in 5 minutes the count saturates
_SEEN_RESOLUTION = 1.0  # a client's last sighting is kept to the second

# Buckets kept: the history, plus a minute before it (jobs/min of the oldest point), plus the
# bucket being filled.
_SLOTS = (HISTORY_SECONDS + WINDOW_SECONDS) // BUCKET_SECONDS + 1


def bucket_start(t: float) -> int:
    """Start (epoch seconds, a multiple of BUCKET_SECONDS) of the bucket holding time t."""
    return int(t // BUCKET_SECONDS) * BUCKET_SECONDS


# --- latency --------------------------------------------------------------------------------

_BIN_BASE_MS = 0.01
_BIN_GROWTH = 1.05
_LOG_GROWTH = math.log(_BIN_GROWTH)


def _bin(ms: float) -> int:
    if ms <= _BIN_BASE_MS:
        return 0
    return int(math.log(ms / _BIN_BASE_MS) / _LOG_GROWTH) + 1


def _bin_value(index: int) -> float:
    """A bin's representative duration: the geometric middle of its edges."""
    if index == 0:
        return _BIN_BASE_MS
    return _BIN_BASE_MS * _BIN_GROWTH ** (index - 0.5)


@dataclass
class LatencyHistogram:
    count: int = 0
    total_ms: float = 0.0
    bins: dict[int, int] = field(default_factory=dict)

    def add(self, ms: float) -> None:
        if ms < 0.0:
            ms = 0.0
        self.count += 1
        self.total_ms += ms
        # _bin, inlined: this runs once per request
        index = 0 if ms <= _BIN_BASE_MS else int(math.log(ms / _BIN_BASE_MS) / _LOG_GROWTH) + 1
        self.bins[index] = self.bins.get(index, 0) + 1

    def merge(self, other: LatencyHistogram) -> None:
        self.count += other.count
        self.total_ms += other.total_ms
        for index, n in other.bins.items():
            self.bins[index] = self.bins.get(index, 0) + n

    def mean(self) -> float | None:
        return self.total_ms / self.count if self.count else None

    def quantile(self, q: float) -> float | None:
        """The q-quantile (0 < q ≤ 1): the smallest bin holding at least q of the durations."""
        if not self.count:
            return None
        rank = max(1, math.ceil(q * self.count))
        seen = 0
        for index in sorted(self.bins):
            seen += self.bins[index]
            if seen >= rank:
                return _bin_value(index)
        return _bin_value(max(self.bins))


# --- the ten-minute ring --------------------------------------------------------------------


@dataclass
class QueueSample:
    """The latest queue figures seen during a bucket (api.queue_metrics + the worker pool)."""

    queue_size: int
    active: int
    workers: int


@dataclass
class Bucket:
    start: int
    requests: int = 0
    errors: int = 0  # HTTP 5xx
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)
    queue: QueueSample | None = None
    # jobs finished (completed, failed) with finished_at in this bucket, as SQL last counted
    # them; None until a queue_metrics answer covered the whole bucket
    jobs: tuple[int, int] | None = None


class TimeRing:
    """Fixed ring of 5-second buckets; a slot is reused once its bucket is too old."""

    def __init__(self) -> None:
        self._slots: list[Bucket | None] = [None] * _SLOTS
        self._last: Bucket | None = None  # the bucket add_request last wrote to
        self._lock = threading.Lock()

    def _bucket(self, start: int) -> Bucket:
        index = (start // BUCKET_SECONDS) % _SLOTS
        slot = self._slots[index]
        if slot is None or slot.start != start:
            slot = Bucket(start)
            self._slots[index] = slot
        return slot

    def _existing(self, start: int) -> Bucket | None:
        slot = self._slots[(start // BUCKET_SECONDS) % _SLOTS]
        return slot if slot is not None and slot.start == start else None

    def add_request(self, now: float, duration_ms: float, server_error: bool) -> None:
        start = int(now // BUCKET_SECONDS) * BUCKET_SECONDS  # bucket_start, inlined
        with self._lock:
            bucket = self._last  # the bucket being filled, most of the time
            if (
                bucket is None
                or bucket.start != start
                or self._slots[(start // BUCKET_SECONDS) % _SLOTS] is not bucket
            ):
                bucket = self._last = self._bucket(start)
            bucket.requests += 1
            bucket.errors += int(server_error)
            bucket.latency.add(duration_ms)

    def add_queue_sample(self, now: float, sample: QueueSample) -> None:
        with self._lock:
            self._bucket(bucket_start(now)).queue = sample

    def add_finished_jobs(self, at: float, counts: Iterable[tuple[int, int, int]]) -> None:
        """SQL's per-bucket finished jobs over the minute before `at` (its own clock): every
        bucket that minute covers entirely gets its counts (0 when absent from the answer)."""
        by_start = {int(t): (int(c), int(f)) for t, c, f in counts}
        first = bucket_start(at - WINDOW_SECONDS) + BUCKET_SECONDS
        with self._lock:
            for start in range(first, bucket_start(at) + 1, BUCKET_SECONDS):
                self._bucket(start).jobs = by_start.get(start, (0, 0))

    def buckets(self, first: int, last: int) -> list[Bucket | None]:
        """Buckets first … last (bucket starts, inclusive); None where nothing was recorded."""
        with self._lock:
            return [self._existing(s) for s in range(first, last + 1, BUCKET_SECONDS)]


# --- distinct clients -----------------------------------------------------------------------


class SeenClients:
    """Distinct client keys seen in the last five minutes, as keyed 8-byte hashes."""

    def __init__(self, window: float = CLIENT_WINDOW_SECONDS, cap: int = MAX_CLIENTS) -> None:
        self._key = secrets.token_bytes(16)  # per process: hashes mean nothing elsewhere
        # the keyed state, copied per key: the key block is hashed once, not on every request
        self._keyed = hashlib.blake2b(key=self._key, digest_size=8)
        self._window = window
        self._cap = cap
        self._last_seen: OrderedDict[bytes, float] = OrderedDict()  # oldest sighting first
        self._lock = threading.Lock()

    def _digest(self, client_key: str) -> bytes:
        hasher = self._keyed.copy()  # = blake2b(client_key, key=self._key, digest_size=8)
        hasher.update(client_key.encode())
        return hasher.digest()

    def _expire(self, now: float) -> None:
        horizon = now - self._window
        seen = self._last_seen
        while seen:
            _, when = next(iter(seen.items()))
            if when > horizon:
                break
            seen.popitem(last=False)

    def add(self, client_key: str, now: float) -> None:
        digest = self._digest(client_key)
        when = self._last_seen.get(digest)
        if when is not None and 0 <= now - when < _SEEN_RESOLUTION:
            return  # seen this last second: the count cannot change, skip the reordering
        with self._lock:
            self._last_seen[digest] = now
            self._last_seen.move_to_end(digest)
            self._expire(now)
            while len(self._last_seen) > self._cap:
                self._last_seen.popitem(last=False)

    def count(self, now: float) -> int:
        with self._lock:
            self._expire(now)
            return len(self._last_seen)
