"""MqttPeer: a plain paho client (its own network thread) that records what it receives."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from paho.mqtt import client as paho
from paho.mqtt.enums import CallbackAPIVersion


@dataclass(frozen=True, slots=True)
class Seen:
    topic: str
    payload: bytes
    retain: bool


class MqttPeer:
    """Subscribe, publish and look at what arrived, from test code."""

    def __init__(self, host: str, port: int) -> None:
        self._lock = threading.Lock()
        self._seen: list[Seen] = []
        self._connected = threading.Event()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id="")
        self.client.on_message = self._on_message
        self.client.on_connect = lambda *_: self._connected.set()
        self.client.connect(host, port)
        self.client.loop_start()
        if not self._connected.wait(10):
            raise AssertionError("test peer could not connect to mosquitto")

    def subscribe(self, topic_filter: str) -> None:
        result, _mid = self.client.subscribe(topic_filter, qos=1)
        assert result == paho.MQTT_ERR_SUCCESS

    def publish(self, topic: str, payload: bytes | str, *, retain: bool = False) -> None:
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        info.wait_for_publish(10)

    def seen(self, topic: str) -> list[Seen]:
        with self._lock:
            return [s for s in self._seen if s.topic == topic]

    def all(self) -> list[Seen]:
        """Everything received so far, in arrival order."""
        with self._lock:
            return list(self._seen)

    def last(self, topic: str) -> bytes | None:
        found = self.seen(topic)
        return found[-1].payload if found else None

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _on_message(self, _c: object, _u: object, message: paho.MQTTMessage) -> None:
        with self._lock:
            self._seen.append(Seen(message.topic, bytes(message.payload), bool(message.retain)))
