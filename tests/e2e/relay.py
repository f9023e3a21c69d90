"""SignalRelay: a loopback TCP relay in front of the server's signalling port.

Clients that connect through it reach the server's WebSocket as usual, while their ICE/UDP
goes straight to the server. Dropping the relay's connections kills the signalling TCP
connection and nothing else: what a proxy, a load balancer or a NAT that forgot an idle TCP
connection does. It can also refuse new connections for a while (the server unreachable).
"""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import urlsplit


class SignalRelay:
    """A loopback TCP relay to the server that can drop its connections and refuse new ones."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.refusing = False
        self.accepted = 0
        self.refused = 0

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"ws://127.0.0.1:{port}"

    def drop(self) -> None:
        """Reset every relayed connection (both directions)."""
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def aclose(self) -> None:
        self.drop()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.refusing:
            self.refused += 1
            writer.transport.abort()
            return
        self.accepted += 1
        up_reader, up_writer = await asyncio.open_connection(*self._target)
        self._writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            for end in (writer, up_writer):
                end.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    @classmethod
    def to(cls, server_url: str) -> SignalRelay:
        """A relay to the server at `ws://host:port`."""
        target = urlsplit(server_url)
        assert target.hostname is not None
        assert target.port is not None
        return cls(target.hostname, target.port)
