"""`python -m tools.benchmarks.crc32c`: the cost of aiortc's SCTP checksum per data-channel packet.

aiortc computes a CRC32C over every SCTP packet it sends and receives (up to ~1200 bytes on the
wire). This times each implementation found here over packets of that size: google-crc32c's pure
Python (what a 32-bit board had), its C extension (x86_64/aarch64 wheels), and the `crc32c`
distribution edge.livekit.checksum uses on 32-bit ARM. One line per implementation, then one
JSON line. Under qemu-user (tools/armhf-test) the figures are relative only: emulation slows
every implementation, and by different factors.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
from collections.abc import Callable

PACKET_BYTES = 1200
BUDGET_S = 1.0
"""Each implementation is timed for about this long (at least one packet)."""


def implementations() -> dict[str, Callable[[bytes], int]]:
    """Every CRC32C implementation importable here, by a short name."""
    found: dict[str, Callable[[bytes], int]] = {}
    checksum = importlib.import_module("edge.livekit.checksum")
    checksum.prepare()  # google-crc32c's import, quiet where the compiled replacement is there
    python = importlib.import_module("google_crc32c.python")
    found["google-crc32c pure Python"] = python.value
    try:
        cext = importlib.import_module("google_crc32c.cext")
    except ImportError:
        pass
    else:
        found["google-crc32c C"] = cext.value
    try:
        replacement = importlib.import_module("crc32c")
    except ImportError:
        pass
    else:
        found["crc32c (compiled)"] = replacement.crc32c
    return found


def time_per_packet(function: Callable[[bytes], int], packet: bytes, budget_s: float) -> float:
    """Seconds per call, over as many calls as fit in `budget_s` (batches double)."""
    calls, batch, elapsed = 0, 1, 0.0
    while elapsed < budget_s:
        start = time.perf_counter()
        for _ in range(batch):
            function(packet)
        elapsed += time.perf_counter() - start
        calls += batch
        batch *= 2
    return elapsed / calls


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bytes", type=int, default=PACKET_BYTES, help="packet size")
    parser.add_argument("--budget", type=float, default=BUDGET_S, help="seconds per implementation")
    args = parser.parse_args(argv)
    packet = os.urandom(args.bytes)
    found = implementations()
    reference = found["google-crc32c pure Python"](packet)
    results = {}
    for name, function in found.items():
        if function(packet) != reference:
            sys.stderr.write(f"{name}: WRONG checksum\n")
            return 1
        per = time_per_packet(function, packet, args.budget)
        results[name] = round(per * 1e6, 2)
        sys.stdout.write(f"{name:28} {per * 1e6:10.2f} µs per {args.bytes}-byte packet\n")
    summary = {"machine": os.uname().machine, "bytes": args.bytes, "us": results}
    sys.stdout.write(json.dumps(summary) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
