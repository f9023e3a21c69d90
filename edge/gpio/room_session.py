"""GPIO in a room session: its RPC methods, departures, and the status it shows."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping

from edge import wire
from edge.errors import AccessDenied, DeviceError, RoomError
from edge.gpio import methods
from edge.gpio.service import GpioService
from edge.listeners import Unsubscribe
from edge.livekit.ports import AttributeSetter, MethodRegistrar, SessionRoom
from edge.livekit.room import Reconnected, Reconnecting
from edge.livekit.rpc import RpcEndpoint
from edge.peer_log import PeerLog
from edge.protocol.codes import ErrorCode
from edge.protocol.participants import ParticipantLeft
from edge.protocol.rpc import RpcInvocation

_LOGGER = logging.getLogger(__name__)
_PEER_LOG = PeerLog(_LOGGER)
"""Refused calls are logged per caller within a budget."""

ATTRIBUTE_MIN_INTERVAL_S = 1.0
"""Coalesce attribute updates to at most one per interval."""


async def serve_gpio(
    room: SessionRoom,
    gpio: GpioService,
    *,
    rpc: MethodRegistrar | None = None,
    set_attributes: bool = True,
) -> None:
    """Serve the GPIO methods in `room` and feed departures to the fail-safes until it ends.

    With `set_attributes` the GPIO status is set as our attributes here (1/s); without, it
    is someone else's to carry (the device twin, fed by `follow_status` across sessions).
    """
    rpc = rpc or RpcEndpoint(room)
    for name, method in methods.METHODS.items():
        rpc.register_method(
            name,
            _handler(gpio, name),
            description=method.description,
            params=method.params,
            max_bytes=methods.MAX_PAYLOAD_BYTES,
        )
    gpio.link_restored()
    changed = asyncio.Event()
    changed.set()
    unsubscribe = gpio.changes.subscribe(changed.set) if set_attributes else _nothing
    try:
        async with asyncio.TaskGroup() as tg:
            status = None
            if set_attributes:
                status = tg.create_task(
                    _publish_status(room, gpio, changed), name="gpio.status-attributes"
                )
            async for event in room.events():
                if isinstance(event, ParticipantLeft):
                    gpio.participant_left(event.participant.identity)
                elif isinstance(event, Reconnecting):  # the session may come back: grace
                    gpio.link_lost()
                elif isinstance(event, Reconnected):
                    gpio.link_restored()
            if status is not None:
                status.cancel()
    finally:
        unsubscribe()
        gpio.link_lost()  # the room is gone: the grace timer starts


def follow_status(gpio: GpioService, publish: Callable[[Mapping[str, str]], object]) -> Unsubscribe:
    """Hand the GPIO status to `publish` now and after every change, in a room or not.

    Outputs keep changing while we are out of the room (the grace timer drives them safe): the
    twin must know, or it would republish a stale "on" after the rejoin and MQTT would show it
    meanwhile.
    """
    publish(status_attributes(gpio))
    return gpio.changes.subscribe(lambda: publish(status_attributes(gpio)))


def _nothing() -> None:
    pass


def _handler(gpio: GpioService, method: str) -> Callable[[RpcInvocation], Awaitable[str]]:
    async def handle(invocation: RpcInvocation) -> str:
        caller = invocation.caller_identity
        try:
            return await methods.run(gpio, method, caller, invocation.params)
        except DeviceError as exc:  # the endpoint answers it; the refusal is logged per peer
            level = logging.WARNING if isinstance(exc, AccessDenied) else logging.INFO
            name = ErrorCode(exc.code).name if exc.code in set(ErrorCode) else exc.code
            _PEER_LOG.log(level, caller, "%s from %r refused: %s (%s)", method, caller, exc, name)
            raise

    return handle


def status_attributes(gpio: GpioService) -> dict[str, str]:
    """The GPIO part of our participant attributes."""
    lease = gpio.lease
    attributes = {wire.Attribute.LEASE: lease.holder if lease else ""}
    if gpio.last_failsafe is not None:
        attributes[wire.Attribute.LAST_FAILSAFE] = gpio.last_failsafe.as_json()
    for spec in gpio.config.outputs:
        attributes[wire.output_key(spec.name)] = f"{gpio.actuator.value(spec.name):g}"
    return attributes


async def _publish_status(room: AttributeSetter, gpio: GpioService, changed: asyncio.Event) -> None:
    """Set the status as our attributes, at most once per `ATTRIBUTE_MIN_INTERVAL_S`."""
    sent: dict[str, str] = {}
    while True:
        await changed.wait()
        changed.clear()
        current = status_attributes(gpio)
        update = {k: v for k, v in current.items() if sent.get(k) != v}
        if update:
            try:
                await room.set_attributes(update)
                sent.update(update)
            except RoomError as exc:
                _LOGGER.warning("could not publish GPIO status: %s", exc)
        await asyncio.sleep(ATTRIBUTE_MIN_INTERVAL_S)
