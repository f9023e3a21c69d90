"""Run an MqttBridge in its own process (for kill -9 tests).

    python -m tests.mqtt.bridge_process HOST PORT IDENTITY [STATE_JSON]

With STATE_JSON the bridge publishes it as the device twin (its retained `state`).
"""

from __future__ import annotations

import asyncio
import json
import sys

from edge.mqtt.bridge import MqttBridge
from edge.mqtt.spec import MqttConfig


async def main(host: str, port: int, identity: str, state: str = "") -> None:
    bridge = MqttBridge(MqttConfig(host=host, port=port, discovery=False), identity=identity)
    if state:
        bridge.publish_state(json.loads(state))
    await bridge.run()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), *sys.argv[3:]))
