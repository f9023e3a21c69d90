"""AsyncMqttClient: paho-mqtt 2.x driven by the asyncio event loop (no paho thread).

    client = AsyncMqttClient(MqttSettings(host="localhost", will=Message(avail, b"offline")))
    client.subscribe("edge/pi/cmd/#")
    client.publish(Message("edge/pi/state", b"{}", retain=True, qos=1))   # never blocks
    async with asyncio.TaskGroup() as tg:
        tg.create_task(client.run(), name="mqtt.client")
        message = await client.receive()

The socket is read and written through `loop.add_reader` / `add_writer`; keep-alive runs from
`run`. Only the blocking connect (DNS, TCP, TLS handshake) runs off the loop, in the default
executor. `run` reconnects forever with `Backoff`; publishes made while disconnected wait in a
bounded outbox (oldest dropped and counted), sent after `on_connected`'s own messages. This is
the only module that imports paho.

MQTT 5 (mosquitto 1.6 or later), clean start, and every subscription with "retain as
published": a message its publisher retained arrives with `retain` set even when it is
delivered live (MQTT 3.1.1 clears the flag then), so retained commands can be told apart.
Cancelling `run` says goodbye: `farewell`, its acknowledgement (bounded wait), DISCONNECT.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Callable
from typing import Any

from paho.mqtt import client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from edge.mqtt.settings import Message, MqttSettings, MqttState

__all__ = ["AsyncMqttClient", "Message", "MqttSettings", "MqttState"]

_LOGGER = logging.getLogger(__name__)

MISC_INTERVAL_S = 1.0
"""How often paho's keep-alive bookkeeping (`loop_misc`) runs."""
GOODBYE_TIMEOUT_S = 2.0
"""Longest wait for the broker to acknowledge `farewell` before DISCONNECT."""
_CREDENTIAL_HINTS = ("not authori", "bad user name", "password")
_OPTIONS = SubscribeOptions(qos=1, retainAsPublished=True)


class AsyncMqttClient:
    """One broker connection, kept up by `run`."""

    def __init__(
        self, settings: MqttSettings, *, on_connected: Callable[[], None] = lambda: None
    ) -> None:
        self.settings = settings
        self.state = MqttState.DISCONNECTED
        self.on_connected = on_connected
        """Called on the loop after each successful connect, after resubscribing."""
        self.last_error = ""
        self.attempts = 0
        """Connection attempts so far (successful or not)."""
        self.dropped_outbound = 0
        self.dropped_inbound = 0
        self.farewell: Message | None = None
        """Published just before a clean disconnect (e.g. availability "offline")."""
        self._outbox: collections.deque[Message] = collections.deque()
        self._inbox: asyncio.Queue[Message] = asyncio.Queue(maxsize=settings.inbox_size)
        self._filters: list[str] = []
        self._connack: asyncio.Future[Any] | None = None
        self._lost = asyncio.Event()
        self._farewell_mid = -1
        self._farewell_acked = asyncio.Event()
        self._sock: Any = None
        self._client = self._make_client()

    def _make_client(self) -> paho.Client:
        s = self.settings
        client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=s.client_id, protocol=paho.MQTTv5
        )
        client.connect_timeout = s.connect_timeout_s
        if s.username:
            client.username_pw_set(s.username, s.password or None)
        if s.tls:
            client.tls_set(ca_certs=s.ca_file or None)
        if s.will is not None:
            client.will_set(s.will.topic, s.will.payload, qos=s.will.qos, retain=s.will.retain)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_publish = self._on_publish
        return client

    # -- public ------------------------------------------------------------------------------

    def publish(self, message: Message) -> None:
        """Send now if connected, else hold in the outbox (oldest dropped when full).

        A retained message replaces one still waiting for the same topic: only the last value
        of a topic matters, and replaying older ones after a reconnect makes it flicker."""
        if self.state is MqttState.CONNECTED:
            self._client.publish(
                message.topic, message.payload, qos=message.qos, retain=message.retain
            )
            return
        if message.retain:
            for stale in [m for m in self._outbox if m.retain and m.topic == message.topic]:
                self._outbox.remove(stale)
        if len(self._outbox) >= self.settings.outbox_size:
            self._outbox.popleft()
            self.dropped_outbound += 1
        self._outbox.append(message)

    def subscribe(self, topic_filter: str) -> None:
        """Subscribe now and after every reconnect."""
        if topic_filter in self._filters:
            return
        self._filters.append(topic_filter)
        if self.state is MqttState.CONNECTED:
            self._client.subscribe(topic_filter, options=_OPTIONS)

    async def receive(self) -> Message:
        """The next message on a subscribed topic."""
        return await self._inbox.get()

    async def run(self) -> None:
        """Connect and stay connected until cancelled; then disconnect cleanly."""
        attempt = 0
        try:
            while True:
                if await self._connect_once():
                    attempt = 0
                    await self._serve()
                delay = self.settings.backoff.delay(attempt)
                attempt += 1
                _LOGGER.warning("MQTT: %s; retrying in %.1f s", self.last_error, delay)
                await asyncio.sleep(delay)
        finally:
            try:
                await self._goodbye()
            finally:
                self._close()  # even if cancelled again while saying goodbye

    # -- connecting --------------------------------------------------------------------------

    async def _connect_once(self) -> bool:
        s = self.settings
        where = f"{s.host}:{s.port}"
        self.attempts += 1
        self._detach()
        self.state = MqttState.CONNECTING
        self._lost.clear()
        loop = asyncio.get_running_loop()
        self._connack = loop.create_future()
        try:
            await asyncio.to_thread(
                self._client.connect, s.host, s.port, s.keepalive_s, clean_start=True
            )
        except (OSError, ValueError) as exc:
            self._fail(f"broker {where} unreachable: {exc or type(exc).__name__}")
            return False
        self._attach(loop)
        try:
            async with asyncio.timeout(s.connect_timeout_s):
                reason = await self._connack
        except TimeoutError:
            self._fail(f"broker {where} did not answer CONNECT within {s.connect_timeout_s:g} s")
            return False
        if reason is None or reason.is_failure:
            text = str(reason) if reason is not None else "connection closed"
            hint = ""
            if any(h in text.lower() for h in _CREDENTIAL_HINTS):
                hint = " (check the [mqtt] username and password)"
            elif "protocol" in text.lower():
                hint = " (the broker must speak MQTT 5, e.g. mosquitto 1.6 or later)"
            self._fail(f"broker {where} refused the connection: {text}{hint}")
            return False
        self.state = MqttState.CONNECTED
        _LOGGER.info("MQTT: connected to %s as %r", where, s.client_id)
        for topic_filter in self._filters:
            self._client.subscribe(topic_filter, options=_OPTIONS)
        self.on_connected()  # "online" and current state first, then what waited
        while self._outbox:
            self.publish(self._outbox.popleft())
        return True

    async def _serve(self) -> None:
        while not self._lost.is_set():
            try:
                async with asyncio.timeout(MISC_INTERVAL_S):
                    await self._lost.wait()
            except TimeoutError:
                self._client.loop_misc()  # pings; notices a dead broker after 1.5 keep-alives
        self.state = MqttState.DISCONNECTED
        self._detach()

    def _fail(self, error: str) -> None:
        self.state = MqttState.DISCONNECTED
        level = logging.ERROR if error != self.last_error else logging.DEBUG
        _LOGGER.log(level, "MQTT: %s", error)
        self.last_error = error
        self._detach()

    # -- the socket on the event loop --------------------------------------------------------

    def _attach(self, loop: asyncio.AbstractEventLoop) -> None:
        sock = self._client.socket()
        if sock is None:
            return
        self._sock = sock
        loop.add_reader(sock, self._readable)
        self._client.on_socket_register_write = lambda _c, _u, s: loop.add_writer(s, self._writable)
        self._client.on_socket_unregister_write = lambda _c, _u, s: self._unwrite(s)
        self._client.on_socket_close = lambda _c, _u, _s: self._detach()
        if self._client.want_write():
            loop.add_writer(sock, self._writable)

    def _detach(self) -> None:
        self._client.on_socket_register_write = None
        self._client.on_socket_unregister_write = None
        self._client.on_socket_close = None
        if self._sock is not None:
            loop = asyncio.get_running_loop()
            loop.remove_reader(self._sock)
            loop.remove_writer(self._sock)
            self._sock = None

    def _unwrite(self, sock: Any) -> None:
        asyncio.get_running_loop().remove_writer(sock)

    def _readable(self) -> None:
        self._client.loop_read()

    def _writable(self) -> None:
        self._client.loop_write()

    async def _goodbye(self) -> None:
        """Publish `farewell` and wait (bounded) until the broker acknowledged it.

        By then every earlier acknowledgement has been read too: closing a socket with unread
        data makes the kernel reset the connection, and the broker then loses our DISCONNECT
        (and publishes the Will instead).
        """
        if self.state is not MqttState.CONNECTED or self.farewell is None:
            return
        f = self.farewell
        self._farewell_acked.clear()
        info = self._client.publish(f.topic, f.payload, qos=max(f.qos, 1), retain=f.retain)
        self._farewell_mid = info.mid
        try:
            async with asyncio.timeout(GOODBYE_TIMEOUT_S):
                await self._farewell_acked.wait()  # set on its PUBACK, or when the link drops
        except TimeoutError:
            _LOGGER.warning("MQTT: the broker did not acknowledge our goodbye in time")

    def _close(self) -> None:
        """DISCONNECT if connected, without awaiting."""
        if self.state is MqttState.CONNECTED and not self._lost.is_set():
            self._client.disconnect()
            for _ in range(16):  # small packets on a non-blocking socket: usually one pass
                if self._client.loop_write() != MQTTErrorCode.MQTT_ERR_SUCCESS:
                    break
                if not self._client.want_write():
                    break
        self.state = MqttState.DISCONNECTED
        self._detach()
        self._client.on_socket_close = None

    # -- paho callbacks (on the loop, from loop_read / loop_write / loop_misc) ---------------

    def _on_connect(self, _c: Any, _u: Any, _flags: Any, reason: Any, _props: Any) -> None:
        if self._connack is not None and not self._connack.done():
            self._connack.set_result(reason)

    def _on_disconnect(self, _c: Any, _u: Any, _flags: Any, reason: Any, _props: Any) -> None:
        if self._connack is not None and not self._connack.done():
            self._connack.set_result(None)
        if self.state is MqttState.CONNECTED:
            self.last_error = f"connection to the broker lost: {reason}"
        self._lost.set()
        self._farewell_acked.set()  # nothing more will be acknowledged

    def _on_publish(self, _c: Any, _u: Any, mid: int, _reason: Any, _props: Any) -> None:
        if mid == self._farewell_mid:
            self._farewell_acked.set()

    def _on_message(self, _c: Any, _u: Any, message: Any) -> None:
        item = Message(message.topic, bytes(message.payload), bool(message.retain), message.qos)
        try:
            self._inbox.put_nowait(item)
        except asyncio.QueueFull:
            self.dropped_inbound += 1  # newest dropped: the consumer is behind
            _LOGGER.warning("MQTT: inbox full, dropped a message on %r", item.topic)
