"""The wire contract: every name another participant sees, in one place. Pure constants.

    from edge import wire
    attributes[wire.output_key("relay")] = "1"               # "gpio.relay"
    rpc.register_method(wire.Method.GPIO_SET, ...)           # "gpio.set"
    await streams.send_file(name, topic=wire.Topic.SNAPSHOT)  # "edge.snapshot"

Participant attribute keys (`Attribute`, and the per-device `Prefix`es), the byte/text stream
topics (`Topic`), the RPC method names (`Method`), the application error codes (`ErrorCode`,
whose table is `edge.protocol.codes`) and LiveKit's own codes (`RpcErrorCode`, named for the
console) are the daemon's interface to the console,
to scripts and to the MQTT bridge. A rename here is a protocol change: `tests/test_wire.py`
pins `contract()` against a committed snapshot, and the console imports the same names from
`console/src/wire.generated.js`, written by `python -m edge.wire --js PATH` (tools/setup runs
it before building the console).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Final

from edge.protocol.codes import MEANINGS as CODE_MEANINGS
from edge.protocol.codes import ErrorCode, RpcErrorCode

__all__ = [
    "CODE_MEANINGS",
    "Attribute",
    "ErrorCode",
    "Method",
    "Prefix",
    "RpcErrorCode",
    "Status",
    "Topic",
    "contract",
    "js_module",
    "media_key",
    "names",
    "output_key",
    "output_name",
    "temperature_key",
]


class Attribute:
    """Participant attribute keys with one fixed name."""

    STATUS: Final = "edge.status"
    """`Status.ONLINE` from the join on; `Status.OFFLINE` when the daemon says goodbye."""
    CONNECTION: Final = "edge.connection"
    """`connecting`, `connected`, `reconnecting` or `offline` (`edge.connection.LinkState`)."""
    RECONNECTS: Final = "edge.reconnects"
    """How many times the daemon rejoined after losing the room, since it started."""
    LAST_OUTAGE_S: Final = "edge.last_outage_s"
    """How long the latest outage lasted, in seconds (absent before the first)."""
    LEASE: Final = "edge.lease"
    """The controller-lease holder ("" when free)."""
    LAST_FAILSAFE: Final = "edge.last_failsafe"
    """`{"what": [outputs], "why": "...", "at": <Unix s>}` of the latest fail-safe."""
    BOARD: Final = "edge.board"
    VERSION: Final = "edge.version"
    """Present once the services run: the console's sign that a participant is an edge."""
    UPTIME_S: Final = "edge.uptime_s"
    RTT_MS: Final = "edge.rtt_ms"
    NETWORK_QUALITY: Final = "edge.network_quality"
    ERROR: Final = "edge.error"
    WANTS_TELEMETRY: Final = "edge.wants.telemetry"
    """Set by a *consumer*: shell patterns of the edges whose live telemetry it wants
    (comma-separated, `*` for all); edges with `[telemetry] audience = "announced"` send
    their batches only to such participants."""


class Prefix:
    """Attribute key prefixes followed by a configured name, and the MQTT packet prefix."""

    OUTPUT: Final = "gpio."
    """`gpio.<output>`: the output's value (see `output_key`)."""
    TEMPERATURE: Final = "edge.temperature."
    """`edge.temperature.<sensor>`: a sensor's latest reading, degrees Celsius."""
    MEDIA: Final = "media."
    """`media.<track>`: the track's state (and why, when unavailable)."""
    MQTT_PACKET: Final = "mqtt/"
    """Data packets forwarded from the MQTT broker carry topic `mqtt/<mqtt topic>`."""


class Status:
    """Values of `Attribute.STATUS`."""

    ONLINE: Final = "online"
    OFFLINE: Final = "offline"


class Topic:
    """Byte and text stream topics."""

    TELEMETRY: Final = "edge.telemetry"
    """Byte streams of msgpack sample batches (`edge.telemetry.codec`); the default topic."""
    EVENTS: Final = "edge.events"
    """Text streams of human-readable events; the default events topic."""
    FILES: Final = "edge.files"
    """Byte streams of files asked for (`edge.logs`)."""
    SNAPSHOT: Final = "edge.snapshot"
    """Byte streams of camera stills (`camera.snapshot`)."""


class Method:
    """RPC method names."""

    DESCRIBE: Final = "edge.describe"
    LOGS: Final = "edge.logs"
    GPIO_LIST: Final = "gpio.list"
    GPIO_SET: Final = "gpio.set"
    GPIO_PULSE: Final = "gpio.pulse"
    GPIO_READ: Final = "gpio.read"
    GPIO_LEASE: Final = "gpio.lease"
    MEDIA_LIST: Final = "media.list"
    MEDIA_SET: Final = "media.set"
    CAMERA_SNAPSHOT: Final = "camera.snapshot"
    TELEMETRY_HISTORY: Final = "telemetry.history"
    MQTT_PUBLISH: Final = "mqtt.publish"
    MQTT_READ: Final = "mqtt.read"


GPIO_METHODS: Final = (
    Method.GPIO_LIST,
    Method.GPIO_SET,
    Method.GPIO_PULSE,
    Method.GPIO_READ,
    Method.GPIO_LEASE,
)
"""The GPIO service's methods, in the order they are listed."""


def output_key(device: str) -> str:
    """The attribute key of an output's value: `gpio.<device>`."""
    return Prefix.OUTPUT + device


def output_name(key: str) -> str | None:
    """The output an attribute key names, or None when it is not an output's key."""
    return key.removeprefix(Prefix.OUTPUT) if key.startswith(Prefix.OUTPUT) else None


def temperature_key(sensor: str) -> str:
    """The attribute key of a temperature sensor's reading: `edge.temperature.<sensor>`."""
    return Prefix.TEMPERATURE + sensor


def media_key(track: str) -> str:
    """The attribute key of a media track's state: `media.<track>`."""
    return Prefix.MEDIA + track


_GROUPS: Final = (
    ("attributes", Attribute),
    ("prefixes", Prefix),
    ("status", Status),
    ("topics", Topic),
    ("methods", Method),
)


def names(group: type) -> dict[str, str]:
    """The NAME -> value table of one group (`Attribute`, `Prefix`, `Status`, `Topic`, `Method`)."""
    return {k: v for k, v in vars(group).items() if k.isupper() and isinstance(v, str)}


def contract() -> dict[str, Mapping[str, str | int]]:
    """Every name of the contract, by group: {"attributes": {"STATUS": "edge.status"}, ...}."""
    out: dict[str, Mapping[str, str | int]] = {name: names(group) for name, group in _GROUPS}
    out["error_codes"] = {code.name: int(code) for code in ErrorCode}
    out["livekit_codes"] = {code.name: int(code) for code in RpcErrorCode}
    return out


def js_module() -> str:
    """`contract()` as an ES module for the console (`console/src/wire.generated.js`)."""
    lines = [
        "// Generated by `python -m edge.wire --js` from edge/wire.py: do not edit by hand.",
        "// tools/setup regenerates it before building; tests/test_wire.py checks it is current.",
    ]
    for name, names in contract().items():
        body = json.dumps(names, indent=2, sort_keys=False)
        lines.append(f"export const {name.upper()} = Object.freeze({body});")
    lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """`python -m edge.wire --js PATH | --json PATH`: write the module or the snapshot."""
    import argparse
    from pathlib import Path

    parser = argparse.ArgumentParser(prog="python -m edge.wire", description=main.__doc__)
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--js", metavar="PATH", help="write the console's ES module")
    which.add_argument("--json", metavar="PATH", help="write the pinned JSON snapshot")
    args = parser.parse_args(argv)
    if args.js:
        path, text = Path(args.js), js_module()
    else:
        path, text = Path(args.json), json.dumps(contract(), indent=2) + "\n"
    # Only a change touches the file, so the console's build stamp sees no false news.
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
