"""Logbook: the daemon's recent log lines, sent to an allowed participant as a file on request.

    edge.logs  {"lines": 500}  ->  {"stream_id", "name", "bytes"}

The bundle (recent log lines and the redacted config) arrives as a byte stream on topic
`edge.files`, addressed to the caller only. Tokens and secrets are never logged, and the
config is redacted, but log lines still name participants: callers are allow-listed
(`[daemon] logs_allow`, empty by default; checked by `edge.access` before this runs).
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

from edge import __version__, wire
from edge.livekit.ports import FileSender, MethodRegistrar
from edge.protocol.rpc import RpcInvocation

_LOGGER = logging.getLogger(__name__)

MAX_LINES = 2_000
"""Lines kept in memory (the oldest go first)."""
DEFAULT_LINES = 500


class LogRing(logging.Handler):
    """A logging handler keeping the last MAX_LINES formatted lines."""

    def __init__(self, maxlen: int = MAX_LINES) -> None:
        super().__init__()
        self.lines: collections.deque[str] = collections.deque(maxlen=maxlen)
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        """Keep one line (the handler lock serialises threads)."""
        try:
            self.lines.append(self.format(record))
        except Exception:  # noqa: BLE001 - logging must never raise
            self.handleError(record)

    def tail(self, count: int) -> list[str]:
        """The newest `count` lines, oldest first."""
        return list(self.lines)[-count:]


def bundle(ring: LogRing, *, lines: int, config: Mapping[str, object]) -> bytes:
    """The text of a log bundle."""
    when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    header = [
        f"edge-participant {__version__} log bundle, {when}",
        "config (redacted): " + json.dumps(config, default=str, sort_keys=True),
        "",
    ]
    return "\n".join([*header, *ring.tail(lines), ""]).encode()


def serve_logs(
    rpc: MethodRegistrar,
    streams: FileSender,
    ring: LogRing,
    *,
    config: Mapping[str, object],
    workdir: Path,
) -> None:
    """Register `edge.logs` on `rpc`."""

    async def logs(invocation: RpcInvocation) -> str:
        caller = invocation.caller_identity
        count: int = invocation.params.get("lines", DEFAULT_LINES)  # validated: 1..MAX_LINES
        data = bundle(ring, lines=count, config=config)
        name = time.strftime("edge-logs-%Y%m%dT%H%M%SZ.txt", time.gmtime())
        path = await asyncio.to_thread(_write_temp, workdir, data)
        try:
            info = await streams.send_file(
                path,
                topic=wire.Topic.FILES,
                name=name,
                mime_type="text/plain",
                destination_identities=[caller],
                on_progress=lambda sent, total: _LOGGER.debug("log bundle %d/%d", sent, total),
            )
        finally:
            await asyncio.to_thread(path.unlink, missing_ok=True)
        _LOGGER.info("sent a log bundle of %d byte(s) to %r", len(data), caller)
        return json.dumps({"stream_id": info.stream_id, "name": name, "bytes": len(data)})

    rpc.register_method(
        wire.Method.LOGS,
        logs,
        description="The recent log lines and the redacted config, as a file sent to the caller",
        params={
            "type": "object",
            "properties": {"lines": {"type": "integer", "minimum": 1, "maximum": MAX_LINES}},
            "additionalProperties": False,
        },
    )


def _write_temp(workdir: Path, data: bytes) -> Path:
    with tempfile.NamedTemporaryFile(dir=workdir, prefix="edge-logs-", delete=False) as file:
        file.write(data)
    return Path(file.name)
