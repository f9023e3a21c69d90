"""Scenario 8's device on this project: the `edge run` daemon itself, in this process.

It samples a simulated sensor at `RECOVERY_HZ` into its spool and streams the readings as it
always does (msgpack batches on `edge.telemetry`). What it says about its connection comes
from its own sd_notify STATUS= lines, read from a notify socket this process binds, as
systemd would: `connected ...` → `joined`/`rejoined`, `reconnecting ...`/`offline ...` →
`detected`, each stamped with `time.monotonic_ns()`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import tempfile
import time
from pathlib import Path

from edge.config import load_config
from edge.daemon import run_daemon

from .recovery_device import RECOVERY_HZ, ConnectionReport
from .wire import Channel, Message, run_child

CONFIG = """
[livekit]
url = "{url}"
room = "{room}"
identity = "{identity}"
token = "{token}"

[telemetry]
batch_window_s = 0.2

[[telemetry.sensors]]
name = "bench"
kind = "simulated"
period_s = {period_s}
"""


async def _watch(sock: socket.socket, report: ConnectionReport) -> None:
    """Turn STATUS= datagrams into connection events until cancelled."""
    loop = asyncio.get_running_loop()
    while True:
        datagram = (await loop.sock_recv(sock, 4096)).decode(errors="replace")
        now_ns = time.monotonic_ns()
        for line in datagram.splitlines():
            if line.startswith("STATUS="):
                status = line.removeprefix("STATUS=")
                report.state(status.split(" ", 1)[0].rstrip(",:"), now_ns, detail=status)


async def main(config: Message, channel: Channel) -> None:
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level="INFO")
    with tempfile.TemporaryDirectory(prefix="bench-edge-daemon-") as tmp:
        workdir = Path(tmp)
        path = workdir / "edge.toml"
        path.write_text(CONFIG.format(period_s=1 / RECOVERY_HZ, **config))
        path.chmod(0o600)
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.bind(str(workdir / "notify"))
            sock.setblocking(False)
            os.environ["NOTIFY_SOCKET"] = str(workdir / "notify")
            report = ConnectionReport(channel)
            async with asyncio.TaskGroup() as tg:
                daemon = tg.create_task(
                    run_daemon(load_config(path), simulate=False), name="bench.daemon"
                )
                watcher = tg.create_task(_watch(sock, report), name="bench.notify")
                async for command in channel.commands():
                    channel.send("error", message=f"unknown command {command.get('cmd')!r}")
                os.kill(os.getpid(), signal.SIGTERM)  # the daemon's own way to stop cleanly
                await daemon
                watcher.cancel()


if __name__ == "__main__":
    run_child(main)
