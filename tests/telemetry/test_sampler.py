"""Sampling: sensors read on schedule, failures and junk isolated, readings spooled."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from edge.telemetry.codec import Reading, Sample, Value
from edge.telemetry.outbox import Outbox
from edge.telemetry.sampler import TelemetryService
from edge.telemetry.sensors import SensorUnavailable, SimulatedSensor
from edge.telemetry.spec import SensorKind, SensorSpec, TelemetryConfig
from tests.helpers import assert_eventually


@dataclass
class Scripted:
    """A sensor whose read() is given by a function of the call count."""

    name: str
    behaviour: str
    unit: str = ""
    calls: int = 0
    release: threading.Event = field(default_factory=threading.Event)

    def read(self) -> Value:
        self.calls += 1
        match self.behaviour:
            case "raises":
                raise OSError("i2c bus error")
            case "junk":
                return float("nan") if self.calls % 2 else b"bytes"  # type: ignore[return-value]
            case "absent":
                raise SensorUnavailable("no such chip")
            case "hangs":
                self.release.wait(10)
                return 1
        return self.calls


def config(*names: str, period: float = 0.02) -> TelemetryConfig:
    specs = tuple(SensorSpec(name=n, kind=SensorKind.PYTHON, period_s=period) for n in names)
    return TelemetryConfig(sensors=specs)


@pytest.fixture
async def outbox(tmp_path: Path) -> AsyncIterator[Outbox]:
    box = Outbox.open(tmp_path / "spool.sqlite3", max_rows=10_000)
    yield box
    box.close()


async def run_until(service: TelemetryService, predicate: Callable[[], bool]) -> None:
    async with asyncio.TaskGroup() as tg:
        task = tg.create_task(service.run(), name="test.telemetry")
        try:
            await assert_eventually(predicate)
        finally:
            task.cancel()


def sensors_in(outbox: Outbox) -> list[str]:
    return [r.sensor for r in outbox.read_after(0, limit=100_000).readings]


async def test_a_failing_junk_or_absent_sensor_does_not_stop_the_others(
    outbox: Outbox, caplog: pytest.LogCaptureFixture
) -> None:
    good = Scripted("good", "counts")
    bad, junk, absent = (
        Scripted("bad", "raises"),
        Scripted("junk", "junk"),
        Scripted("gone", "absent"),
    )
    service = TelemetryService(
        config("good", "bad", "junk", "gone"), outbox, sensors=[good, bad, junk, absent]
    )
    with caplog.at_level(logging.WARNING):
        await run_until(
            service,
            lambda: sensors_in(outbox).count("good") >= 10 and bad.calls >= 3 and junk.calls >= 3,
        )
    assert set(sensors_in(outbox)) == {"good"}
    values = [r.value for r in outbox.read_after(0, limit=1000).readings]
    assert values == list(range(1, len(values) + 1))  # every good reading, in order
    assert absent.calls == 1  # unavailable: asked once, then left alone
    assert caplog.text.count("'gone' unavailable: no such chip") == 1
    assert caplog.text.count("sensor 'bad' failed (1 time(s)): OSError: i2c bus error") == 1
    assert "sensor 'junk' failed (1 time(s)): junk reading" in caplog.text
    assert service.failures["bad"] >= 3
    assert service.last_seq == outbox.last_seq
    assert any("gone unavailable" in e for e in service.events)


async def test_cancelled_during_an_append_run_returns_with_that_append_recorded(
    outbox: Outbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    entered, release = threading.Event(), threading.Event()
    real_append = outbox.append

    def slow_append(samples: Iterable[Sample], *, dropped_before: int = 0) -> list[Reading]:
        entered.set()
        release.wait(10)
        return real_append(samples, dropped_before=dropped_before)

    monkeypatch.setattr(outbox, "append", slow_append)
    service = TelemetryService(config("good"), outbox, sensors=[Scripted("good", "counts")])
    task = asyncio.create_task(service.run(), name="test.telemetry")
    await assert_eventually(entered.is_set)
    task.cancel()
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    await assert_eventually(lambda: outbox.last_seq >= 1)  # the append itself has finished
    assert service.last_seq == outbox.last_seq


async def test_a_hung_sensor_holds_one_read_and_the_others_keep_flowing(outbox: Outbox) -> None:
    hung, good = Scripted("hung", "hangs"), Scripted("good", "counts")
    service = TelemetryService(config("hung", "good"), outbox, sensors=[hung, good])
    try:
        await run_until(service, lambda: sensors_in(outbox).count("good") >= 20)
        assert hung.calls == 1  # no pile of threads behind a stuck read
    finally:
        hung.release.set()


async def test_wait_beyond_wakes_when_a_newer_reading_is_spooled(outbox: Outbox) -> None:
    sim = SimulatedSensor("sim", "°C", mean=20, seed=1)
    service = TelemetryService(config("sim"), outbox, sensors=[sim])
    async with asyncio.TaskGroup() as tg:
        run = tg.create_task(service.run(), name="test.telemetry")
        async with asyncio.timeout(10):
            await service.wait_beyond(3)
        run.cancel()
    assert outbox.last_seq >= 4


def test_simulated_sensors_are_deterministic() -> None:
    def series(seed: int) -> list[Value]:
        t = iter(range(100))
        sensor = SimulatedSensor(
            "s", mean=10, amplitude=2, noise=0.5, seed=seed, clock=lambda: next(t)
        )
        return [sensor.read() for _ in range(20)]

    assert series(3) == series(3)
    assert series(3) != series(4)
    assert all(isinstance(v, float) and 5 < v < 15 for v in series(3))


async def test_aclose_spools_what_is_still_queued(tmp_path: Path) -> None:
    outbox = Outbox.open(tmp_path / "spool.sqlite3", max_rows=10_000)
    service = TelemetryService(config("a"), outbox, sensors=[Scripted("a", "counts")])
    # Readings taken but not yet written by the (not running) spool writer.
    service._take(service.sensors[0], 1.5)
    service._take(service.sensors[0], 2.5)
    await service.aclose()
    reopened = Outbox.open(tmp_path / "spool.sqlite3", max_rows=10_000)
    try:
        values = [r.value for r in reopened.read_after(0, limit=10).readings]
    finally:
        reopened.close()
    assert values == [1.5, 2.5]
