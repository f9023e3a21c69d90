"""TelemetryService: samples every sensor at its period and spools the readings.

    outbox = await asyncio.to_thread(Outbox.open, path, max_rows=config.spool_max_rows)
    service = TelemetryService(config, outbox)
    tg.create_task(service.run(), name="daemon.telemetry")       # daemon lifetime
    ... serve_telemetry(room, service, streams=..., rpc=...)     # per room session

Each sensor has its own task (`telemetry.sensor:<name>`) reading it off the event loop, at most
one read in flight per sensor (a hung sensor holds one thread, never more). A sensor that
raises or returns junk (NaN, bytes, an over-long string) is logged and retried next period;
one that raises `SensorUnavailable` is logged once and left alone; the others keep flowing.

Readings go through a bounded queue (`QUEUE_SIZE`; when full the OLDEST is dropped and counted
into the spool's `dropped`) to one writer task that appends them to the outbox in batches.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import logging
import threading
import time
from collections.abc import Callable, Sequence

from edge.listeners import Listeners
from edge.telemetry.codec import CodecError, Reading, Sample, Value, check_sample
from edge.telemetry.outbox import Outbox
from edge.telemetry.sensors import Sensor, SensorUnavailable, build_sensor
from edge.telemetry.spec import TelemetryConfig

_LOGGER = logging.getLogger(__name__)

QUEUE_SIZE = 1024
MAX_THREAD_HANDOVERS = 256
"""Readings waiting for the spool; when full the oldest is dropped (counted)."""
MAX_APPEND = 512
"""Most readings written in one spool transaction."""
EVENT_BACKLOG = 64
"""Human-readable events kept for the events stream; the oldest go first."""
FAILURE_LOG_EVERY = 100
"""A failing sensor is logged on its first failure and then every this many."""


class TelemetryService:
    """Daemon-lifetime sampler; the outbox it writes outlives room sessions."""

    def __init__(
        self,
        config: TelemetryConfig,
        outbox: Outbox,
        *,
        sensors: Sequence[Sensor] | None = None,
        clock_us: Callable[[], int] = lambda: time.time_ns() // 1000,
        read_input: Callable[[str], Value] | None = None,
    ) -> None:
        self.config = config
        self.outbox = outbox
        self.sensors: tuple[Sensor, ...] = tuple(
            sensors
            if sensors is not None
            else [build_sensor(s, read_input=read_input) for s in config.sensors]
        )
        self._by_name = {sensor.name: sensor for sensor in self.sensors}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._from_threads = 0
        """Readings handed over by other threads and not yet taken (bounded)."""
        self._threads_lock = threading.Lock()
        self.readings: Listeners[[Sample]] = Listeners("telemetry readings")
        """Every accepted reading (e.g. to mirror it to MQTT); subscribers must not block."""
        self._thread_drops: dict[str, int] = {}
        self._drop_report_pending = False
        self._periods = {s.name: s.period_s for s in config.sensors}
        self._clock_us = clock_us
        # Drop policy: oldest reading first, counted in `_queue_dropped` and then the spool.
        self._queue: asyncio.Queue[Sample] = asyncio.Queue(maxsize=QUEUE_SIZE)
        self._queue_dropped = 0
        self._inflight: asyncio.Future[list[Reading]] | None = None
        self._appended = asyncio.Event()
        self.last_seq = outbox.last_seq
        """The newest spooled reading's sequence number."""
        self.events: collections.deque[str] = collections.deque(maxlen=EVENT_BACKLOG)
        """Human-readable events not yet sent (bounded: the oldest go)."""
        self.events_changed = asyncio.Event()
        self.failures: dict[str, int] = {}
        """Failed reads per sensor."""

    def record_from_thread(self, sensor: str, value: Value) -> None:
        """Take a reading now, from any thread (e.g. a gpiozero edge callback).

        At most MAX_THREAD_HANDOVERS readings wait for the event loop; beyond that they are
        dropped and counted as failures of that sensor (a bouncing contact must not flood the
        loop: a flood schedules one report, not one callback per reading).
        """
        loop = self._loop
        if loop is None or sensor not in self._by_name:
            return
        with self._threads_lock:
            if self._from_threads < MAX_THREAD_HANDOVERS:
                self._from_threads += 1
                callback: Callable[[], None] = functools.partial(self._take_handover, sensor, value)
            else:
                self._thread_drops[sensor] = self._thread_drops.get(sensor, 0) + 1
                if self._drop_report_pending:
                    return
                self._drop_report_pending = True
                callback = self._report_thread_drops
        loop.call_soon_threadsafe(callback)

    def _take_handover(self, sensor: str, value: Value) -> None:
        with self._threads_lock:
            self._from_threads -= 1
        self._take(self._by_name[sensor], value)

    def _report_thread_drops(self) -> None:
        with self._threads_lock:
            drops, self._thread_drops = self._thread_drops, {}
            self._drop_report_pending = False
        for sensor, count in drops.items():
            self.failures[sensor] = self.failures.get(sensor, 0) + count
            _LOGGER.warning("sensor %r: %d change(s) dropped (event flood)", sensor, count)
            self.event(f"sensor {sensor}: {count} change(s) dropped (event flood)")

    async def run(self) -> None:
        """Sample and spool until cancelled."""
        self._loop = asyncio.get_running_loop()
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._write(), name="telemetry.spool-writer")
            for sensor in self.sensors:
                period = self._periods.get(sensor.name, 5.0)
                tg.create_task(self._sample(sensor, period), name=f"telemetry.sensor:{sensor.name}")

    async def wait_beyond(self, seq: int) -> None:
        """Return once a reading newer than `seq` is spooled."""
        while self.last_seq <= seq:
            self._appended.clear()
            await self._appended.wait()

    def event(self, text: str) -> None:
        """Queue a human-readable event for the events topic."""
        self.events.append(text)
        self.events_changed.set()

    async def aclose(self) -> None:
        """Finish the write in progress, spool what is still queued, close the spool."""
        if self._inflight is not None:
            await asyncio.wait([self._inflight])
        pending: list[Sample] = []
        while not self._queue.empty():
            pending.append(self._queue.get_nowait())
        if pending:
            try:
                await asyncio.to_thread(
                    self.outbox.append, pending, dropped_before=self._queue_dropped
                )
            except Exception:  # disk full, I/O error: nothing more to try at shutdown
                _LOGGER.exception("could not spool %d reading(s) at shutdown", len(pending))
        self.close()

    def close(self) -> None:
        """Close the spool; idempotent."""
        self.outbox.close()

    # -- sampling --------------------------------------------------------------------------

    async def _sample(self, sensor: Sensor, period_s: float) -> None:
        loop = asyncio.get_running_loop()
        busy: asyncio.Future[object] | None = None
        due = time.monotonic()
        while True:
            if busy is None or busy.done():
                busy = loop.run_in_executor(None, sensor.read)
                busy.add_done_callback(_retrieve)  # a read outliving its wait fails quietly
                try:
                    async with asyncio.timeout(max(period_s, 1.0)):
                        value = await asyncio.shield(busy)
                    self._take(sensor, value)
                except SensorUnavailable as exc:
                    _LOGGER.warning("sensor %r unavailable: %s; not sampled", sensor.name, exc)
                    self.event(f"sensor {sensor.name} unavailable: {exc}")
                    return
                except TimeoutError:
                    self._failed(sensor, "read still running after its period")
                except Exception as exc:  # noqa: BLE001 - a sensor boundary: isolate it
                    self._failed(sensor, f"{type(exc).__name__}: {exc}")
            else:
                self._failed(sensor, "previous read still running; skipped")
            due = max(due + period_s, time.monotonic())
            await asyncio.sleep(due - time.monotonic())

    def _take(self, sensor: Sensor, value: object) -> None:
        sample = Sample(
            sensor=sensor.name,
            value=value,  # type: ignore[arg-type]  # checked next
            unit=sensor.unit,
            time_us=self._clock_us(),
        )
        try:
            check_sample(sample)
        except CodecError as exc:
            self._failed(sensor, f"junk reading: {exc}")
            return
        if self._queue.full():
            self._queue.get_nowait()
            self._queue_dropped += 1
        self._queue.put_nowait(sample)
        self.readings.emit(sample)

    def _failed(self, sensor: Sensor, why: str) -> None:
        count = self.failures.get(sensor.name, 0) + 1
        self.failures[sensor.name] = count
        if count == 1 or count % FAILURE_LOG_EVERY == 0:
            _LOGGER.warning("sensor %r failed (%d time(s)): %s", sensor.name, count, why)
            self.event(f"sensor {sensor.name} failed ({count}): {why}")

    # -- spooling --------------------------------------------------------------------------

    async def _write(self) -> None:
        while True:
            samples = [await self._queue.get()]
            while len(samples) < MAX_APPEND and not self._queue.empty():
                samples.append(self._queue.get_nowait())
            dropped, self._queue_dropped = self._queue_dropped, 0
            before = self.outbox.dropped
            write = functools.partial(self.outbox.append, samples, dropped_before=dropped)
            self._inflight = asyncio.get_running_loop().run_in_executor(None, write)
            try:
                # Shielded: a cancelled writer lets the append finish and records it, so the
                # spool and `last_seq` agree once run() has returned.
                readings = await asyncio.shield(self._inflight)
            except asyncio.CancelledError:
                await asyncio.wait([self._inflight])
                if not self._inflight.cancelled() and self._inflight.exception() is None:
                    self.last_seq = self._inflight.result()[-1].seq
                    self._appended.set()
                raise
            except Exception:  # disk full, I/O error: count and carry on
                _LOGGER.exception("could not spool %d reading(s); dropped", len(samples))
                self._queue_dropped += dropped + len(samples)
                continue
            if self.outbox.dropped > before + dropped:
                self.event(f"spool full: {self.outbox.dropped} reading(s) dropped so far")
            self.last_seq = readings[-1].seq
            self._appended.set()


def _retrieve(future: asyncio.Future[object]) -> None:
    if not future.cancelled():
        future.exception()
