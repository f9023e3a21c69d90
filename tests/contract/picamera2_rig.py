"""Real picamera2 releases on a laptop: their Python code, with only the C boundary replaced.

Each release in `tools/picamera2-versions.txt` is installed by `tools/setup` into
`.cache/picamera2-<version>` (with the V4L2 bindings that release imports), next to
`.cache/picamera2-deps` (the wheels it imports: Pillow, simplejpeg, piexif). `loaded()` puts one
on `sys.path` with the stubs of `stubs/` (libcamera, python-prctl, pykms, PiDNG: C extensions)
and takes it off again afterwards.

What runs as picamera2 wrote it: `H264Encoder`/`LibavH264Encoder` (with real PyAV and libx264),
`Encoder.encode()`, `Output`, `CompletedRequest` (reference counting, `make_array()`, `save()`
with simplejpeg), `MappedArray`/`_MappedBuffer` and the allocator's `Sync` mapping the frame
buffers, `Helpers`, and `Picamera2.start_recording`/`start_encoder`/`stop_recording`/
`stop_encoder`. What `CameraDouble` stands in for is the libcamera side of `Picamera2`: the
camera manager's thread completing requests (it calls the encoders as picamera2's
`process_requests()` does and dies on the first exception, as picamera2's thread does), the
frame buffers (memory files that picamera2 mmaps like a dma-buf), `stop()` (which, as picamera2's,
waits for that thread: forever once it has died) and the capture jobs.

The V4L2 `H264Encoder` opens `/dev/video11`, which no laptop has: its constructor, its
profile/control setup up to that `open()`, and the V4L2 bindings used to force a keyframe run for
real; the kernel encoder itself does not.
"""

from __future__ import annotations

import contextlib
import importlib
import mmap
import os
import sys
import threading
import time
import types
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".cache"
STUBS = Path(__file__).resolve().parent / "stubs"
VERSIONS_FILE = ROOT / "tools" / "picamera2-versions.txt"
PREFIXES = ("picamera2", "libcamera", "prctl", "pykms", "pidng", "v4l2", "videodev2")
BUFFERS = 8
"""Frame buffers the double's camera cycles through (libcamera's buffer count)."""
HANG_S = 10.0
"""How long the double's `stop()` waits on a dead camera thread before calling it a hang."""
PREFIXES_DEPS = ("PIL", "simplejpeg", "piexif")


def versions() -> list[str]:
    """The picamera2 releases of the matrix, oldest first."""
    lines = VERSIONS_FILE.read_text().splitlines()
    return [line.split()[0] for line in lines if line.strip() and not line.startswith("#")]


def as_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


@dataclass
class Library:
    """One picamera2 release, imported."""

    version: tuple[int, ...]
    picamera2: Any
    """The `picamera2` package."""
    libcamera: Any
    """The stub of the binding."""

    def module(self, name: str) -> Any:
        return importlib.import_module(name)


@contextlib.contextmanager
def loaded(version: str) -> Iterator[Library]:
    """picamera2 `version` importable (and imported) for the duration of the block."""
    folder = CACHE / f"picamera2-{version}"
    deps = CACHE / "picamera2-deps"
    if not (folder / "picamera2").is_dir() or not deps.is_dir():
        raise RuntimeError(f"picamera2 {version} is not in {folder}: run tools/setup")
    saved_path = list(sys.path)
    _forget()
    sys.path[:0] = [str(folder), str(deps), str(STUBS)]
    importlib.invalidate_caches()
    try:
        yield Library(
            version=as_tuple(version),
            picamera2=importlib.import_module("picamera2"),
            libcamera=importlib.import_module("libcamera"),
        )
    finally:
        sys.path[:] = saved_path
        _forget()
        importlib.invalidate_caches()


def _forget() -> None:
    for name in list(sys.modules):
        if name.split(".")[0] in PREFIXES + PREFIXES_DEPS:
            del sys.modules[name]


class _Plane:
    def __init__(self, fd: int, length: int) -> None:
        self.fd, self.offset, self.length = fd, 0, length


class _PlaneMetadata:
    def __init__(self, used: int) -> None:
        self.bytes_used = used


class _FrameBuffer:
    """libcamera's FrameBuffer: one plane over a memory file, as a dma-buf on a Pi."""

    def __init__(self, size: int) -> None:
        self.fd = os.memfd_create("frame")
        os.ftruncate(self.fd, size)
        self.planes = [_Plane(self.fd, size)]
        self.metadata = type("FrameMetadata", (), {"planes": [_PlaneMetadata(size)]})()

    def paint(self, data: bytes) -> None:
        os.pwrite(self.fd, data, 0)

    def close(self) -> None:
        os.close(self.fd)


class _Request:
    """libcamera's Request: buffers by stream, metadata by control id."""

    def __init__(self, buffers: dict[Any, _FrameBuffer], metadata: dict[Any, Any]) -> None:
        self.buffers = buffers
        self.metadata = metadata

    def reuse(self) -> None:
        """Back to the camera: nothing to do without one."""


class _Stream:
    """libcamera's Stream: an identity (picamera2 keys buffers by it)."""

    def __init__(self, configuration: dict[str, Any]) -> None:
        self.configuration = configuration


class CameraDouble:
    """`Picamera2` with its libcamera side replaced (see the module docstring)."""

    def __init__(self, lib: Library, camera_num: int = 0) -> None:
        real = lib.picamera2.Picamera2
        # picamera2's own recording logic, bound to this object
        for name in ("start_recording", "start_encoder", "stop_recording", "stop_encoder"):
            setattr(self, name, getattr(real, name).__get__(self))
        self.lib = lib
        self.camera_num = camera_num
        self.camera_config: dict[str, Any] | None = None
        self.stream_map: dict[str, Any] = {}
        self.encode_stream_name = "main"
        self.options: dict[str, Any] = {}
        self.lock = threading.Lock()
        self.request_lock = threading.Lock()
        self._encoders: set[Any] = set()
        self.stop_count = 0
        self.configure_count = 0
        self.started = False
        self.camera: Any = None  # no libcamera camera: a released request is not requeued
        self.controls = type("Controls", (), {"get_libcamera_controls": lambda _: {}})()
        self.camera_ctrl_info = {
            "FrameDurationLimits": (None, type("Range", (), {"min": 33333})()),
        }
        self.allocator = _dma_allocator(lib)
        self.helpers = lib.module("picamera2.request").Helpers(self)
        self.fail_with: BaseException | None = None
        """Set by a test: the next request's metadata lookup raises it on the camera thread."""
        self.frames = 0
        self.thread_error: BaseException | None = None
        """What killed the camera thread (picamera2 prints it and the thread is gone)."""
        self.stop_waited = threading.Event()
        """Set when `stop()` found the camera thread dead and began waiting for it."""
        self.hung = False
        """Set when a `stop()` waited `HANG_S` on the dead thread (picamera2: forever)."""
        self.unhang = threading.Event()
        """Set by the test's teardown to let a `stop()` that waits on a dead thread return."""
        self._running = threading.Event()
        self._thread: threading.Thread | None = None
        self._latest: Any = None
        self._new = threading.Condition()
        self._buffers: list[_FrameBuffer] = []

    # -- configuration, as picamera2 reports it ------------------------------------------

    def create_video_configuration(
        self, main: dict[str, Any] | None = None, controls: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        stream = {"format": "XBGR8888", "size": (1280, 720)} | (main or {})
        return {"use_case": "video", "main": stream, "controls": controls or {}}

    def configure(self, config: dict[str, Any]) -> None:
        main = dict(config["main"])
        width, height = main["size"]
        main["stride"] = width  # YUV420 at an aligned width: libcamera's stride is the width
        main["framesize"] = width * height * 3 // 2
        self.camera_config = {"main": main, "controls": config.get("controls", {})}
        self.stream_map = {"main": _Stream(main)}
        self._framerate = float(config.get("controls", {}).get("FrameRate", 30.0))
        self.configure_count += 1

    def camera_configuration(self) -> dict[str, Any]:
        assert self.camera_config is not None
        return self.camera_config

    # -- the camera thread ----------------------------------------------------------------

    def start(self) -> None:
        if self.started:
            return
        self.started = True
        self._running.set()
        self._thread = threading.Thread(target=self._run, name="camera-double", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """picamera2's `stop()` asks its camera thread to stop and waits for the answer."""
        if not self.started:
            return
        thread = self._thread
        if thread is not None and not thread.is_alive() and self.thread_error is not None:
            self.stop_waited.set()
            if not self.unhang.wait(HANG_S):  # picamera2 waits forever
                self.hung = True
                raise RuntimeError("stop() waited for a dead camera thread (forever, on a Pi)")
        self._running.clear()
        if thread is not None:
            thread.join()
        self.started = False
        self.stop_count += 1

    def close(self) -> None:
        if self.started:
            self.stop()
        if self.allocator is not None:
            self.allocator.close()
        for buffer in self._buffers:
            buffer.close()
        self._buffers.clear()

    def _run(self) -> None:
        try:
            self._complete_requests()
        except Exception as exc:  # noqa: BLE001 - picamera2's thread dies on anything; kept
            self.thread_error = exc
            with self._new:
                self._new.notify_all()

    def _complete_requests(self) -> None:
        config = self.camera_configuration()["main"]
        width, height = config["size"]
        stream = self.stream_map["main"]
        interval = 1 / self._framerate
        deadline = time.monotonic()
        index = 0
        while self._running.is_set():
            deadline += interval
            time.sleep(max(0.0, deadline - time.monotonic()))  # the sensor's frame clock
            buffer = self._buffer(index, config["framesize"])
            buffer.paint(_pattern(width, height, index))
            index += 1
            metadata = _Metadata(self, time.monotonic_ns())
            request = self.lib.module("picamera2.request").CompletedRequest(
                _Request({stream: buffer}, metadata), self
            )
            # picamera2's process_requests(): each encoder of the stream encodes the request
            with self.lock:
                encoders = list(self._encoders)
            for encoder in encoders:
                if getattr(encoder, "name", "main") == "main":
                    encoder.encode(self.encode_stream_name, request)
            with self._new:  # the latest request stays referenced for capture jobs
                previous, self._latest = self._latest, request
                self.frames += 1
                self._new.notify_all()
            if previous is not None:
                previous.release()

    def _buffer(self, index: int, size: int) -> _FrameBuffer:
        """libcamera's buffers go round; picamera2's DmaAllocator keeps each one mapped."""
        if len(self._buffers) < BUFFERS:
            buffer = _FrameBuffer(size)
            self._buffers.append(buffer)
            if self.allocator is not None:
                self.allocator.mapped_buffers[buffer] = mmap.mmap(buffer.fd, size)
                self.allocator.mapped_buffers_used[buffer.fd] = False
                self.allocator.libcamera_fds.append(buffer.fd)
        return self._buffers[index % BUFFERS]

    # -- capture jobs ---------------------------------------------------------------------

    def _next_request(self, wait: Any) -> Any:
        numeric = not isinstance(wait, bool) and wait is not None
        timeout = float(wait) if numeric and self.lib.version >= (0, 3, 20) else None
        with self._new:
            seen = self.frames
            ready = self._new.wait_for(
                lambda: self.frames > seen or self.thread_error is not None, timeout=timeout
            )
            if not ready or self.frames == seen:
                raise TimeoutError
            self._latest.acquire()
            return self._latest

    def capture_file(
        self, file_output: Any, name: str = "main", format: str | None = None, wait: Any = None
    ) -> dict[str, Any]:
        request = self._next_request(wait)
        try:
            request.save(name, file_output, format=format)
        finally:
            request.release()
        return {}

    def capture_array(self, name: str = "main", wait: Any = None) -> Any:
        request = self._next_request(wait)
        try:
            return request.make_array(name)
        finally:
            request.release()


class _Metadata(dict[Any, Any]):
    """A request's metadata; a test can make the lookup fail on the camera thread."""

    def __init__(self, camera: CameraDouble, stamp_ns: int) -> None:
        controls = camera.lib.libcamera.controls
        super().__init__({controls.SensorTimestamp: stamp_ns})
        self._camera = camera

    def __getitem__(self, key: Any) -> Any:
        failure = self._camera.fail_with
        if failure is not None:
            raise failure
        return super().__getitem__(key)


def _dma_allocator(lib: Library) -> Any:
    """picamera2's own DmaAllocator (0.3.17 on), its dma-buf sync ioctl answered here."""
    try:
        module = lib.module("picamera2.allocators.dmaallocator")
    except ImportError:
        return None  # before allocators, picamera2 maps each buffer itself
    module.fcntl = types.SimpleNamespace(ioctl=lambda fd, request, arg: 0)  # DMA_BUF_IOCTL_SYNC
    module.DmaHeap = lambda: types.SimpleNamespace(close=lambda: None)  # /dev/dma_heap
    return module.DmaAllocator()


def _pattern(width: int, height: int, index: int) -> bytes:
    """A YUV420 picture that changes every frame (moving luma ramp, flat chroma)."""
    row = bytes((x + index * 4) % 256 for x in range(width))
    return row * height + bytes([128]) * (width * height // 2)
