"""Device twin: the participant attributes we want, what the room has, and when to send — pure.

    twin = Twin()
    twin.update({"edge.status": "online", "gpio.relay": "1"})   # -> refusals (usually none)
    update = twin.poll(now)          # the changed keys, or None (nothing new / too soon)
    ... await room.set_attributes(update) ...
    twin.sent(update)                # or twin.failed(update): it is offered again later

Updates are coalesced to at most one per `min_interval_s`, except that a change of an urgent
key (`is_urgent`: outputs, lease, status, connection, fail-safe) goes out at once while a
token bucket (`URGENT_BURST`, one token back per `URGENT_REFILL_S`) allows it; with the bucket
empty it waits for a token or the interval, whichever comes first. Pending keys of any kind
ride along in the same update. An urgent key's unsent value is never coalesced away by the
next one: a pulse (on, then off before "on" went out) reaches the room as both, in order.

Only changed keys go out; a key removed from the twin goes out once as "" (LiveKit's
"delete"); the twin's total size stays under `max_total_bytes`, and a value that would break a
limit is refused, never sent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from edge import wire

SERVER_LIMIT_BYTES = 64 * 1024
"""livekit-server's limit on the key+value bytes of one attribute update."""
MIN_INTERVAL_S = 2.0
MAX_TOTAL_BYTES = 48 * 1024
"""Our budget for all twin attributes, under the server limit with room for join attributes."""
MAX_VALUE_BYTES = 4096
MAX_KEY_BYTES = 256
UPTIME_RESOLUTION_S = 60
"""Uptime is published in whole minutes, so it does not force an update every interval."""
URGENT_KEYS = frozenset(
    {
        wire.Attribute.STATUS,
        wire.Attribute.CONNECTION,
        wire.Attribute.LEASE,
        wire.Attribute.LAST_FAILSAFE,
    }
)
URGENT_PREFIXES = (wire.Prefix.OUTPUT,)
HELD_PREFIXES = (wire.Prefix.OUTPUT,)
"""Urgent keys whose every value reaches the room (an output's pulse is seen on, then off).
For the others (connection, status, lease) the latest value wins: a "reconnecting" that could
not be sent while the link was down is stale once it is back."""
"""`gpio.<output>`: what an output is driven to."""
URGENT_BURST = 3
"""Urgent updates that may go out back to back, ahead of the interval."""
URGENT_REFILL_S = 2.0
"""One more early update is allowed per this many seconds."""


def is_urgent(key: str) -> bool:
    """Whether a change of `key` is sent at once rather than coalesced."""
    return key in URGENT_KEYS or key.startswith(URGENT_PREFIXES)


@dataclass(frozen=True, slots=True)
class Refusal:
    """One key of an update that was not accepted, and why."""

    key: str
    reason: str


class Twin:
    """Desired vs published attributes, with the coalescing and size rules."""

    def __init__(
        self,
        *,
        min_interval_s: float = MIN_INTERVAL_S,
        max_total_bytes: int = MAX_TOTAL_BYTES,
        max_value_bytes: int = MAX_VALUE_BYTES,
        max_update_bytes: int = SERVER_LIMIT_BYTES - 1024,
        urgent: Callable[[str], bool] = is_urgent,
        burst: int = URGENT_BURST,
        refill_s: float = URGENT_REFILL_S,
    ) -> None:
        self.min_interval_s = min_interval_s
        self.max_total_bytes = max_total_bytes
        self.max_value_bytes = max_value_bytes
        self.max_update_bytes = max_update_bytes
        self._urgent = urgent
        self._bucket = TokenBucket(burst=burst, refill_s=refill_s)
        self._desired: dict[str, str] = {}
        self._published: dict[str, str] = {}
        self._held: dict[str, str] = {}
        """Urgent keys: a value not yet sent that must reach the room before the desired one."""
        self._owned: set[str] = set()
        self._in_flight: Mapping[str, str] | None = None
        self._last_sent_at: float | None = None
        self._not_before: float | None = None
        """After a failed update: nothing goes out before this."""

    @property
    def desired(self) -> Mapping[str, str]:
        """What the twin says now."""
        return dict(self._desired)

    @property
    def published(self) -> Mapping[str, str]:
        """What the room was last confirmed to have (twin keys only)."""
        return dict(self._published)

    @property
    def total_bytes(self) -> int:
        return _size(self._desired)

    def update(self, changes: Mapping[str, str | None]) -> list[Refusal]:
        """Set keys; "" or None deletes one. Keys that break a limit are refused, the rest apply."""
        refusals: list[Refusal] = []
        total = self.total_bytes
        for key, value in changes.items():
            if not value:
                if key in self._desired:
                    self._hold(key, "")
                    total -= _size({key: self._desired.pop(key)})
                continue
            reason = self._invalid(key, value)
            old = self._desired.get(key)
            grown = total - (_size({key: old}) if old is not None else 0) + _size({key: value})
            if reason is None and grown > self.max_total_bytes:
                reason = f"the twin would be {grown} bytes, over its {self.max_total_bytes}"
            if reason is not None:
                refusals.append(Refusal(key, reason))
                continue
            self._hold(key, value)
            self._desired[key] = value
            self._owned.add(key)
            total = grown
        return refusals

    def pending(self) -> dict[str, str]:
        """Every key whose room value differs from the twin ("" for keys to delete).

        An urgent key with a held value shows that value: it goes out first.
        """
        diff = {k: v for k, v in self._desired.items() if self._published.get(k) != v}
        diff.update({k: "" for k in self._published if k not in self._desired})
        diff.update(self._held)
        return diff

    def next_due(self, now: float) -> float | None:
        """When `poll` will next return an update: `now` or later, None if nothing is pending."""
        pending = self.pending()
        if self._in_flight is not None or not pending:
            return None
        if self._not_before is not None and now < self._not_before:
            return self._not_before
        if self._last_sent_at is None:
            return now
        due = self._last_sent_at + self.min_interval_s
        if any(self._urgent(key) for key in pending):
            due = min(due, self._bucket.ready_at(now))
        return max(now, due)

    def poll(self, now: float) -> dict[str, str] | None:
        """The update to send now, or None; the caller must report `sent` or `failed`."""
        due = self.next_due(now)
        if due is None or due > now:
            return None
        if self._last_sent_at is not None and now < self._last_sent_at + self.min_interval_s:
            self._bucket.take(now)  # ahead of the interval: an urgent key spends a token
        update: dict[str, str] = {}
        size = 0
        for key, value in sorted(self.pending().items(), key=lambda kv: kv[1] != ""):
            item = _size({key: value})
            if size + item > self.max_update_bytes:
                continue  # the rest goes in a later update
            update[key] = value
            size += item
        self._in_flight = update
        self._last_sent_at = now
        return update

    def sent(self, update: Mapping[str, str]) -> None:
        """The room accepted `update`."""
        self._in_flight = None
        self._not_before = None
        for key, value in update.items():
            if self._held.get(key) == value:
                del self._held[key]
            if value:
                self._published[key] = value
            else:
                self._published.pop(key, None)

    def failed(self, _update: Mapping[str, str]) -> None:
        """The room did not take `update`; its keys stay pending for the next interval."""
        self._in_flight = None
        if self._last_sent_at is not None:
            self._not_before = self._last_sent_at + self.min_interval_s

    def rejoined(self, attributes: Mapping[str, str]) -> None:
        """A new room session started with these attributes: diff against them from now on.

        Values held while out of the room are dropped: the new session gets the current ones.
        """
        self._published = {k: v for k, v in attributes.items() if k in self._owned}
        self._held.clear()
        self._in_flight = None
        self._last_sent_at = None
        self._not_before = None

    def _hold(self, key: str, new: str) -> None:
        """Before an urgent key changes: keep its unsent value so it is not coalesced away."""
        old = self._desired.get(key, "")
        if not key.startswith(HELD_PREFIXES) or key in self._held or new == old:
            return
        if old == self._published.get(key, ""):
            return  # the room has it already
        if self._in_flight is not None and self._in_flight.get(key) == old:
            return  # on its way
        self._held[key] = old

    def _invalid(self, key: str, value: str) -> str | None:
        key_bytes, value_bytes = _utf8_len(key), _utf8_len(value)
        if key_bytes is None or value_bytes is None:
            return "not valid Unicode text"
        if key_bytes > MAX_KEY_BYTES:
            return f"key is {key_bytes} bytes, over {MAX_KEY_BYTES}"
        if value_bytes > self.max_value_bytes:
            return f"value is {value_bytes} bytes, over the {self.max_value_bytes}-byte limit"
        return None


class TokenBucket:
    """`burst` tokens, one back every `refill_s` seconds."""

    def __init__(self, *, burst: int, refill_s: float) -> None:
        self.burst = burst
        self.refill_s = refill_s
        self._tokens = float(burst)
        self._at: float | None = None

    def ready_at(self, now: float) -> float:
        """When a token is (or was) available."""
        tokens = self._level(now)
        return now if tokens >= 1 else now + (1 - tokens) * self.refill_s

    def take(self, now: float) -> None:
        """Spend a token (or what there is of one)."""
        self._tokens = max(0.0, self._level(now) - 1)
        self._at = now

    def _level(self, now: float) -> float:
        if self._at is None or self.refill_s <= 0:
            return float(self.burst)
        return min(float(self.burst), self._tokens + (now - self._at) / self.refill_s)


def _utf8_len(text: str) -> int | None:
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError:
        return None


def _size(attributes: Mapping[str, str]) -> int:
    return sum(
        len(k.encode("utf-8", "replace")) + len(v.encode("utf-8", "replace"))
        for k, v in attributes.items()
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceFacts:
    """What the daemon knows about itself; `as_attributes()` is its part of the twin."""

    online: bool
    board_model: str
    version: str
    uptime_s: float
    rtt_ms: float | None = None
    network_quality: str = ""
    lease_holder: str = ""
    last_error: str = ""

    def as_attributes(self) -> dict[str, str | None]:
        """`edge.*` keys; None for a fact that is unknown now (the key is deleted)."""
        attributes: dict[str, str | None] = {
            wire.Attribute.STATUS: wire.Status.ONLINE if self.online else wire.Status.OFFLINE,
            wire.Attribute.BOARD: self.board_model or None,
            wire.Attribute.VERSION: self.version,
            wire.Attribute.UPTIME_S: str(
                int(self.uptime_s) // UPTIME_RESOLUTION_S * UPTIME_RESOLUTION_S
            ),
            wire.Attribute.RTT_MS: None if self.rtt_ms is None else f"{self.rtt_ms:.0f}",
            wire.Attribute.NETWORK_QUALITY: self.network_quality or None,
            wire.Attribute.LEASE: self.lease_holder,
            wire.Attribute.ERROR: self.last_error[: MAX_VALUE_BYTES // 4] or None,
        }
        return attributes
