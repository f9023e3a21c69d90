"""A device on LiveKit's official Python SDK (`livekit.rtc`), driven over JSON lines."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

from livekit import rtc
from livekit.rtc import EncodedFrameType

from .clip import FRAME_SAMPLES, SAMPLE_RATE, Clip, tone_frames
from .device import RPC_METHOD, serve
from .pacer import FramePacer
from .wire import Channel, Message, run_child

_ENCODER_BACKENDS: Any = rtc.TrackPublishOptions.DESCRIPTOR.fields_by_name["video_encoder"]
PRE_ENCODED: Any = _ENCODER_BACKENDS.enum_type.values_by_name["ENCODER_BACKEND_PRE_ENCODED"].number
KEY = EncodedFrameType.ENCODED_FRAME_KEY
DELTA = EncodedFrameType.ENCODED_FRAME_DELTA


class OfficialSide:
    def __init__(self, room: rtc.Room) -> None:
        self._local = room.local_participant

    async def publish(self, payload: bytes, topic: str) -> None:
        await self._local.publish_data(payload, topic=topic, reliable=True)

    async def set_attributes(self, attributes: Mapping[str, str]) -> None:
        await self._local.set_attributes(dict(attributes))

    async def send_bytes(self, data: bytes, topic: str, attributes: Mapping[str, str]) -> None:
        # Without compression, as ours: the payload is random anyway; this measures transport.
        await self._local.send_bytes(
            data, topic=topic, name="bench.bin", attributes=dict(attributes), compress=False
        )

    async def publish_media(self, clip: Clip, pacer: FramePacer, bitrate: int) -> int:
        del bitrate  # pre-encoded frames: the SDK announces no bitrate of ours
        video = rtc.EncodedVideoSource(clip.width, clip.height)
        audio = rtc.AudioSource(SAMPLE_RATE, 1)
        camera = rtc.TrackPublishOptions(
            source=rtc.TrackSource.SOURCE_CAMERA,
            video_codec=rtc.VideoCodec.H264,
            video_encoder=PRE_ENCODED,
            simulcast=False,
        )
        microphone = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
        published = [
            await self._local.publish_track(
                rtc.LocalVideoTrack.create_video_track("camera", video), camera
            ),
            await self._local.publish_track(
                rtc.LocalAudioTrack.create_audio_track("microphone", audio), microphone
            ),
        ]
        async with asyncio.TaskGroup() as tg:
            tg.create_task(_tone(audio, pacer.count / clip.fps), name="bench.tone")
            sent = await _play(video, clip, pacer)
        for publication in published:
            await self._local.unpublish_track(publication.sid)
        await video.aclose()
        await audio.aclose()
        return sent


async def _play(source: rtc.EncodedVideoSource, clip: Clip, pacer: FramePacer) -> int:
    sent = 0
    while (frame := await pacer.next()) is not None:
        unit, keyframe = clip.units[frame.index % len(clip.units)]
        source.capture_frame(
            rtc.EncodedVideoFrame(
                data=unit,
                width=clip.width,
                height=clip.height,
                codec=rtc.VideoCodec.H264,
                frame_type=KEY if keyframe else DELTA,
                timestamp_us=frame.due_ns // 1000,
            )
        )
        sent += 1
    return sent


async def _tone(source: rtc.AudioSource, seconds: float) -> None:
    frames = tone_frames()
    start = time.monotonic()
    for index in range(int(seconds * 50)):
        await asyncio.sleep(max(0.0, start + index * 0.02 - time.monotonic()))
        await source.capture_frame(rtc.AudioFrame(next(frames), SAMPLE_RATE, 1, FRAME_SAMPLES))


async def _echo(invocation: rtc.RpcInvocationData) -> str:
    return invocation.payload


async def main(config: Message, channel: Channel) -> None:
    room = rtc.Room()
    await room.connect(config["url"], config["token"])
    try:
        joined_ns = time.monotonic_ns()
        room.local_participant.register_rpc_method(RPC_METHOD, _echo)
        await serve(OfficialSide(room), channel, joined_ns=joined_ns)
    finally:
        await room.disconnect()


if __name__ == "__main__":
    run_child(main)
