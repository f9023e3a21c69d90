"""Run an MqttBridge in its own process (for kill -9 tests): `python -m ... HOST PORT IDENTITY`."""

from __future__ import annotations

import asyncio
import sys

from edge.mqtt.bridge import MqttBridge
from edge.mqtt.spec import MqttConfig


async def main(host: str, port: int, identity: str) -> None:
    bridge = MqttBridge(MqttConfig(host=host, port=port, discovery=False), identity=identity)
    await bridge.run()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3]))
