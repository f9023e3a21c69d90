"""Listeners: an event any number of parts of the daemon subscribe to, in any order.

    readings: Listeners[[Sample]] = Listeners("telemetry readings")
    unsubscribe = readings.subscribe(mirror)    # from anywhere, before or after the others
    readings.emit(sample)                       # calls every subscriber, in subscription order
    unsubscribe()                               # idempotent; not called again from then on

A subscriber that raises is logged (its first failure with the traceback, later ones at debug
level) and the others are still called: nothing a subscriber raises reaches the emitter.
Subscribers must not block. Emitting on another thread than subscribing is safe: each emit
works on the subscriptions as they were when it began, less those unsubscribed since.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Generic, ParamSpec

_LOGGER = logging.getLogger(__name__)

P = ParamSpec("P")

Unsubscribe = Callable[[], None]
"""Ends one subscription; calling it again does nothing."""


class _Subscription(Generic[P]):
    __slots__ = ("active", "callback", "failures")

    def __init__(self, callback: Callable[P, object]) -> None:
        self.callback = callback
        self.active = True
        self.failures = 0


class Listeners(Generic[P]):
    """Subscribers to one event; `emit` calls each of them, isolated from one another."""

    def __init__(self, name: str) -> None:
        self.name = name
        """What the event is, for the log ("telemetry readings", "input door changes")."""
        self._subscriptions: tuple[_Subscription[P], ...] = ()

    def subscribe(self, callback: Callable[P, object]) -> Unsubscribe:
        """Call `callback` on every emit from now on, after the earlier subscribers."""
        subscription = _Subscription(callback)
        self._subscriptions = (*self._subscriptions, subscription)

        def unsubscribe() -> None:
            subscription.active = False
            self._subscriptions = tuple(s for s in self._subscriptions if s is not subscription)

        return unsubscribe

    def emit(self, *args: P.args, **kwargs: P.kwargs) -> None:
        """Call every current subscriber; one that raises is logged and skipped."""
        for subscription in self._subscriptions:
            if not subscription.active:  # unsubscribed by an earlier subscriber of this emit
                continue
            try:
                subscription.callback(*args, **kwargs)
            except Exception as exc:  # a subscriber boundary: see the module docstring
                subscription.failures += 1
                if subscription.failures == 1:
                    _LOGGER.exception(
                        "%s: subscriber %s failed: %s", self.name, _name(subscription), exc
                    )
                else:
                    _LOGGER.debug(
                        "%s: subscriber %s failed again (%d)",
                        self.name,
                        _name(subscription),
                        subscription.failures,
                    )

    def __len__(self) -> int:
        return len(self._subscriptions)


def _name(subscription: _Subscription[P]) -> str:
    callback = subscription.callback
    return getattr(callback, "__qualname__", None) or repr(callback)
