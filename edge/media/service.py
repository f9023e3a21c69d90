"""MediaService: the camera and microphone in the room, supervised and controlled by RPC.

media.list        {}                                                   -> each track's state
media.set         {"track": "camera", "muted": true, "enabled": true}  -> the new state
camera.snapshot   {}                                                   -> a JPEG as a byte stream

Who may call these, per track, is decided before they run (`edge.access`: `[camera] allow`,
`[microphone] allow`). A device that is missing, busy or unplugged is not published; the
service says so in the twin (`media.<track>`) and tries again with backoff, so plugging it
back in brings the track back.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import functools
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import cast

from edge import wire
from edge.backoff import Backoff
from edge.errors import DeviceUnavailable, InvalidPayload, MediaError, RoomError
from edge.livekit.ports import BytesSender, MethodRegistrar, TrackRoom
from edge.livekit.publisher import LocalTrack, MediaSource, TrackOptions
from edge.livekit.rpc import RpcInvocation
from edge.media.frames import AudioSource, VideoSource
from edge.media.opus import OpusEncoder
from edge.media.spec import CameraConfig, MicrophoneConfig
from edge.media.tracks import EncodedVideoTrack, PcmAudioTrack
from edge.protocol.codes import ErrorCode
from edge.protocol.schema import EMPTY, Schema

_LOGGER = logging.getLogger(__name__)

MAX_PAYLOAD_BYTES = 1024
LIST_PARAMS: Schema = {"type": "object", "properties": {}}
RETRY_CAP_S = 10.0
"""Longest wait between attempts to open a missing device."""


class TrackState(enum.Enum):
    """A media track as status and `media.list` show it."""

    OFF = "off"
    """Disabled by config or `media.set`."""
    STARTING = "starting"
    """Opening the device and publishing."""
    LIVE = "live"
    """Published and sending."""
    MUTED = "muted"
    """Published, sending nothing."""
    UNAVAILABLE = "unavailable"
    """The device is missing, busy or unplugged; retried with backoff."""
    OFFLINE = "offline"
    """Not in a room right now."""


@dataclass(slots=True)
class _Device:
    name: str
    config: CameraConfig | MicrophoneConfig
    enabled: bool
    muted: bool = False
    state: TrackState = TrackState.OFFLINE
    error: str = ""
    source: VideoSource | AudioSource | None = None
    track: EncodedVideoTrack | PcmAudioTrack | None = None
    """The aiortc track while published (frames sent, for `media.list`)."""
    publication: LocalTrack | None = None
    published: bool = False
    """Published since the last failure (a device that ran resets the retry backoff)."""
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def describe(self) -> dict[str, object]:
        out: dict[str, object] = {
            "track": self.name,
            "state": self.state.value,
            "enabled": self.enabled,
            "muted": self.muted,
        }
        if self.error:
            out["error"] = self.error
        if self.publication is not None:
            out["sid"] = self.publication.sid
        if isinstance(self.config, CameraConfig):
            c = self.config
            out.update(width=c.width, height=c.height, framerate=c.framerate, bitrate=c.bitrate)
        if self.source is not None:
            out["dropped"] = self.source.dropped
        if isinstance(self.track, EncodedVideoTrack):
            out["frames_sent"] = self.track.frames_sent
        return out


class MediaService:
    """Owns the media devices' intent (enabled, muted) across room sessions."""

    def __init__(
        self,
        camera: CameraConfig | None,
        microphone: MicrophoneConfig | None,
        *,
        simulate: bool,
        publish_status: Callable[[Mapping[str, str]], object],
        open_video: Callable[..., VideoSource] | None = None,
        open_audio: Callable[..., AudioSource] | None = None,
    ) -> None:
        from edge.media.sources import open_audio_source, open_video_source

        self._simulate = simulate
        self._publish_status = publish_status
        self._open_video: Callable[..., VideoSource] = open_video or open_video_source
        self._open_audio: Callable[..., AudioSource] = open_audio or open_audio_source
        self.devices: dict[str, _Device] = {}
        self._to_release: list[VideoSource | AudioSource] = []
        """Devices of a session that is ending, closed by `release()` after the leave."""
        for config in (camera, microphone):
            if config is not None:
                name = "camera" if isinstance(config, CameraConfig) else "microphone"
                self.devices[name] = _Device(name=name, config=config, enabled=config.enabled)

    def register(self, rpc: MethodRegistrar, streams: BytesSender) -> None:
        """Register `media.list`, `media.set` and `camera.snapshot` on this session's RPC."""
        self._register(rpc, streams)

    async def serve(self, room: TrackRoom) -> None:
        """Publish the enabled devices into `room` until cancelled."""
        try:
            async with asyncio.TaskGroup() as tg:
                for device in self.devices.values():
                    tg.create_task(self._supervise(room, device), name=f"media.{device.name}")
        finally:
            for device in self.devices.values():
                self._set_state(device, TrackState.OFFLINE)

    async def release(self) -> None:
        """Close the devices the last session left open (call after leaving the room)."""
        pending, self._to_release = self._to_release, []
        for source in pending:
            await source.aclose()

    def status(self) -> dict[str, str]:
        """The twin's view: `media.<track>` = state (and why, when unavailable)."""
        out = {}
        for d in self.devices.values():
            out[wire.media_key(d.name)] = d.state.value + (f": {d.error}" if d.error else "")
        return out

    # -- supervision -------------------------------------------------------------------------

    async def _supervise(self, room: TrackRoom, device: _Device) -> None:
        backoff = Backoff(base_s=1.0, cap_s=RETRY_CAP_S)
        attempt = 0
        while True:
            device.changed.clear()
            if not device.enabled:
                self._set_state(device, TrackState.OFF)
                await device.changed.wait()
                continue
            self._set_state(device, TrackState.STARTING)
            try:
                await self._run_once(room, device)
                attempt = 0
            except MediaError as exc:
                if device.published:
                    attempt, device.published = 0, False
                if device.error != str(exc):
                    _LOGGER.warning("%s unavailable: %s", device.name, exc)
                device.error = str(exc)
                self._set_state(device, TrackState.UNAVAILABLE)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(backoff.delay(attempt)):
                        await device.changed.wait()
                attempt += 1
            except RoomError as exc:
                if room.disconnect_error is not None:
                    return  # the session is over; the next one starts afresh
                device.error = str(exc)
                self._set_state(device, TrackState.UNAVAILABLE)
                _LOGGER.warning("could not publish the %s: %s", device.name, exc)
                await asyncio.sleep(backoff.delay(attempt))
                attempt += 1

    async def _run_once(self, room: TrackRoom, device: _Device) -> None:
        """Open, publish and follow intent changes until disabled (return) or failure (raise)."""
        config = device.config
        source: VideoSource | AudioSource
        make_track: Callable[[], EncodedVideoTrack | PcmAudioTrack]
        if isinstance(config, CameraConfig):
            video = self._open_video(config, simulate=self._simulate)
            source, make_track = video, functools.partial(EncodedVideoTrack, video)
        else:
            audio = self._open_audio(config, simulate=self._simulate)
            encoder = functools.partial(
                OpusEncoder, bitrate_kbps=config.bitrate_kbps, complexity=config.complexity
            )
            source, make_track = audio, lambda: PcmAudioTrack(audio, encoder())
        track: EncodedVideoTrack | PcmAudioTrack | None = None
        try:
            await source.start()
            device.source = source
            device.error = ""
            track = device.track = make_track()
            device.publication = await room.publish_track(track, self._options(device))
            device.published = True
            while True:
                self._set_state(device, TrackState.MUTED if device.muted else TrackState.LIVE)
                await _first(
                    f"media.{device.name}", track.ended, device.publication.ended, device.changed
                )
                if track.error is not None:
                    raise track.error
                if device.publication.ended.is_set():
                    raise MediaError(f"the server removed the {device.name} track")
                device.changed.clear()
                if not device.enabled:
                    return
                if device.muted != device.publication.muted:
                    await room.set_track_muted(device.publication.sid, muted=device.muted)
        finally:
            device.source = device.track = None
            publication, device.publication = device.publication, None
            if track is not None:
                track.stop()
            task = asyncio.current_task()
            leaving = task is not None and task.cancelling() > 0  # the leave removes it anyway
            if publication is not None and not publication.ended.is_set() and not leaving:
                with contextlib.suppress(RoomError):
                    await room.unpublish_track(publication.sid)
            if leaving:  # the room is being left: devices go after the leave (`release`)
                self._to_release.append(source)
            else:
                await source.aclose()

    def _options(self, device: _Device) -> TrackOptions:
        config = device.config
        if isinstance(config, CameraConfig):
            return TrackOptions(
                name=config.name,
                source=MediaSource.CAMERA,
                width=config.width,
                height=config.height,
                bitrate=config.bitrate,
                muted=device.muted,
            )
        return TrackOptions(name=config.name, source=MediaSource.MICROPHONE, muted=device.muted)

    def _set_state(self, device: _Device, state: TrackState) -> None:
        if state is not device.state:
            _LOGGER.info("%s: %s -> %s", device.name, device.state.value, state.value)
            device.state = state
            if state not in (TrackState.UNAVAILABLE, TrackState.OFFLINE):
                device.error = ""  # offline keeps the last reason, for after the rejoin
        self._publish_status(self.status())

    # -- RPC ---------------------------------------------------------------------------------

    def _register(self, rpc: MethodRegistrar, streams: BytesSender) -> None:
        async def media_list(invocation: RpcInvocation) -> str:
            return json.dumps({"tracks": [d.describe() for d in self.devices.values()]})

        async def media_set(invocation: RpcInvocation) -> str:
            params = invocation.params
            device = self.devices[params["track"]]  # the schema's enum: a known track
            if "muted" not in params and "enabled" not in params:
                raise InvalidPayload('give "muted" and/or "enabled" (true or false)')
            device.muted = bool(params.get("muted", device.muted))
            device.enabled = bool(params.get("enabled", device.enabled))
            _LOGGER.info(
                "%s set by %r: enabled=%s muted=%s",
                device.name,
                invocation.caller_identity,
                device.enabled,
                device.muted,
            )
            device.changed.set()
            return json.dumps(device.describe())

        async def snapshot(invocation: RpcInvocation) -> str:
            device = self.devices["camera"]
            if device.source is None:
                raise DeviceUnavailable(f"the camera is {device.state.value}")
            camera = cast(VideoSource, device.source)  # the camera device opens video sources
            try:
                jpeg: bytes = await camera.snapshot_jpeg()
            except MediaError as exc:
                raise DeviceUnavailable(f"snapshot failed: {exc}") from None
            name = time.strftime("snapshot-%Y%m%dT%H%M%SZ.jpg", time.gmtime())
            info = await streams.send_bytes(
                jpeg,
                topic=wire.Topic.SNAPSHOT,
                name=name,
                mime_type="image/jpeg",
                destination_identities=[invocation.caller_identity],
            )
            _LOGGER.info("sent a %d-byte snapshot to %r", len(jpeg), invocation.caller_identity)
            return json.dumps({"stream_id": info.stream_id, "name": name, "bytes": len(jpeg)})

        track = {
            "type": "string",
            "enum": sorted(self.devices),
            "x-unknown-code": int(ErrorCode.UNKNOWN_TRACK),
        }
        media_set_params: Schema = {
            "type": "object",
            "properties": {
                "track": track,
                "muted": {"type": "boolean"},
                "enabled": {"type": "boolean"},
            },
            "required": ["track"],
            "additionalProperties": False,
        }
        rpc.register_method(
            wire.Method.MEDIA_LIST,
            media_list,
            description="Each media track's state",
            params=LIST_PARAMS,
        )
        rpc.register_method(
            wire.Method.MEDIA_SET,
            media_set,
            description="Mute/unmute a track, or enable/disable it (disabled: unpublished)",
            params=media_set_params,
            max_bytes=MAX_PAYLOAD_BYTES,
        )
        if "camera" in self.devices:
            rpc.register_method(
                wire.Method.CAMERA_SNAPSHOT,
                snapshot,
                description="A JPEG of the camera picture, as a byte stream to the caller",
                params=EMPTY,
                max_bytes=MAX_PAYLOAD_BYTES,
            )


async def _first(name: str, *events: asyncio.Event) -> None:
    """Wait until one of `events` is set."""
    async with asyncio.TaskGroup() as tg:
        waiters = [tg.create_task(e.wait(), name=f"{name}.wait{i}") for i, e in enumerate(events)]
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        for waiter in waiters:
            waiter.cancel()
