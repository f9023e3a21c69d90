"""RpcStreams: the RPC v2 transport of one `RpcEndpoint`, text data streams on the RPC topics.

    streams = RpcStreams(room, on_request=serve, on_answer=settle)   # async (reader) -> None
    await streams.send(stream_request_or_answer)
    payload = await read_payload(reader)            # whole, or StreamError past the limit

A private `StreamEndpoint` reads only `lk.rpc_request` and `lk.rpc_response` (the room's
`StreamInbox` gives it every stream packet) and sends requests and answers, paced like any
stream. Memory is bounded three times: each payload at `MAX_V2_PAYLOAD_BYTES` (`read_payload`
stops reading and fails with reason `TooLarge` one chunk past it), all RPC streams being
received at once at `MAX_V2_PENDING_BYTES` (beyond it the newest fails with `OverBudget`), and
the payloads that running handlers hold at `MAX_V2_PENDING_BYTES` too (`RpcResponder`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from edge.errors import RpcError, StreamError
from edge.livekit.ports import StreamRoom
from edge.livekit.stream_readers import TextStreamReader
from edge.livekit.streams import StreamEndpoint
from edge.protocol import rpc_v2
from edge.protocol.rpc import RpcErrorCode, built_in, payload_too_large
from edge.protocol.rpc_v2 import MAX_V2_PAYLOAD_BYTES, MAX_V2_PENDING_BYTES
from edge.protocol.stream_reassembler import Failure, StreamLimits

__all__ = ["RpcStreams", "answer_read_error", "read_payload", "request_read_error"]

TOO_LARGE = Failure.TOO_LARGE.value
"""`StreamError.reason` of a payload over the limit."""
OVER_BUDGET = Failure.OVER_BUDGET.value
"""`StreamError.reason` when RPC streams being received together exceed their budget."""
MAX_OPEN_STREAMS = 64
"""RPC streams received at once, all peers together (twice the handler cap: answers too)."""
_UNBOUNDED = 2**62
"""Per-stream limit of the reassembler: `read_payload` enforces ours, so an announced size
over it is answered with 1402 instead of dropped unanswered."""

StreamHandler = Callable[[TextStreamReader], Awaitable[None]]


class _EveryTopic:
    """Other topics are the application's: ignored here without a log line."""

    def __contains__(self, topic: object) -> bool:
        return True


class RpcStreams:
    """Receives and sends the text streams of RPC v2 for one room."""

    def __init__(
        self,
        room: StreamRoom,
        *,
        on_request: StreamHandler,
        on_answer: StreamHandler,
        pending_bytes: int = MAX_V2_PENDING_BYTES,
    ) -> None:
        limits = StreamLimits(
            max_streams=MAX_OPEN_STREAMS,
            max_stream_bytes=_UNBOUNDED,
            max_total_bytes=pending_bytes,
        )
        self._endpoint = StreamEndpoint(
            room,
            limits=limits,
            reader_buffer_bytes=MAX_V2_PAYLOAD_BYTES + 1,
            quiet_topics=_EveryTopic(),
        )
        self._endpoint.register_text_stream_handler(rpc_v2.REQUEST_TOPIC, on_request)
        self._endpoint.register_text_stream_handler(rpc_v2.RESPONSE_TOPIC, on_answer)

    async def send(self, item: rpc_v2.StreamRequest | rpc_v2.StreamAnswer) -> None:
        """Send a request or an answer as one text stream to its destination."""
        await self._endpoint.send_text(
            item.payload,
            topic=item.topic,
            attributes=item.attributes,
            destination_identities=[item.destination],
        )


async def read_payload(
    reader: TextStreamReader, *, limit: int = MAX_V2_PAYLOAD_BYTES
) -> tuple[str, int]:
    """The whole text of `reader` and its UTF-8 size; `StreamError` (reason `TooLarge`) once it
    passes `limit` bytes (the reader is closed, later chunks are dropped), or the stream's own
    failure."""
    announced = reader.info.total_length
    if announced is not None and announced > limit:
        reader.close()
        raise StreamError(f"payload is {announced} bytes, over {limit}", reason=TOO_LARGE)
    pieces: list[str] = []
    size = 0
    async for piece in reader:
        size += len(piece.encode("utf-8", "replace"))
        if size > limit:
            reader.close()
            raise StreamError(f"payload is over {limit} bytes", reason=TOO_LARGE)
        pieces.append(piece)
    return "".join(pieces), size


def request_read_error(exc: StreamError, announced: int | None) -> RpcError:
    """What a caller is answered when its request stream could not be read whole."""
    if exc.reason == TOO_LARGE:
        return payload_too_large(rpc_v2.RPC_VERSION_V2, announced)
    if exc.reason == OVER_BUDGET:
        return RpcError(RpcErrorCode.APPLICATION_ERROR, "too many concurrent calls")
    return built_in(RpcErrorCode.APPLICATION_ERROR, f"the request stream failed: {exc.reason}")


def answer_read_error(exc: StreamError) -> RpcError:
    """How our call fails when its answer stream could not be read whole."""
    if exc.reason == TOO_LARGE:
        return built_in(RpcErrorCode.RESPONSE_PAYLOAD_TOO_LARGE, str(exc))
    return built_in(RpcErrorCode.APPLICATION_ERROR, f"the answer stream failed: {exc}")
