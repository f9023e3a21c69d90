"""Scenarios of the issue that are not measured yet, each with the reason."""

from __future__ import annotations

PENDING: tuple[tuple[str, str], ...] = (
    (
        "2 telemetry under 5 % loss",
        "needs a network namespace pair with netem/iptables loss between device and server; "
        "not built into the bench yet (P2 targets p99 ≤ 150 ms, 0 lost)",
    ),
    (
        "6 CPU/memory with 720p30 H.264 + audio",
        "media publishing has not landed in the edge client yet (P6: ≤ 5 % core, ≤ 2x official)",
    ),
    (
        "8 recovery after a 20 s cut",
        "needs the network namespace pair to cut and restore the link; not built into the "
        "bench yet (P9: detect ≤ 16 s, rejoin ≤ 5 s after restore)",
    ),
)
