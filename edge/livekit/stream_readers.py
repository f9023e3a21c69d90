"""Readers handed to stream handlers: async iteration over chunks, `read_all()`, bounded buffer.

Drop policy: a reader holds at most `max_buffered_bytes` of chunks its handler has not read.
A chunk that would go over fails the stream for that reader (`StreamError`, reason
`ReaderOverflow`) after the chunks already buffered; the rest of the stream is dropped.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Generic, TypeVar

from edge.errors import StreamError
from edge.protocol.streams import StreamInfo

T = TypeVar("T", bytes, str)

READER_OVERFLOW = "ReaderOverflow"


class StreamReader(Generic[T]):
    """One incoming stream, as its handler sees it."""

    def __init__(
        self, info: StreamInfo, *, max_buffered_bytes: int, on_close: Callable[[], None]
    ) -> None:
        self._info = info
        self._max_buffered = max_buffered_bytes
        self._on_close = on_close
        self._chunks: deque[tuple[T, int]] = deque()
        self._buffered = 0
        self._ended = False
        self._closed = False
        self._error: StreamError | None = None
        self._wakeup = asyncio.Event()

    @property
    def info(self) -> StreamInfo:
        """The stream's header; once it completed, with the trailer's attributes merged in."""
        return self._info

    @property
    def buffered_bytes(self) -> int:
        """Bytes received and not yet read."""
        return self._buffered

    def __aiter__(self) -> AsyncIterator[T]:
        return self

    async def __anext__(self) -> T:
        """The next chunk; raise `StreamError` once a failed stream's chunks are all read."""
        while not self._chunks:
            if self._error is not None:
                raise self._error
            if self._ended or self._closed:
                raise StopAsyncIteration
            self._wakeup.clear()
            await self._wakeup.wait()
        chunk, size = self._chunks.popleft()
        self._buffered -= size
        return chunk

    def close(self) -> None:
        """Stop reading: the rest of the stream is dropped. Idempotent."""
        if not self._closed:
            self._closed = True
            self._chunks.clear()
            self._buffered = 0
            self._wakeup.set()
            if not self._ended:
                self._on_close()

    # -- fed by the endpoint ---------------------------------------------------------------

    def _push(self, chunk: T, size: int) -> bool:
        """Queue a chunk; False (and nothing queued) if it would exceed the buffer bound."""
        if self._buffered + size > self._max_buffered:
            return False
        self._chunks.append((chunk, size))
        self._buffered += size
        self._wakeup.set()
        return True

    def _finish(self, info: StreamInfo) -> None:
        self._info = info
        self._ended = True
        self._wakeup.set()

    def _fail(self, error: StreamError) -> None:
        self._error = error
        self._ended = True
        self._wakeup.set()


class ByteStreamReader(StreamReader[bytes]):
    """An incoming byte stream; iterate for chunks of bytes."""

    async def read_all(self) -> bytes:
        """Everything until the end; raise `StreamError` if the stream fails."""
        return b"".join([chunk async for chunk in self])


class TextStreamReader(StreamReader[str]):
    """An incoming text stream; iterate for pieces of text (never a split character)."""

    async def read_all(self) -> str:
        """Everything until the end; raise `StreamError` if the stream fails."""
        return "".join([chunk async for chunk in self])
