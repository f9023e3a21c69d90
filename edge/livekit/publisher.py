"""TrackPublisher: our media tracks in a room (announce, negotiate, mute, unpublish).

The order follows the server's expectations: `add_track` first, wait for `track_published`
(or the refusal), then add the m-line and send a new publisher offer, so the server already
knows the pending track's codec when it answers. Offers are serialised: one in flight at a time.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from livekit.protocol import models as proto_models
from livekit.protocol import rtc as proto_rtc

from edge.errors import RoomError, SignalTimeout
from edge.livekit.peers import PeerConnection
from edge.protocol import signal as sig

_LOGGER = logging.getLogger(__name__)

PUBLISH_TIMEOUT_S = 10.0
"""How long the server may take to confirm a track or answer an offer."""
H264_PREFERRED = {"profile-level-id": "42e01f", "packetization-mode": "1"}
"""Constrained Baseline: what the server forwards to every subscriber (High is filtered)."""


class MediaSource(enum.IntEnum):
    """What a track carries, as the room shows it."""

    CAMERA = proto_models.TrackSource.CAMERA
    """Video from a camera."""
    MICROPHONE = proto_models.TrackSource.MICROPHONE
    """Audio from a microphone."""


class PublishableTrack(Protocol):
    """What we need of an aiortc track besides aiortc's own interface."""

    @property
    def id(self) -> str: ...

    @property
    def kind(self) -> str: ...

    def set_muted(self, muted: bool) -> None: ...

    def request_keyframe(self) -> None: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class TrackOptions:
    """How a track is announced."""

    name: str
    """Track name shown to others (e.g. `camera`)."""
    source: MediaSource
    """Camera or microphone."""
    width: int = 0
    """Video width in pixels (0 for audio)."""
    height: int = 0
    """Video height in pixels (0 for audio)."""
    bitrate: int = 0
    """Target video bitrate in bit/s, announced as the single layer's bitrate."""
    muted: bool = False
    """Publish muted."""


@dataclass(slots=True)
class LocalTrack:
    """One of our published tracks."""

    sid: str
    """The server's track id (`TR_...`)."""
    options: TrackOptions
    track: PublishableTrack = field(repr=False)
    handle: Any = field(repr=False)
    """The aiortc transceiver carrying it."""
    mime_type: str
    """The codec the server registered, e.g. `video/H264`."""
    muted: bool = False
    cid: str = ""
    """Our id for it in signalling (the aiortc track id)."""
    info: proto_models.TrackInfo = field(default_factory=proto_models.TrackInfo, repr=False)
    """How the server registered it (resuming a session tells the server what we publish)."""
    ended: asyncio.Event = field(default_factory=asyncio.Event, repr=False)
    """Set once the track is unpublished (by us or by the server)."""


Send = Callable[[bytes], Awaitable[None]]


class TrackPublisher:
    """Publishes tracks on the publisher peer connection of one room session."""

    def __init__(self, *, peer: PeerConnection, session: sig.SignalSession, send: Send) -> None:
        self._peer = peer
        self._session = session
        self._send = send
        self._negotiating = asyncio.Lock()
        self._answer: tuple[int, asyncio.Future[None]] | None = None
        self._announced: dict[str, asyncio.Future[proto_models.TrackInfo]] = {}
        self.tracks: dict[str, LocalTrack] = {}
        """Published tracks by sid."""

    async def negotiate(
        self, *, timeout_s: float = PUBLISH_TIMEOUT_S, ice_restart: bool = False
    ) -> None:
        """Send a publisher offer and apply the server's answer (restarting ICE if asked)."""
        async with self._negotiating:
            if ice_restart:
                self._peer.restart_ice()
            sdp = await self._peer.create_offer()
            frame = self._session.offer(sdp)
            answered: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._answer = (self._session.last_offer_id, answered)
            try:
                await self._send(frame)
                async with asyncio.timeout(timeout_s):
                    await answered
            except TimeoutError:
                raise SignalTimeout(
                    f"server did not answer our offer within {timeout_s:g} s"
                ) from None
            finally:
                self._answer = None

    async def publish(self, track: PublishableTrack, options: TrackOptions) -> LocalTrack:
        """Announce `track`, wait for the server's sid, add it to the connection, negotiate."""
        video = track.kind == "video"
        cid = track.id
        announced: asyncio.Future[proto_models.TrackInfo] = (
            asyncio.get_running_loop().create_future()
        )
        self._announced[cid] = announced
        try:
            await self._send(self._session.add_track(_add_track_request(cid, options, video)))
            async with asyncio.timeout(PUBLISH_TIMEOUT_S):
                info = await announced
        except TimeoutError:
            raise SignalTimeout(
                f"server did not confirm track {options.name!r} within {PUBLISH_TIMEOUT_S:g} s"
            ) from None
        finally:
            self._announced.pop(cid, None)
        mime_type = info.codecs[0].mime_type if info.codecs else info.mime_type
        if video and mime_type and mime_type.lower() != "video/h264":
            _LOGGER.warning("server registered %s for %r, we send H.264", mime_type, options.name)
        handle = self._peer.add_sender(
            track,
            mime_type="video/H264" if video else "audio/opus",
            prefer=H264_PREFERRED if video else None,
            on_keyframe_request=track.request_keyframe if video else None,
        )
        track.set_muted(options.muted)
        local = LocalTrack(
            sid=info.sid,
            options=options,
            track=track,
            handle=handle,
            mime_type=mime_type or ("video/H264" if video else "audio/opus"),
            muted=options.muted,
            cid=cid,
            info=info,
        )
        self.tracks[info.sid] = local
        await self.negotiate()
        _LOGGER.info(
            "published %s track %r as %s (%s%s)",
            track.kind,
            options.name,
            info.sid,
            local.mime_type,
            f", {options.width}x{options.height}" if video else "",
        )
        return local

    async def unpublish(self, sid: str) -> None:
        """Stop sending the track and renegotiate; the server then removes it."""
        local = self.tracks.pop(sid, None)
        if local is None:
            return
        self._peer.stop_sender(local.handle)
        local.ended.set()
        await self.negotiate()
        _LOGGER.info("unpublished %s track %r (%s)", local.track.kind, local.options.name, sid)

    async def set_muted(self, sid: str, muted: bool) -> None:
        """Stop (or resume) sending media and tell the server, which tells everyone."""
        local = self.tracks.get(sid)
        if local is None:
            raise RoomError(f"no published track {sid!r}")
        local.track.set_muted(muted)
        local.muted = muted
        await self._send(self._session.mute_track(sid, muted=muted))
        _LOGGER.info("%s track %r", "muted" if muted else "unmuted", local.options.name)

    async def handle(self, event: sig.SignalEvent) -> None:
        """Apply a signal event that concerns our tracks or publisher offers."""
        match event:
            case sig.AnswerReceived(sdp=sdp, answer_id=answer_id):
                if answer_id in (0, self._session.last_offer_id):
                    await self._peer.set_answer(sdp)
                    if self._answer is not None and not self._answer[1].done():
                        self._answer[1].set_result(None)
            case sig.TrackPublished(cid=cid, track=info):
                future = self._announced.get(cid)
                if future is not None and not future.done():
                    future.set_result(info)
            case sig.TrackRefused(cid=cid, reason=reason, message=message):
                future = self._announced.get(cid)
                hint = " (the token may not publish this source)" if reason == "NOT_ALLOWED" else ""
                if future is not None and not future.done():
                    future.set_exception(
                        RoomError(f"server refused the track: {reason}: {message}{hint}")
                    )
            case sig.TrackSubscribed(track_sid=sid):
                if (local := self.tracks.get(sid)) is not None:
                    _LOGGER.info("track %r has its first subscriber", local.options.name)
                    local.track.request_keyframe()  # a late viewer must not wait for the next IDR
            case sig.MuteRequested(track_sid=sid, muted=muted):
                if sid in self.tracks:
                    _LOGGER.info("server asks to %s %s", "mute" if muted else "unmute", sid)
                    await self.set_muted(sid, muted)
            case sig.TrackUnpublished(track_sid=sid):
                if (local := self.tracks.pop(sid, None)) is not None:
                    _LOGGER.warning("server unpublished our track %r", local.options.name)
                    self._peer.stop_sender(local.handle)
                    local.ended.set()
            case _:
                pass

    def abort_negotiation(self, reason: str) -> None:
        """Fail the offer waiting for its answer now (the socket it went out on is gone)."""
        if self._answer is not None and not self._answer[1].done():
            self._answer[1].set_exception(RoomError(reason))

    def published(self) -> list[tuple[str, proto_models.TrackInfo]]:
        """(cid, TrackInfo) of every published track, for the sync state of a resume."""
        return [(local.cid, local.info) for local in self.tracks.values()]

    def close(self) -> None:
        """The session ended: every track is gone with it."""
        for local in self.tracks.values():
            local.ended.set()
        self.tracks.clear()
        if self._answer is not None and not self._answer[1].done():
            self._answer[1].set_exception(RoomError("session ended during negotiation"))
        for future in self._announced.values():
            if not future.done():
                future.set_exception(RoomError("session ended while publishing"))


def _add_track_request(cid: str, options: TrackOptions, video: bool) -> proto_rtc.AddTrackRequest:
    if video:
        layer = proto_models.VideoLayer(
            quality=proto_models.VideoQuality.HIGH,
            width=options.width,
            height=options.height,
            bitrate=options.bitrate,
        )
        return proto_rtc.AddTrackRequest(
            cid=cid,
            name=options.name,
            type=proto_models.TrackType.VIDEO,
            source=int(options.source),  # type: ignore[arg-type]
            width=options.width,
            height=options.height,
            muted=options.muted,
            layers=[layer],
            simulcast_codecs=[proto_rtc.SimulcastCodec(codec="h264", cid=cid)],
        )
    return proto_rtc.AddTrackRequest(
        cid=cid,
        name=options.name,
        type=proto_models.TrackType.AUDIO,
        source=int(options.source),  # type: ignore[arg-type]
        muted=options.muted,
        disable_red=True,  # aiortc sends plain Opus
        stereo=False,  # edge.media.opus encodes mono
        audio_features=[proto_models.AudioTrackFeature.TF_NO_DTX],
    )
