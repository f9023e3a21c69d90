"""Send spooled readings into one room session, and answer `telemetry.history`.

    await serve_telemetry(room, service, streams=StreamEndpoint(room), rpc=RpcEndpoint(room))

`room` is any `LinkRoom` (its state and its end) and `rpc` any `MethodTable`.

Returns when the room disconnects. While connected, unsent readings go out oldest first as
msgpack byte streams (`edge.telemetry.codec`) on the configured topic, gathered per
`batch_window_s`, to everyone in the room, or with `audience = "announced"` only to the
participants that asked for them (`edge.telemetry.audience`); while nobody did, they wait in
the spool.

Delivery, honestly:

- A batch is *confirmed* (the spool's `sent_seq` moves past it) only once its stream was
  queued completely AND the room then stayed connected for `confirm_after_s`, longer than the
  ping timeout that reveals a silently dead link. A session that ends before that, or a send
  that fails midway, leaves the batch unsent: the next session sends it again, oldest first. So
  no reading is lost to a broken link (at-least-once), short of the spool's own bound, which is
  counted in `dropped`.
- The price is duplicates: a receiver may see a reading twice around a reconnect (or a daemon
  restart). Readings carry a per-device `seq`; a receiver keeps the highest seq it has seen
  (per `spool` id) and ignores anything not above it: exactly-once processing.
- A receiver that was absent (joined late, reconnected) sees a gap in `seq`. It asks
  `telemetry.history` with `{"since_seq": n}` or `{"since_us": t}` (optional `"limit"`): the
  answer is a byte stream to the caller alone (attribute `origin` = `history`), read from the
  spool and sent a chunk at a time (never whole in memory), and the RPC
  reply is JSON `{"stream_id", "topic", "count", "first_seq", "last_seq", "more"}`; when `more`
  is true, ask again from `last_seq`.

Human-readable events (a sensor failing, the spool dropping) go out as text streams on
`events_topic`, if set; they are best-effort and not spooled.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import time

from edge import wire
from edge.errors import DataError, RoomError, RpcError
from edge.livekit.ports import AudienceRoom, LinkRoom, MethodTable
from edge.livekit.room_events import ConnectionState
from edge.livekit.rpc import RpcHandler
from edge.livekit.streams import StreamEndpoint
from edge.protocol.participants import AttributesChanged, ParticipantJoined, ParticipantLeft
from edge.protocol.rpc import RpcErrorCode, RpcInvocation
from edge.telemetry import codec
from edge.telemetry.audience import Audience
from edge.telemetry.outbox import CorruptRow, History, ReadResult
from edge.telemetry.sampler import TelemetryService

_LOGGER = logging.getLogger(__name__)

HISTORY_CHUNK_READINGS = 256
"""Readings read from the spool and encoded at a time for a history answer."""
RETRY_AFTER_FAILURE_S = 1.0
"""Pause before resending after a failed stream on a room that still looks connected."""


async def serve_telemetry(
    room: AudienceRoom,
    service: TelemetryService,
    *,
    streams: StreamEndpoint,
    rpc: MethodTable,
    identity: str = "",
) -> None:
    """Stream readings into `room` and serve history until the room disconnects.

    `identity` is ours: what a consumer's `edge.wants.telemetry` patterns are matched with.
    """
    rpc.register_method(
        wire.Method.TELEMETRY_HISTORY,
        _history_handler(service, streams),
        description="Spooled readings after a sequence number or a time, as a byte stream",
        params=codec.HISTORY_PARAMS,
    )
    try:
        audience = Audience(identity, announced=service.config.audience == "announced")
        changed = asyncio.Event()
        async with asyncio.TaskGroup() as tg:
            uplink = _Uplink(room, service, streams, audience, changed)
            tasks = [tg.create_task(uplink.run(), name="telemetry.uplink")]
            if audience.announced:
                follow = _follow_audience(room, audience, changed)
                tasks.append(tg.create_task(follow, name="telemetry.audience"))
            if service.config.events_topic:
                tasks.append(
                    tg.create_task(_send_events(service, streams), name="telemetry.events")
                )
            await room.wait_disconnected()
            for task in tasks:
                task.cancel()
    finally:
        rpc.unregister_method(wire.Method.TELEMETRY_HISTORY)


async def _follow_audience(room: AudienceRoom, audience: Audience, changed: asyncio.Event) -> None:
    """Keep `audience` current from the room's participants; set `changed` on every change."""
    async for event in room.events():
        before = audience.version
        match event:
            case ParticipantJoined(participant=p):
                audience.seen(p.identity, p.attributes)
            case AttributesChanged(identity=identity, changed=attrs, local=False):
                if wire.Attribute.WANTS_TELEMETRY in attrs:
                    audience.seen(identity, attrs)
            case ParticipantLeft(participant=p):
                audience.left(p.identity)
        if audience.version != before:
            _LOGGER.info(
                "telemetry goes to %s", ", ".join(audience.destinations() or ()) or "nobody"
            )
            changed.set()


class _Uplink:
    """One session's sender: a cursor ahead of the spool's `sent_seq`, and what to confirm."""

    def __init__(
        self,
        room: LinkRoom,
        service: TelemetryService,
        streams: StreamEndpoint,
        audience: Audience,
        changed: asyncio.Event,
    ) -> None:
        self._room = room
        self._audience = audience
        self._changed = changed
        self._service = service
        self._outbox = service.outbox
        self._streams = streams
        self._config = service.config
        self._cursor = self._outbox.sent_seq
        """The last seq streamed in this session."""
        self._unconfirmed: collections.deque[tuple[float, int]] = collections.deque()
        """(queued at, last seq) per streamed batch; bounded by `confirm_after_s` of sending."""

    async def run(self) -> None:
        if self._service.last_seq > self._cursor:
            _LOGGER.info("telemetry: %d reading(s) to send", self._service.last_seq - self._cursor)
        while True:
            await self._confirm()
            if self._service.last_seq <= self._cursor:
                await self._wait_for_readings()
                continue
            if self._service.last_seq - self._cursor < self._config.max_batch_readings:
                await asyncio.sleep(self._config.batch_window_s)  # gather a batch
            destinations = self._audience.destinations()
            if destinations == ():  # announced audience, nobody asked: the spool keeps them
                await self._wait_for_audience()
                continue
            batch: ReadResult = await asyncio.to_thread(
                self._outbox.read_after, self._cursor, limit=self._config.max_batch_readings
            )
            if not batch.readings:  # only corrupt or dropped rows there
                self._cursor = max(self._cursor, batch.last_scanned)
                continue
            try:
                await self._send(batch.readings, destinations or ())
            except (RoomError, DataError) as exc:
                _LOGGER.info("telemetry batch not sent (%s); will resend", exc)
                await asyncio.sleep(RETRY_AFTER_FAILURE_S)
                continue
            self._cursor = batch.last_scanned
            self._unconfirmed.append((time.monotonic(), self._cursor))

    async def _wait_for_readings(self) -> None:
        try:
            async with asyncio.timeout(self._confirm_due()):
                await self._service.wait_beyond(self._cursor)
        except TimeoutError:
            pass

    async def _wait_for_audience(self) -> None:
        """Until someone asks for our telemetry (or a sent batch is due for confirming)."""
        self._changed.clear()
        try:
            async with asyncio.timeout(self._confirm_due()):
                await self._changed.wait()
        except TimeoutError:
            pass

    def _confirm_due(self) -> float | None:
        """Seconds until the oldest unconfirmed batch may be confirmed (None: nothing to)."""
        if not self._unconfirmed:
            return None
        due = self._unconfirmed[0][0] + self._config.confirm_after_s
        return max(0.0, due - time.monotonic())

    async def _confirm(self) -> None:
        """Mark sent what stayed connected long enough after being queued."""
        if self._room.state is not ConnectionState.CONNECTED:
            return
        horizon = time.monotonic() - self._config.confirm_after_s
        confirmed = None
        while self._unconfirmed and self._unconfirmed[0][0] <= horizon:
            confirmed = self._unconfirmed.popleft()[1]
        if confirmed is not None:
            await asyncio.to_thread(self._outbox.mark_sent, confirmed)

    async def _send(
        self, readings: tuple[codec.Reading, ...], destinations: tuple[str, ...]
    ) -> None:
        data = codec.encode_batch(
            readings, spool=self._outbox.spool_id, dropped=self._outbox.dropped
        )
        await self._streams.send_bytes(
            data,
            topic=self._config.topic,
            name=f"telemetry-{readings[0].seq}-{readings[-1].seq}.msgpack",
            mime_type=codec.CONTENT_TYPE,
            attributes=codec.stream_attributes(readings, origin="live"),
            destination_identities=destinations,
        )


def _history_handler(service: TelemetryService, streams: StreamEndpoint) -> RpcHandler:
    config = service.config

    async def history(invocation: RpcInvocation) -> str:
        request = codec.history_request(invocation.params, max_limit=config.history_max_readings)
        outbox = service.outbox
        found = await asyncio.to_thread(
            outbox.history,
            since_seq=request.since_seq,
            since_us=request.since_us,
            limit=request.limit,
        )
        try:
            stream_id = await _stream_history(found, service, streams, invocation)
        except CorruptRow as exc:
            _LOGGER.error("telemetry spool: %s; removed", exc)
            await asyncio.to_thread(outbox.drop_corrupt, exc.seq)
            raise RpcError(
                RpcErrorCode.APPLICATION_ERROR, "a corrupt spooled reading was removed; ask again"
            ) from None
        finally:
            await asyncio.to_thread(found.close)
        _LOGGER.info(
            "history for %r: %d reading(s) in stream %s",
            invocation.caller_identity,
            found.count,
            stream_id,
        )
        return json.dumps(
            {
                "stream_id": stream_id,
                "topic": config.topic,
                "count": found.count,
                "first_seq": found.first_seq,
                "last_seq": found.last_seq,
                "more": found.count == request.limit,
            }
        )

    return history


async def _stream_history(
    found: History, service: TelemetryService, streams: StreamEndpoint, invocation: RpcInvocation
) -> str:
    """Send `found` to the caller a chunk at a time; the stream's id."""
    outbox, config = service.outbox, service.config
    attributes = codec.range_attributes(
        found.first_seq, found.last_seq, found.count, origin="history"
    )
    writer = await streams.stream_bytes(
        topic=config.topic,
        name=f"telemetry-history-{invocation.request_id[:8]}.msgpack",
        mime_type=codec.CONTENT_TYPE,
        attributes=attributes,
        destination_identities=[invocation.caller_identity],
    )
    async with writer:  # an exception ends the stream with a trailer naming it
        await writer.write(
            codec.encode_batch_head(found.count, spool=outbox.spool_id, dropped=outbox.dropped)
        )
        sent = 0
        while chunk := await asyncio.to_thread(found.chunk, HISTORY_CHUNK_READINGS):
            await writer.write(codec.encode_rows(chunk))
            sent += len(chunk)
        if sent != found.count:  # cannot happen within one snapshot
            raise DataError(f"history sent {sent} of {found.count} readings")
    return writer.info.stream_id


async def _send_events(service: TelemetryService, streams: StreamEndpoint) -> None:
    """Best effort: an event that cannot be sent is logged and dropped."""
    while True:
        while not service.events:
            service.events_changed.clear()
            await service.events_changed.wait()
        text = service.events.popleft()
        try:
            await streams.send_text(text, topic=service.config.events_topic)
        except (RoomError, DataError) as exc:
            _LOGGER.debug("event not sent (%s): %s", exc, text)
