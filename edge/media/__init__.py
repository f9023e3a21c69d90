"""Camera and microphone capture: H.264 passed through untouched, PCM for Opus.

`spec` (config) → `sources` (factories) → `camera.CameraSource` / `microphone.MicrophoneSource`
(one adapter per capture library, each with a twin in `synthetic`) → `bridge.ThreadToLoop` (the
one bounded handoff from capture threads) → `frames.EncodedFrame` / `frames.PcmFrame` → the
aiortc tracks. Importing this package loads nothing heavy.
"""

from edge.livekit import checksum

# Before `tracks` imports aiortc (which imports google-crc32c): see edge.livekit.checksum.
checksum.prepare()
