"""Factories: the capture source a config names, or its synthetic twin under `--simulate`.

Nothing is opened here (`start()` does that) and the capture libraries load only when a source
of their kind is made, so the daemon without a camera never imports picamera2, pyaudio or av.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from edge.media.spec import AudioKind, CameraConfig, CameraKind, EncoderKind, MicrophoneConfig

if TYPE_CHECKING:
    from edge.media.frames import AudioSource, VideoSource
    from edge.media.synthetic import SyntheticCameraSystem
from edge.media.synthetic_audio import SyntheticAudioSystem

DEFAULT_V4L2_DEVICE = "/dev/video0"


def open_video_source(
    config: CameraConfig, *, simulate: bool, cameras: SyntheticCameraSystem | None = None
) -> VideoSource:
    """The configured camera; `simulate` or `source = "synthetic"` gives the test pattern.

    `cameras` lets a test hold the simulated camera connector (to unplug it).
    """
    from edge.media.camera import CameraSource

    if simulate or config.source is CameraKind.SYNTHETIC or cameras is not None:
        from edge.media.synthetic import SyntheticCameraSystem

        system = cameras or SyntheticCameraSystem(clip=config.clip)
        # the twin stands in for the encoder too: libx264, whatever the board would use
        config = dataclasses.replace(config, encoder=EncoderKind.SOFTWARE, device="")
        return CameraSource(config, api=system.api)
    if config.source is CameraKind.V4L2:
        from edge.media.v4l2 import v4l2_api

        device = config.device or DEFAULT_V4L2_DEVICE
        return CameraSource(config, api=lambda: v4l2_api(device, config))
    return CameraSource(config)


def open_audio_source(
    config: MicrophoneConfig,
    *,
    simulate: bool,
    sound_cards: SyntheticAudioSystem | None = None,
) -> AudioSource:
    """The configured microphone; `simulate` or `source = "synthetic"` gives the sine tone.

    `sound_cards` lets a test hold the simulated sound system (to unplug it).
    """
    from edge.media.microphone import MicrophoneSource

    if simulate or config.source is AudioKind.SYNTHETIC or sound_cards is not None:
        from edge.media.synthetic_audio import SyntheticAudioSystem

        system = sound_cards or SyntheticAudioSystem(tone_hz=config.tone_hz)
        return MicrophoneSource(config, pyaudio=system.module)
    return MicrophoneSource(config)
