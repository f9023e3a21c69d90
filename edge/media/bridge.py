"""ThreadToLoop: the one bounded handoff from capture threads to the event loop.

Capture threads (picamera2's encoder poll thread, pyaudio's stream callback) call `put()`; the
event loop awaits `get()`. Items sit in a deque guarded by a `threading.Lock`; the only thing a
thread does with the loop is `loop.call_soon_threadsafe()` to wake a waiting getter, at most
one wake-up in flight, so a stalled consumer cannot make the loop's ready queue grow either.

Drop policies when the consumer is slower than the producer (memory stays at `maxsize` items):

- `DROP_OLDEST` (audio): a full queue discards its oldest item; fresh sound beats late sound.
- `UNTIL_KEYFRAME` (video): a full queue discards the *new* frame, and every frame after it
  until the next keyframe, because an H.264 P-frame after a gap cannot be decoded. The keyframe
  that ends the gap replaces whatever is still queued (older than it, no longer needed) and
  `on_overflow` runs on the loop once per gap so the camera can ask its encoder for that
  keyframe now instead of at the end of its interval.
"""

from __future__ import annotations

import asyncio
import collections
import enum
import logging
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")

_LOGGER = logging.getLogger(__name__)


class DropPolicy(enum.Enum):
    """What a full bridge throws away."""

    DROP_OLDEST = "drop_oldest"
    """The oldest queued item (audio)."""
    UNTIL_KEYFRAME = "until_keyframe"
    """The newest item and all that follow until a keyframe (video)."""


class ThreadToLoop(Generic[T]):
    """Bounded, thread-safe queue from any thread to one asyncio event loop."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        *,
        maxsize: int,
        policy: DropPolicy,
        is_keyframe: Callable[[T], bool] | None = None,
        on_overflow: Callable[[], None] | None = None,
        name: str = "bridge",
    ) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize must be at least 1, got {maxsize}")
        if policy is DropPolicy.UNTIL_KEYFRAME and is_keyframe is None:
            raise ValueError("UNTIL_KEYFRAME needs is_keyframe")
        self.maxsize = maxsize
        self.policy = policy
        self.name = name
        self.dropped = 0
        """Items discarded by the drop policy or because the bridge was closed."""
        self.put_count = 0
        """Items offered by producers."""
        self._loop = loop
        self._is_keyframe = is_keyframe
        self._on_overflow = on_overflow
        self._items: collections.deque[T] = collections.deque()
        self._lock = threading.Lock()
        self._gap = False  # UNTIL_KEYFRAME: dropping until the next keyframe
        self._waiter: asyncio.Future[None] | None = None  # made and resolved on the loop only
        self._wake_pending = False
        self._error: BaseException | None = None

    def qsize(self) -> int:
        """Items waiting for the consumer."""
        with self._lock:
            return len(self._items)

    @property
    def waiting(self) -> bool:
        """Whether a getter is waiting for an item."""
        return self._waiter is not None

    @property
    def closed(self) -> bool:
        """Whether `close()` was called."""
        return self._error is not None

    def put(self, item: T) -> None:
        """Offer an item from any thread; never blocks, never raises."""
        overflow = False
        with self._lock:
            self.put_count += 1
            if self._error is not None:
                self.dropped += 1
                return
            if self.policy is DropPolicy.DROP_OLDEST:
                if len(self._items) >= self.maxsize:
                    self._items.popleft()
                    self.dropped += 1
                self._items.append(item)
            else:
                overflow = self._put_video(item)
            wake = self._wake_locked()
        if wake or overflow:
            self._call_soon(wake=wake, overflow=overflow)

    async def get(self) -> T:
        """The next item; once closed, raises the error given to `close()`."""
        while True:
            with self._lock:
                if self._error is not None:
                    raise self._error.with_traceback(None)
                if self._items:
                    return self._items.popleft()
                waiter = self._loop.create_future()
                self._waiter = waiter
            try:
                await waiter
            finally:
                with self._lock:
                    if self._waiter is waiter:
                        self._waiter = None

    async def get_or_stall(self, stall_timeout_s: float) -> T:
        """The next item; TimeoutError once producers offered nothing for `stall_timeout_s`.

        Items dropped by the policy count as progress: a producer that is alive but outrun
        (video in a gap waiting for its keyframe) is not mistaken for a dead device.
        """
        while True:
            seen = self.put_count
            try:
                async with asyncio.timeout(stall_timeout_s):
                    return await self.get()
            except TimeoutError:
                if self.put_count == seen:
                    raise

    def close(self, error: BaseException) -> None:
        """Discard queued items and make every `get()` raise `error`; from any thread."""
        with self._lock:
            if self._error is not None:
                return
            self._error = error
            self.dropped += len(self._items)
            self._items.clear()
            wake = self._wake_locked()
        if wake:
            self._call_soon(wake=True, overflow=False)

    # -- helpers ---------------------------------------------------------------------------

    def _put_video(self, item: T) -> bool:
        """UNTIL_KEYFRAME under the lock; True when a new gap starts."""
        assert self._is_keyframe is not None
        keyframe = self._is_keyframe(item)
        if keyframe and (self._gap or len(self._items) >= self.maxsize):
            # Everything queued is older than this keyframe; a decoder restarts here.
            self.dropped += len(self._items)
            self._items.clear()
            self._gap = False
        if self._gap:
            self.dropped += 1
            return False
        if len(self._items) >= self.maxsize:
            self.dropped += 1
            self._gap = True
            return True
        self._items.append(item)
        return False

    def _wake_locked(self) -> bool:
        """Whether a wake-up must be scheduled (a getter waits and none is in flight)."""
        if self._waiter is None or self._wake_pending:
            return False
        self._wake_pending = True
        return True

    def _call_soon(self, *, wake: bool, overflow: bool) -> None:
        try:
            if wake:
                self._loop.call_soon_threadsafe(self._wake)
            if overflow and self._on_overflow is not None:
                self._loop.call_soon_threadsafe(self._on_overflow)
        except RuntimeError:  # the loop is closed: nobody is left to read
            _LOGGER.debug("%s: event loop closed, item not delivered", self.name)

    def _wake(self) -> None:
        with self._lock:
            self._wake_pending = False
            waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


async def in_thread(blocking: Callable[[], T]) -> T:
    """Run `blocking` in a worker thread; a cancelled caller still waits for it to finish.

    Opening or closing a device must not be abandoned halfway: the caller cleans up after
    the thread is done, then the cancellation goes on.
    """
    future = asyncio.get_running_loop().run_in_executor(None, blocking)
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        await asyncio.wait([future])
        if not future.cancelled():
            future.exception()  # retrieved: the caller is going away, its cleanup decides
        raise
