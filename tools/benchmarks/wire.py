"""JSON lines between the runner and its device/observer processes.

A child process answers on its original stdout (one JSON object per line, each with an
`event`) and reads commands from stdin (each with a `cmd`). Everything else a library might
print goes to stderr, which the runner keeps in a log file.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

Message = dict[str, Any]

LINE_LIMIT_BYTES = 16 * 1024 * 1024
"""Results carry every sample; raise asyncio's 64 KiB line limit."""
STOP_TIMEOUT_S = 10.0


class ChildFailed(RuntimeError):
    """A child process exited, reported an error, or did not answer in time."""


# -- child side --------------------------------------------------------------------------


class Channel:
    """The child's end: `send()` events, iterate `commands()`."""

    def __init__(self) -> None:
        self._out = os.dup(1)
        os.dup2(2, 1)  # stray prints from libraries land in the log, not in the protocol
        self._reader: asyncio.StreamReader | None = None

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=LINE_LIMIT_BYTES, loop=loop)
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        self._reader = reader

    def send(self, event: str, **fields: Any) -> None:
        line = json.dumps({"event": event, **fields}, separators=(",", ":")) + "\n"
        os.write(self._out, line.encode())

    async def commands(self) -> AsyncIterator[Message]:
        """Commands until `stop` or the runner closes stdin (both end the iteration)."""
        assert self._reader is not None, "open() first"
        while line := await self._reader.readline():
            message: Message = json.loads(line)
            if message.get("cmd") == "stop":
                return
            yield message


def config_from_argv() -> Message:
    """A child's configuration: one JSON object as its only argument."""
    config: Message = json.loads(sys.argv[1])
    return config


# -- runner side -------------------------------------------------------------------------


class Child:
    """A running child process (`python -m <module> <config json>`)."""

    def __init__(self, name: str, proc: asyncio.subprocess.Process, log_path: Path) -> None:
        self.name = name
        self.proc = proc
        self.log_path = log_path
        self.spawned_ns = 0
        """`time.monotonic_ns()` just before the process was created."""
        self.events: list[Message] = []
        """Events read while waiting for another one, in arrival order."""

    @classmethod
    async def start(
        cls,
        name: str,
        module: str,
        config: Message,
        *,
        cwd: Path,
        log_path: Path,
        wrapper: Sequence[str] = (),
    ) -> Child:
        """`wrapper` prefixes the command (`ip netns exec <ns>`, which execs: same pid)."""
        with log_path.open("ab") as log:
            spawned_ns = time.monotonic_ns()
            proc = await asyncio.create_subprocess_exec(
                *wrapper,
                sys.executable,
                "-m",
                module,
                json.dumps(config),
                cwd=cwd,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
                limit=LINE_LIMIT_BYTES,
            )
        child = cls(name, proc, log_path)
        child.spawned_ns = spawned_ns
        return child

    @property
    def pid(self) -> int:
        return self.proc.pid

    def send(self, cmd: str, **fields: Any) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps({"cmd": cmd, **fields}) + "\n").encode())

    async def expect(self, event: str, *, timeout_s: float) -> Message:
        """The next `event` (earlier ones first); raise ChildFailed on error, exit or timeout."""
        for i, seen in enumerate(self.events):
            if seen["event"] == event:
                return self.events.pop(i)
        assert self.proc.stdout is not None
        try:
            async with asyncio.timeout(timeout_s):
                while line := await self.proc.stdout.readline():
                    message: Message = json.loads(line)
                    if message["event"] == event:
                        return message
                    if message["event"] == "error":
                        raise ChildFailed(f"{self.name}: {message.get('message')}{self._tail()}")
                    self.events.append(message)
        except TimeoutError:
            raise ChildFailed(
                f"{self.name}: no {event!r} within {timeout_s:g} s{self._tail()}"
            ) from None
        raise ChildFailed(f"{self.name}: exited before {event!r}{self._tail()}")

    async def stop(self) -> int:
        """Ask the child to leave and exit; kill it if it does not within the bound."""
        if self.proc.returncode is None and self.proc.stdin is not None:
            try:
                self.send("stop")
                self.proc.stdin.close()
            except (BrokenPipeError, ConnectionResetError):
                pass
        try:
            async with asyncio.timeout(STOP_TIMEOUT_S):
                return await self.proc.wait()
        except TimeoutError:
            self.proc.kill()
            return await self.proc.wait()

    def _tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            return ""
        return "\n  log: " + "\n  log: ".join(text) if text else ""


def run_child(main: Any, argv: Sequence[str] | None = None) -> None:
    """Entry point of a child module: run `main(config, channel)` and report a crash."""
    del argv
    config = config_from_argv()

    async def guarded() -> None:
        channel = Channel()
        await channel.open()
        try:
            await main(config, channel)
        except Exception as exc:
            channel.send("error", message=f"{type(exc).__name__}: {exc}")
            raise

    asyncio.run(guarded())
