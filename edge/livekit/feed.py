"""EventFeed: fan room events out to any number of consumers, each with its own bounded queue."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Generic, TypeVar

_LOGGER = logging.getLogger(__name__)

T = TypeVar("T")


class Subscription(Generic[T]):
    """One consumer's view of the feed; iterate it with `async for`."""

    def __init__(self, maxsize: int, is_last: Callable[[T], bool], name: str) -> None:
        # Drop policy: when this consumer falls behind, its oldest event goes (and is counted).
        self._queue: asyncio.Queue[T] = asyncio.Queue(maxsize=maxsize)
        self._is_last = is_last
        self._name = name
        self.dropped = 0
        self.closed = False

    def put(self, event: T) -> None:
        """Queue an event without blocking."""
        if self._queue.full():
            self._queue.get_nowait()
            self.dropped += 1
            if self.dropped in (1, 10, 100) or self.dropped % 1000 == 0:
                _LOGGER.warning(
                    "%s: consumer behind, %d event(s) dropped", self._name, self.dropped
                )
        self._queue.put_nowait(event)

    def __aiter__(self) -> AsyncIterator[T]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[T]:
        while not self.closed:
            event = await self._queue.get()
            if self._is_last(event):
                self.closed = True
            yield event


class EventFeed(Generic[T]):
    """Publishes events to every live subscription; `is_last` marks the final event."""

    def __init__(self, *, maxsize: int, is_last: Callable[[T], bool], name: str) -> None:
        self._maxsize = maxsize
        self._is_last = is_last
        self._name = name
        self._subscriptions: list[Subscription[T]] = []
        self._last: T | None = None

    def subscribe(self, backlog: Iterable[T] = ()) -> Subscription[T]:
        """A new subscription that first yields `backlog` (and the final event, if already sent)."""
        sub = Subscription(self._maxsize, self._is_last, self._name)
        for event in backlog:
            sub.put(event)
        if self._last is not None:
            sub.put(self._last)
        else:
            self._subscriptions.append(sub)
        return sub

    def publish(self, event: T) -> None:
        """Hand `event` to every subscriber; after the final event, subscriptions end."""
        for sub in self._subscriptions:
            sub.put(event)
        if self._is_last(event):
            self._last = event
            self._subscriptions.clear()

    @property
    def dropped(self) -> int:
        """Events dropped across live subscriptions."""
        return sum(sub.dropped for sub in self._subscriptions)
