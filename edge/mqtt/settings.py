"""What the MQTT client is told (`MqttSettings`), what it carries (`Message`), its state."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from edge.backoff import Backoff


@dataclass(frozen=True, slots=True)
class Message:
    """One MQTT message, either way."""

    topic: str
    payload: bytes
    retain: bool = False
    qos: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class MqttSettings:
    """Where and how to connect."""

    host: str
    port: int = 1883
    client_id: str = ""
    username: str = ""
    password: str = field(default="", repr=False)
    tls: bool = False
    ca_file: str = ""
    """CA bundle for TLS; empty = the system's."""
    keepalive_s: int = 30
    connect_timeout_s: float = 10.0
    will: Message | None = None
    """Published by the broker if we vanish without a clean disconnect."""
    outbox_size: int = 1000
    """Publishes held while disconnected; when full the oldest is dropped and counted."""
    inbox_size: int = 256
    """Received messages not yet taken by `receive`; when full the newest is dropped, counted."""
    backoff: Backoff = field(default_factory=lambda: Backoff(base_s=1.0, cap_s=30.0))


class MqttState(enum.Enum):
    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    CONNECTED = "connected"
