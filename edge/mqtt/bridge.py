"""MqttBridge: the device on the local MQTT broker (topic layout: `edge.mqtt.topics`).

Out: readings (`publish_reading`), the twin as retained `state` (`publish_state`; without
`edge.status`: `availability` and its Last Will are the status on MQTT), output values and input
readings (retained, all of them again on every connect), room metadata, availability, Home
Assistant discovery (`edge.mqtt.discovery`). On each connect `online` goes first, then the
current state, then what waited in the outbox.
In: commands on `<base>/cmd/<method>[/<who>]`, run through the `dispatch` callable as caller
`mqtt:<who>` (default `mqtt:local`) and answered on `<base>/reply/<method>[/<who>]`. A command
its publisher retained is refused and cleared from the broker (it would run again on every
reconnect); the client subscribes with MQTT 5's "retain as published", so this holds for live
deliveries too. Messages on `forward` filters go to `forward`; messages on `read_allow` filters
are remembered for `mqtt.read`.
Room side: `rpc_publish` / `rpc_read` back the `mqtt.publish` / `mqtt.read` RPC methods.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from edge import __version__, wire
from edge.access import allowed
from edge.errors import AccessDenied, EdgeError, NoValue, RpcError, wire_error
from edge.gpio.spec import InputKind, InputSpec, OutputSpec
from edge.listeners import Unsubscribe
from edge.mqtt.client import AsyncMqttClient, Message, MqttSettings
from edge.mqtt.discovery import SensorInfo, discovery_configs, output_info
from edge.mqtt.payloads import encode, invalid, parsed, text
from edge.mqtt.spec import MqttConfig
from edge.mqtt.topics import Topics, base_topic, matches_any, topic_error
from edge.protocol.rpc import RpcErrorCode
from edge.protocol.schema import Schema

_LOGGER = logging.getLogger(__name__)

Dispatch = Callable[[str, str, str], Awaitable[str]]
"""`(method, caller, payload) -> JSON result`; refusals raise `EdgeError`s carrying a code."""
Forward = Callable[[str, bytes], Awaitable[None]]
"""`(topic, payload)`: hand one local message to the room."""

MAX_REMEMBERED_TOPICS = 256
"""Topics `mqtt.read` remembers; beyond it the longest-remembered is forgotten."""
FORWARD_QUEUE_SIZE = 64
"""Messages waiting for `forward`; when full the newest is dropped and counted."""
ReadInput = Callable[[str], float]
_TOPIC = {"type": "string", "description": "an MQTT topic name (no wildcards)"}
PUBLISH_PARAMS: Schema = {
    "type": "object",
    "properties": {"topic": _TOPIC, "payload": {"type": "string"}, "retain": {"type": "boolean"}},
    "required": ["topic"],
    "additionalProperties": False,
}
"""The published schema of `mqtt.publish`."""
READ_PARAMS: Schema = {
    "type": "object",
    "properties": {"topic": _TOPIC},
    "required": ["topic"],
    "additionalProperties": False,
}
"""The published schema of `mqtt.read`."""


class MqttBridge:
    """A `Service`: `run()` until cancelled; `started` is set once its tasks are running."""

    name = "mqtt"

    def __init__(
        self,
        config: MqttConfig,
        *,
        identity: str,
        dispatch: Dispatch | None = None,
        forward: Forward | None = None,
        sensors: Sequence[SensorInfo] = (),
        outputs: Sequence[OutputSpec] = (),
        inputs: Sequence[InputSpec] = (),
        read_input: ReadInput | None = None,
        output_values: Callable[[], Mapping[str, float]] | None = None,
        model: str = "",
    ) -> None:
        """`read_input` reads an input by name (may block); `output_values` gives every output's
        current value (published on each connect; else the last ones seen in `publish_state`)."""
        self.config = config
        self.identity = identity
        self.topics = Topics(base_topic(config.base_topic, identity), config.discovery_prefix)
        offline = Message(self.topics.availability, b"offline", retain=True, qos=1)
        settings = MqttSettings(
            host=config.host,
            port=config.port,
            client_id=config.client_id_for(identity),
            username=config.username,
            password=config.password,
            tls=config.tls,
            ca_file=config.ca_file,
            keepalive_s=config.keepalive_s,
            outbox_size=config.outbox_size,
            will=offline,
        )
        self.client = AsyncMqttClient(settings, on_connected=self._on_connected)
        self.client.farewell = offline
        self._dispatch = dispatch
        self._forward = forward
        self._sensors = tuple(sensors)
        self._outputs = tuple(outputs)
        # Readings are revealed only where Home Assistant's caller may read them.
        self._inputs = tuple(i for i in inputs if allowed(i.allow, config.ha_caller))
        self._read_input = read_input
        self._current_outputs = output_values
        self._model = model
        self._state: bytes | None = None
        self._output_values: dict[str, str] = {}
        self._input_values: dict[str, str] = {}
        self._remembered: dict[str, Message] = {}
        self._forward_queue: asyncio.Queue[Message] = asyncio.Queue(maxsize=FORWARD_QUEUE_SIZE)
        self.dropped_forwards = 0
        self.rejected_commands = 0
        self._subscriptions: list[Unsubscribe] = []
        self.started = asyncio.Event()
        """Set once `run` has started its tasks (the broker may still be unreachable)."""

    async def run(self) -> None:
        """Keep the broker connection and serve it; `started` does not wait for the broker.

        When it ends, every subscription handed to `close_with` ends too.
        """
        for topic_filter in (self.topics.commands, *self.config.read_allow, *self.config.forward):
            self.client.subscribe(topic_filter)
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self.client.run(), name="mqtt.client")
                tg.create_task(self._inbound(), name="mqtt.inbound")
                if self._forward is not None:
                    tg.create_task(self._forwarder(self._forward), name="mqtt.forward")
                if self._inputs and self._read_input is not None:
                    tg.create_task(self._poll_inputs(self._read_input), name="mqtt.inputs")
                self.started.set()
        finally:
            subscriptions, self._subscriptions = self._subscriptions, []
            for unsubscribe in subscriptions:
                unsubscribe()

    def close_with(self, unsubscribe: Unsubscribe) -> None:
        """End a subscription that feeds this bridge when `run` ends."""
        self._subscriptions.append(unsubscribe)

    # -- outbound ----------------------------------------------------------------------------

    def publish_reading(self, sensor: str, value: float, unit: str, time_us: int) -> None:
        """One sensor reading to `<base>/sensor/<sensor>` (not retained)."""
        shown = value if math.isfinite(value) else None
        body = {"value": shown, "unit": unit, "time_us": time_us}
        self.client.publish(Message(self.topics.sensor(sensor), encode(body)))

    def publish_state(self, attributes: Mapping[str, str]) -> None:
        """The twin as retained `<base>/state`, and each changed `gpio.<output>` value."""
        # Not `edge.status`: a retained "online" would outlive a kill -9 (the Will only fixes
        # `availability`).
        shown = {k: v for k, v in sorted(attributes.items()) if k != wire.Attribute.STATUS}
        self._state = encode(shown)
        self.client.publish(Message(self.topics.state, self._state, retain=True, qos=1))
        for key, value in attributes.items():
            name = wire.output_name(key)
            if name is not None and self._output_values.get(name) != value:
                self._output_values[name] = value
                self._retain(self.topics.output(name), value)

    def publish_input(self, name: str, value: float) -> None:
        """An input's reading, retained at `<base>/input/<name>` when it changed."""
        shown = f"{value:g}" if math.isfinite(value) else ""
        if any(i.name == name for i in self._inputs) and self._input_values.get(name) != shown:
            self._input_values[name] = shown
            self._retain(self.topics.input(name), shown)

    def _retain(self, topic: str, value: str | bytes) -> None:
        payload = value.encode() if isinstance(value, str) else value
        self.client.publish(Message(topic, payload, retain=True, qos=1))

    def publish_room_metadata(self, metadata: str) -> None:
        """The room's metadata, retained (empty metadata clears the retained message)."""
        message = Message(self.topics.room_metadata, metadata.encode(), retain=True, qos=1)
        self.client.publish(message)

    def _on_connected(self) -> None:
        """Everything retained again: a broker without persistence forgot it all."""
        self._retain(self.topics.availability, "online")
        if self._state is not None:
            self._retain(self.topics.state, self._state)
        if self._current_outputs is not None:
            current = self._current_outputs()
            self._output_values.update({k: f"{v:g}" for k, v in current.items()})
        for name, value in self._output_values.items():
            self._retain(self.topics.output(name), value)
        for name, value in self._input_values.items():
            self._retain(self.topics.input(name), value)
        if not self.config.discovery:
            return
        for spec in self._outputs:
            self._retain(self.topics.output_info(spec.name), encode(output_info(spec)))
        for config in discovery_configs(
            self.topics,
            identity=self.identity,
            version=__version__,
            model=self._model,
            sensors=self._sensors,
            outputs=self._outputs,
            inputs=self._inputs,
            ha_caller=self.config.ha_caller,
        ):
            self._retain(config.topic, config.encoded())

    async def _poll_inputs(self, read: ReadInput) -> None:
        """Every input's reading each `input_period_s` (read off the loop: sensors may block)."""
        while True:
            for spec in self._inputs:
                try:
                    value = await asyncio.to_thread(read, spec.name)
                except EdgeError as exc:
                    _LOGGER.debug("MQTT: input %s not read: %s", spec.name, exc)
                    continue
                binary = spec.kind in (InputKind.BUTTON, InputKind.DIGITAL)
                self.publish_input(spec.name, float(round(value)) if binary else value)
            await asyncio.sleep(self.config.input_period_s)  # a sampling period

    # -- inbound -----------------------------------------------------------------------------

    async def _inbound(self) -> None:
        while True:
            message = await self.client.receive()
            command = self.topics.parse_command(message.topic)
            if command is not None:
                await self._command(message, *command)
                continue
            if matches_any(self.config.read_allow, message.topic):
                self._remember(message)
            if self._forward is not None and matches_any(self.config.forward, message.topic):
                try:
                    self._forward_queue.put_nowait(message)
                except asyncio.QueueFull:
                    self.dropped_forwards += 1
                    _LOGGER.warning("MQTT: forward queue full; dropped %r", message.topic)

    async def _command(self, message: Message, method: str, who: str) -> None:
        caller = f"mqtt:{who or 'local'}"
        reply: dict[str, object]
        if message.retain and not message.payload:
            return  # a retained command being cleared (by us, below): nothing to run
        try:
            if message.retain:
                self._retain(message.topic, b"")  # else it replays on every subscribe
                raise invalid(
                    "retained commands are refused (and cleared from the broker): publish "
                    "commands with retain off"
                )
            payload = text(message.payload)
            if method not in self.config.commands or self._dispatch is None:
                accepted = ", ".join(self.config.commands) if self._dispatch else "none"
                raise RpcError(
                    RpcErrorCode.UNSUPPORTED_METHOD,
                    f"method {method!r} is not accepted over MQTT (accepted: {accepted})",
                )
            result = await self._dispatch(method, caller, payload)
            reply = {"ok": True, "result": parsed(result)}
        except Exception as exc:  # a service boundary: one bad command must not end the bridge
            self.rejected_commands += 1
            error = wire_error(exc) if isinstance(exc, EdgeError) else None
            if error is None:
                _LOGGER.exception("MQTT command %s from %r failed", method, caller)
                error = RpcError(RpcErrorCode.APPLICATION_ERROR, "internal error")
            else:
                _LOGGER.info("MQTT command %s from %r refused: %s", method, caller, error.message)
            reply = {"ok": False, "error": {"code": error.code, "message": error.message}}
        self.client.publish(Message(self.topics.reply(method, who), encode(reply), qos=1))

    def _remember(self, message: Message) -> None:
        self._remembered.pop(message.topic, None)
        if message.payload:
            self._remembered[message.topic] = message
            if len(self._remembered) > MAX_REMEMBERED_TOPICS:
                del self._remembered[next(iter(self._remembered))]

    async def _forwarder(self, forward: Forward) -> None:
        while True:
            message = await self._forward_queue.get()
            try:
                await forward(message.topic, message.payload)
            except EdgeError as exc:
                _LOGGER.warning("MQTT: could not forward %r into the room: %s", message.topic, exc)

    # -- the mqtt.publish / mqtt.read RPC methods --------------------------------------------

    async def rpc_publish(self, params: Mapping[str, Any]) -> str:
        """`{"topic", "payload": str, "retain": bool}` (validated: `PUBLISH_PARAMS`) into the
        broker, if the topic is allowed."""
        topic = self._topic(params["topic"], self.config.publish_allow)
        body: str = params.get("payload", "")
        retain: bool = params.get("retain", False)
        self.client.publish(Message(topic, body.encode(), retain=retain, qos=1))
        return encode({"topic": topic, "queued": self.client.state.value != "connected"}).decode()

    async def rpc_read(self, params: Mapping[str, Any]) -> str:
        """`{"topic"}` (validated: `READ_PARAMS`) -> the last value seen (retained ones
        included) on an allowed topic."""
        topic = self._topic(params["topic"], self.config.read_allow)
        message = self._remembered.get(topic)
        if message is None:
            raise NoValue(f"no value seen on {topic!r}")
        body = text(message.payload)
        return encode({"topic": topic, "payload": body, "retained": message.retain}).decode()

    def _topic(self, topic: str, allowed: tuple[str, ...]) -> str:
        """`topic` if it names one topic matching `allowed`; who may call is `edge.access`'s."""
        if (error := topic_error(topic)) is not None:
            raise invalid(error)
        if not matches_any(allowed, topic):
            raise AccessDenied(f"topic {topic!r} is not allowed")
        return topic
