"""CaptureSource: the lifecycle the camera and microphone adapters share.

One bridge from the capture library's thread, the source states, opening and releasing the
device in worker threads (never left open when a start fails or is cancelled), and stall
detection: a device that stops delivering is reported as unavailable.
"""

from __future__ import annotations

import logging
from typing import Generic, TypeVar

from edge.errors import DeviceUnavailable, MediaError
from edge.media.bridge import ThreadToLoop, in_thread
from edge.media.frames import SourceState

_LOGGER = logging.getLogger(__name__)

T = TypeVar("T")


class CaptureSource(Generic[T]):
    """Base of the capture adapters; subclasses open, release and describe their device."""

    kind = "device"
    """How logs and errors name the device (`camera`, `microphone`)."""

    def __init__(self, *, stall_timeout_s: float) -> None:
        self.state = SourceState.STOPPED
        self.last_error = ""
        self._stall_timeout_s = stall_timeout_s
        self._bridge: ThreadToLoop[T] | None = None

    @property
    def dropped(self) -> int:
        """Items the bridge dropped because the consumer was slower than the device."""
        return 0 if self._bridge is None else self._bridge.dropped

    async def aclose(self) -> None:
        """Stop capturing and release the device; idempotent."""
        if self._bridge is not None:
            self._bridge.close(MediaError(f"the {self.kind} is closed"))
        await in_thread(self._release)
        if self.state is not SourceState.STOPPED:
            self._set_state(SourceState.STOPPED)

    # -- for subclasses ----------------------------------------------------------------------

    def _starting(self) -> None:
        """Refuse a second start; enter STARTING."""
        if self.state in (SourceState.STARTING, SourceState.RUNNING):
            raise MediaError(f"the {self.kind} is already started")
        self._set_state(SourceState.STARTING)

    async def _run_with(self, bridge: ThreadToLoop[T]) -> None:
        """Open the device (worker thread) feeding `bridge`; on any failure release it again."""
        self._bridge = bridge
        try:
            await in_thread(self._open)
        except MediaError as exc:
            self._fail(exc)
            await in_thread(self._release)
            raise
        except BaseException:  # cancelled, or a library bug: never leave the device open
            bridge.close(MediaError(f"the {self.kind} did not start"))
            await in_thread(self._release)
            self._set_state(SourceState.STOPPED)
            raise
        self._set_state(SourceState.RUNNING)

    async def _next(self) -> T:
        """The next item; DeviceUnavailable once the device stalls, MediaError once closed."""
        bridge = self._bridge
        if bridge is None:
            raise MediaError(f"the {self.kind} is not started")
        try:
            return await bridge.get_or_stall(self._stall_timeout_s)
        except TimeoutError:
            error = self._stalled()
            self._fail(error)
            raise error from None

    def _open(self) -> None:
        """Open the device and start capturing into `self._bridge` (blocking)."""
        raise NotImplementedError

    def _release(self) -> None:
        """Stop capturing and close the device; idempotent (blocking)."""
        raise NotImplementedError

    def _stalled(self) -> DeviceUnavailable:
        """The error for a device that delivered nothing for the stall timeout."""
        return DeviceUnavailable(
            f"the {self.kind} delivered nothing for {self._stall_timeout_s:g} s"
        )

    def _fail(self, error: MediaError) -> None:
        self.last_error = str(error)
        if self._bridge is not None:
            self._bridge.close(error)
        if self.state is not SourceState.FAILED:
            _LOGGER.warning("%s failed: %s", self.kind, error)
            self._set_state(SourceState.FAILED)

    def _set_state(self, state: SourceState) -> None:
        if state is not self.state:
            _LOGGER.info("%s: %s -> %s", self.kind, self.state.value, state.value)
            self.state = state
