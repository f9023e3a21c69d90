"""Device twin: the participant attributes we want, what the room has, and when to send — pure.

    twin = Twin()
    twin.update({"edge.status": "online", "gpio.relay": "1"})   # -> refusals (usually none)
    update = twin.poll(now)          # the changed keys, or None (nothing new / too soon)
    ... await room.set_attributes(update) ...
    twin.sent(update)                # or twin.failed(update): it is offered again later

Updates are coalesced to at most one per `min_interval_s`; only changed keys go out; a key
removed from the twin goes out once as "" (LiveKit's "delete"); the twin's total size stays
under `max_total_bytes`, and a value that would break a limit is refused, never sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

SERVER_LIMIT_BYTES = 64 * 1024
"""livekit-server's limit on the key+value bytes of one attribute update."""
MIN_INTERVAL_S = 2.0
MAX_TOTAL_BYTES = 48 * 1024
"""Our budget for all twin attributes, under the server limit with room for join attributes."""
MAX_VALUE_BYTES = 4096
MAX_KEY_BYTES = 256
UPTIME_RESOLUTION_S = 60
"""Uptime is published in whole minutes, so it does not force an update every interval."""


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
    ) -> None:
        self.min_interval_s = min_interval_s
        self.max_total_bytes = max_total_bytes
        self.max_value_bytes = max_value_bytes
        self.max_update_bytes = max_update_bytes
        self._desired: dict[str, str] = {}
        self._published: dict[str, str] = {}
        self._owned: set[str] = set()
        self._in_flight = False
        self._last_sent_at: float | None = None

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
            self._desired[key] = value
            self._owned.add(key)
            total = grown
        return refusals

    def pending(self) -> dict[str, str]:
        """Every key whose room value differs from the twin ("" for keys to delete)."""
        diff = {k: v for k, v in self._desired.items() if self._published.get(k) != v}
        diff.update({k: "" for k in self._published if k not in self._desired})
        return diff

    def next_due(self, now: float) -> float | None:
        """When `poll` will next return an update: `now` or later, None if nothing is pending."""
        if self._in_flight or not self.pending():
            return None
        if self._last_sent_at is None:
            return now
        return max(now, self._last_sent_at + self.min_interval_s)

    def poll(self, now: float) -> dict[str, str] | None:
        """The update to send now, or None; the caller must report `sent` or `failed`."""
        due = self.next_due(now)
        if due is None or due > now:
            return None
        update: dict[str, str] = {}
        size = 0
        for key, value in sorted(self.pending().items(), key=lambda kv: kv[1] != ""):
            item = _size({key: value})
            if size + item > self.max_update_bytes:
                continue  # the rest goes in a later update
            update[key] = value
            size += item
        self._in_flight = True
        self._last_sent_at = now
        return update

    def sent(self, update: Mapping[str, str]) -> None:
        """The room accepted `update`."""
        self._in_flight = False
        for key, value in update.items():
            if value:
                self._published[key] = value
            else:
                self._published.pop(key, None)

    def failed(self, _update: Mapping[str, str]) -> None:
        """The room did not take `update`; its keys stay pending for the next interval."""
        self._in_flight = False

    def rejoined(self, attributes: Mapping[str, str]) -> None:
        """A new room session started with these attributes: diff against them from now on."""
        self._published = {k: v for k, v in attributes.items() if k in self._owned}
        self._in_flight = False
        self._last_sent_at = None

    def _invalid(self, key: str, value: str) -> str | None:
        key_bytes, value_bytes = _utf8_len(key), _utf8_len(value)
        if key_bytes is None or value_bytes is None:
            return "not valid Unicode text"
        if key_bytes > MAX_KEY_BYTES:
            return f"key is {key_bytes} bytes, over {MAX_KEY_BYTES}"
        if value_bytes > self.max_value_bytes:
            return f"value is {value_bytes} bytes, over the {self.max_value_bytes}-byte limit"
        return None


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
    temperatures_c: Mapping[str, float] | None = None
    rtt_ms: float | None = None
    network_quality: str = ""
    lease_holder: str = ""
    last_error: str = ""

    def as_attributes(self) -> dict[str, str | None]:
        """`edge.*` keys; None for a fact that is unknown now (the key is deleted)."""
        attributes: dict[str, str | None] = {
            "edge.status": "online" if self.online else "offline",
            "edge.board": self.board_model or None,
            "edge.version": self.version,
            "edge.uptime_s": str(int(self.uptime_s) // UPTIME_RESOLUTION_S * UPTIME_RESOLUTION_S),
            "edge.rtt_ms": None if self.rtt_ms is None else f"{self.rtt_ms:.0f}",
            "edge.network_quality": self.network_quality or None,
            "edge.lease": self.lease_holder,
            "edge.error": self.last_error[: MAX_VALUE_BYTES // 4] or None,
        }
        for name, celsius in (self.temperatures_c or {}).items():
            attributes[f"edge.temperature.{name}"] = f"{celsius:.1f}"
        return attributes
