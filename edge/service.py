"""The contract every long-lived service of the daemon follows."""

from __future__ import annotations

from typing import Protocol


class Service(Protocol):
    """Runs for the daemon's whole life: `run()` in the daemon's TaskGroup until cancelled.

    `run()` takes nothing: a service that others wait on shows readiness itself (e.g. an
    `asyncio.Event` attribute such as `MqttBridge.started`), and closing is the service's own
    method, called by the daemon in the order it needs (GPIO safe first, telemetry spool last).
    """

    async def run(self) -> None: ...
