"""`edge run` as a real subprocess, with its log lines collected as they arrive."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from tests.helpers import assert_eventually


class EdgeProcess:
    """A running `python -m edge ...`; stderr lines land in `lines`."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self._reader: asyncio.Task[None] | None = None

    @classmethod
    async def start(
        cls,
        *args: str,
        cwd: Path,
        env: dict[str, str] | None = None,
        wrapper: Sequence[str] = (),
        python: str = sys.executable,
    ) -> EdgeProcess:
        """`wrapper` prefixes the command (e.g. `ip netns exec <ns>`); it must exec, not fork.

        `python` is the interpreter as the wrapped command sees it (another root's, in a chroot).
        """
        inherited = {
            k: v for k, v in os.environ.items() if not k.startswith(("LIVEKIT_", "GPIOZERO_"))
        }
        env = {**inherited, **(env or {})}
        proc = await asyncio.create_subprocess_exec(
            *wrapper,
            python,
            "-m",
            "edge",
            *args,
            cwd=cwd,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        edge = cls(proc)
        edge._reader = asyncio.create_task(edge._read(), name="test.edge-stderr")
        return edge

    async def _read(self) -> None:
        assert self.proc.stderr is not None
        while line := await self.proc.stderr.readline():
            self.lines.append(line.decode(errors="replace").rstrip())

    def log(self) -> str:
        return "\n".join(self.lines[-40:])

    async def wait_line(self, fragment: str, *, timeout: float = 20.0) -> str:  # noqa: ASYNC109
        """The first log line containing `fragment`."""
        return await assert_eventually(
            lambda: next((line for line in self.lines if fragment in line), ""),
            timeout=timeout,
            message=lambda: f"edge never logged {fragment!r}; log:\n{self.log()}",
        )

    async def stop(self, sig: int = signal.SIGTERM, *, timeout: float = 15.0) -> int:  # noqa: ASYNC109
        """Send `sig` and return the exit code."""
        if self.proc.returncode is None:
            self.proc.send_signal(sig)
        return await self.wait(timeout=timeout)

    async def wait(self, *, timeout: float = 15.0) -> int:  # noqa: ASYNC109
        """Wait for the process to exit on its own; return the exit code."""
        try:
            code = await asyncio.wait_for(self.proc.wait(), timeout)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()
            raise AssertionError(
                f"edge did not exit within {timeout} s; log:\n{self.log()}"
            ) from None
        if self._reader is not None:
            await self._reader
        return code

    async def kill(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()
        await self.wait()
