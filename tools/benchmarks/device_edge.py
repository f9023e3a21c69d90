"""A device on this project's LiveKit client (`edge.livekit`), driven over JSON lines."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping

from edge.errors import MediaError
from edge.livekit.publisher import MediaSource, TrackOptions
from edge.livekit.room import Room, RoomOptions
from edge.livekit.rpc import RpcEndpoint, RpcInvocation
from edge.livekit.streams import StreamEndpoint
from edge.media.frames import EncodedFrame, PcmFrame
from edge.media.microphone_spec import DEFAULT_BITRATE_KBPS, DEFAULT_COMPLEXITY

from .clip import FRAME_SAMPLES, SAMPLE_RATE, Clip, tone_frames
from .device import RPC_METHOD, serve
from .pacer import FramePacer
from .wire import Channel, Message, run_child


class EdgeSide:
    def __init__(self, room: Room, streams: StreamEndpoint) -> None:
        self._room = room
        self._streams = streams

    async def publish(self, payload: bytes, topic: str) -> None:
        await self._room.publish_data(payload, topic=topic, reliable=True)

    async def set_attributes(self, attributes: Mapping[str, str]) -> None:
        await self._room.set_attributes(attributes)

    async def send_bytes(self, data: bytes, topic: str, attributes: Mapping[str, str]) -> None:
        await self._streams.send_bytes(data, topic=topic, name="bench.bin", attributes=attributes)

    async def publish_media(self, clip: Clip, pacer: FramePacer, bitrate: int) -> int:
        from edge.media.opus import OpusEncoder
        from edge.media.tracks import EncodedVideoTrack, PcmAudioTrack

        video = EncodedVideoTrack(_ClipSource(clip, pacer))
        # The daemon's microphone path: mono Opus at the [microphone] defaults (32 kbit/s).
        opus = OpusEncoder(bitrate_kbps=DEFAULT_BITRATE_KBPS, complexity=DEFAULT_COMPLEXITY)
        audio = PcmAudioTrack(_ToneSource(pacer.count / clip.fps), opus)
        camera = TrackOptions(
            name="camera",
            source=MediaSource.CAMERA,
            width=clip.width,
            height=clip.height,
            bitrate=bitrate,
        )
        published = [
            await self._room.publish_track(video, camera),
            await self._room.publish_track(
                audio, TrackOptions(name="microphone", source=MediaSource.MICROPHONE)
            ),
        ]
        await video.ended.wait()  # the clip source ends after `seconds`
        for local in published:
            await self._room.unpublish_track(local.sid)
        return video.frames_sent


class _ClipSource:
    """The bench clip, looped, each frame as the pacer gives it, as a camera delivers them."""

    def __init__(self, clip: Clip, pacer: FramePacer) -> None:
        self._clip = clip
        self._pacer = pacer

    def request_keyframe(self) -> None:
        """The clip has an IDR every second; nothing to force."""

    async def next_frame(self) -> EncodedFrame:
        frame = await self._pacer.next()
        if frame is None:
            raise MediaError("clip finished")
        unit, keyframe = self._clip.units[frame.index % len(self._clip.units)]
        return EncodedFrame(data=unit, keyframe=keyframe, timestamp_us=frame.due_ns // 1000)


class _ToneSource:
    """A 440 Hz tone in paced 20 ms frames."""

    def __init__(self, seconds: float) -> None:
        self._frames = tone_frames()
        self._count = int(seconds * 50)
        self._index = 0
        self._start = time.monotonic()

    async def next_frame(self) -> PcmFrame:
        if self._index >= self._count:
            raise MediaError("tone finished")
        due = self._start + self._index * 0.02
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        self._index += 1
        return PcmFrame(
            data=next(self._frames),
            sample_rate=SAMPLE_RATE,
            channels=1,
            samples=FRAME_SAMPLES,
            timestamp_us=int(due * 1e6),
        )


async def _echo(invocation: RpcInvocation) -> str:
    return invocation.payload


async def main(config: Message, channel: Channel) -> None:
    options = RoomOptions(url=config["url"], attributes={})
    async with Room.connect(options, config["token"]) as room:
        joined_ns = time.monotonic_ns()
        # Both endpoints before any await, as the daemon does.
        rpc = RpcEndpoint(room)
        rpc.register_method(RPC_METHOD, _echo)
        streams = StreamEndpoint(room)
        await serve(EdgeSide(room, streams), channel, joined_ns=joined_ns)


if __name__ == "__main__":
    run_child(main)
