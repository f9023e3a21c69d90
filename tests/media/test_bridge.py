"""ThreadToLoop: drop policies under a stopped consumer, wake-ups, close, real producer threads."""

from __future__ import annotations

import asyncio
import threading
import tracemalloc
from dataclasses import dataclass

import pytest

from edge.errors import DeviceUnavailable, MediaError
from edge.media.bridge import DropPolicy, ThreadToLoop, in_thread
from tests.helpers import assert_eventually


@dataclass(frozen=True)
class Frame:
    n: int
    keyframe: bool = False
    payload: bytes = b""


def video_bridge(maxsize: int, on_overflow: list[int] | None = None) -> ThreadToLoop[Frame]:
    calls = on_overflow if on_overflow is not None else []
    return ThreadToLoop(
        asyncio.get_running_loop(),
        maxsize=maxsize,
        policy=DropPolicy.UNTIL_KEYFRAME,
        is_keyframe=lambda f: f.keyframe,
        on_overflow=lambda: calls.append(threading.get_ident()),
    )


async def drain(bridge: ThreadToLoop[Frame]) -> list[int]:
    return [(await bridge.get()).n for _ in range(bridge.qsize())]


async def test_video_drops_the_newest_until_the_next_keyframe() -> None:
    overflows: list[int] = []
    bridge = video_bridge(3, overflows)
    for frame in [Frame(0, True), Frame(1), Frame(2), Frame(3), Frame(4)]:
        bridge.put(frame)
    # 3 and 4 would follow a gap nobody can decode across: gone, and one keyframe asked for
    assert bridge.dropped == 2
    bridge.put(Frame(5, True))  # the keyframe that ends the gap replaces the stale queue
    bridge.put(Frame(6))
    assert await drain(bridge) == [5, 6]
    assert bridge.dropped == 5
    await assert_eventually(lambda: len(overflows) == 1)
    assert overflows == [threading.get_ident()]  # on the loop's thread


async def test_in_a_gap_frames_are_dropped_even_after_the_consumer_caught_up() -> None:
    bridge = video_bridge(2)
    for frame in [Frame(0, True), Frame(1), Frame(2)]:
        bridge.put(frame)
    assert await drain(bridge) == [0, 1]
    bridge.put(Frame(3))  # room again, but 3 references the dropped 2
    assert bridge.qsize() == 0
    bridge.put(Frame(4, True))
    bridge.put(Frame(5))
    assert await drain(bridge) == [4, 5]
    assert bridge.dropped == 2


async def test_a_keyframe_into_a_full_queue_replaces_it_without_a_gap() -> None:
    bridge = video_bridge(2)
    for frame in [Frame(0, True), Frame(1), Frame(2, True), Frame(3)]:
        bridge.put(frame)
    assert await drain(bridge) == [2, 3]
    assert bridge.dropped == 2


async def test_audio_drops_the_oldest() -> None:
    bridge: ThreadToLoop[int] = ThreadToLoop(
        asyncio.get_running_loop(), maxsize=3, policy=DropPolicy.DROP_OLDEST
    )
    for n in range(10):
        bridge.put(n)
    assert [await bridge.get() for _ in range(3)] == [7, 8, 9]
    assert (bridge.dropped, bridge.put_count) == (7, 10)


async def test_memory_stays_flat_when_the_consumer_stops_reading() -> None:
    calls: list[int] = []
    bridge = video_bridge(8, calls)
    size = 20_000
    stop_at = 40_000

    def produce(start: int, count: int) -> None:
        for n in range(start, start + count):
            bridge.put(Frame(n, keyframe=n % 30 == 0, payload=bytes(size)))

    tracemalloc.start()
    try:
        await in_thread(lambda: produce(0, 2_000))
        before, _ = tracemalloc.get_traced_memory()
        await in_thread(lambda: produce(2_000, stop_at - 2_000))
        after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert bridge.qsize() <= 8
    assert bridge.dropped >= stop_at - 8
    # 38 000 more frames of 20 kB went through; the queue still holds at most 8 of them
    assert after - before < 8 * size
    await assert_eventually(lambda: len(calls) > 0)


async def test_a_real_producer_thread_delivers_in_order_with_drops_counted() -> None:
    bridge: ThreadToLoop[int] = ThreadToLoop(
        asyncio.get_running_loop(), maxsize=8, policy=DropPolicy.DROP_OLDEST
    )
    total = 20_000

    def produce() -> None:
        for n in range(total):
            bridge.put(n)

    producer = threading.Thread(target=produce)
    producer.start()
    received: list[int] = []
    while not received or received[-1] != total - 1:  # the newest item is never dropped
        received.append(await bridge.get())
    producer.join()
    assert received == sorted(set(received))
    assert len(received) + bridge.dropped == total


async def test_a_put_from_a_thread_wakes_the_waiting_getter() -> None:
    bridge: ThreadToLoop[int] = ThreadToLoop(
        asyncio.get_running_loop(), maxsize=2, policy=DropPolicy.DROP_OLDEST
    )
    async with asyncio.TaskGroup() as tg:
        getter = tg.create_task(bridge.get(), name="test.get")
        await assert_eventually(lambda: bridge.waiting)
        threading.Thread(target=bridge.put, args=(7,)).start()
    assert getter.result() == 7
    assert not bridge.waiting


async def test_closing_wakes_a_waiting_getter_with_the_error() -> None:
    bridge: ThreadToLoop[int] = ThreadToLoop(
        asyncio.get_running_loop(), maxsize=2, policy=DropPolicy.DROP_OLDEST
    )
    getter = asyncio.create_task(bridge.get(), name="test.get")
    await assert_eventually(lambda: bridge.waiting)
    closer = threading.Thread(target=bridge.close, args=(DeviceUnavailable("unplugged"),))
    closer.start()
    with pytest.raises(DeviceUnavailable, match="unplugged"):
        await getter
    closer.join()


async def test_after_close_items_are_discarded_and_every_get_raises() -> None:
    bridge: ThreadToLoop[int] = ThreadToLoop(
        asyncio.get_running_loop(), maxsize=4, policy=DropPolicy.DROP_OLDEST
    )
    bridge.put(1)
    bridge.close(MediaError("closed"))
    bridge.close(MediaError("second close is ignored"))
    bridge.put(2)
    depths = []
    for _ in range(3):
        with pytest.raises(MediaError, match=r"^closed$") as caught:
            await bridge.get()
        depths.append(len(caught.traceback))
    assert depths[0] == depths[-1]  # the same error raised again does not pile up tracebacks
    assert (bridge.closed, bridge.dropped, bridge.qsize()) == (True, 2, 0)


async def test_a_cancelled_getter_leaves_the_bridge_usable() -> None:
    bridge: ThreadToLoop[int] = ThreadToLoop(
        asyncio.get_running_loop(), maxsize=2, policy=DropPolicy.DROP_OLDEST
    )
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.01):
            await bridge.get()
    assert not bridge.waiting
    bridge.put(3)
    assert await bridge.get() == 3


async def test_get_or_stall_times_out_only_when_producers_stop() -> None:
    bridge = video_bridge(1)
    bridge.put(Frame(0, True))
    bridge.put(Frame(1))  # the queue is full: a gap starts
    assert (await bridge.get()).n == 0
    stop = threading.Event()

    def produce() -> None:
        # alive but every frame dropped (gap) for a while, then the keyframe
        for n in range(2, 30):
            bridge.put(Frame(n))
            stop.wait(0.01)
        bridge.put(Frame(99, True))

    producer = threading.Thread(target=produce)
    producer.start()
    frame = await bridge.get_or_stall(0.1)
    producer.join()
    assert frame.n == 99
    with pytest.raises(TimeoutError):
        await bridge.get_or_stall(0.05)


def test_a_closed_loop_does_not_break_the_producer() -> None:
    loop = asyncio.new_event_loop()
    calls: list[int] = []
    bridge: ThreadToLoop[Frame] = ThreadToLoop(
        loop,
        maxsize=1,
        policy=DropPolicy.UNTIL_KEYFRAME,
        is_keyframe=lambda f: f.keyframe,
        on_overflow=lambda: calls.append(1),
    )
    loop.close()  # the daemon shut down while the camera thread still delivers
    for frame in [Frame(0, True), Frame(1), Frame(2)]:
        bridge.put(frame)  # the overflow cannot reach the loop; the thread carries on
    assert (bridge.qsize(), bridge.dropped, calls) == (1, 2, [])


def test_bad_arguments() -> None:
    loop = asyncio.new_event_loop()
    try:
        with pytest.raises(ValueError, match="maxsize"):
            ThreadToLoop(loop, maxsize=0, policy=DropPolicy.DROP_OLDEST)
        with pytest.raises(ValueError, match="is_keyframe"):
            ThreadToLoop(loop, maxsize=1, policy=DropPolicy.UNTIL_KEYFRAME)
    finally:
        loop.close()
