"""Test helpers shared by every layer of the suite."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


async def assert_eventually(
    predicate: Callable[[], T | Awaitable[T]],
    *,
    timeout: float = 10.0,  # noqa: ASYNC109 - an upper bound for polling, not an API
    interval: float = 0.02,
    message: str | Callable[[], str] = "",
) -> T:
    """Poll `predicate` (sync or async) until it returns a truthy value; return it.

    An exception from the predicate counts as "not yet". On timeout, raise an
    AssertionError naming `message` and the last value or exception seen.
    """
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            result = predicate()
            if inspect.isawaitable(result):
                remaining = max(deadline - time.monotonic(), interval)
                async with asyncio.timeout(remaining):
                    result = await result
        except Exception as exc:  # noqa: BLE001 - reported on timeout
            last = exc
        else:
            if result:
                return result
            last = result
        if time.monotonic() >= deadline:
            break
        await asyncio.sleep(interval)

    text = message() if callable(message) else message
    seen = f"exception {last!r}" if isinstance(last, BaseException) else f"value {last!r}"
    outcome = f"not met within {timeout:g} s; last saw {seen}"
    raise AssertionError(f"{text} ({outcome})" if text else f"condition {outcome}")


@dataclass(frozen=True, slots=True)
class Thermometer:
    """A sensor that always reads 48.5 °C (a `telemetry.sensors.Sensor`)."""

    name: str = "cpu"
    unit: str = "°C"

    def read(self) -> float:
        return 48.5
