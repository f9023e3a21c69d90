"""SCTP timers for aiortc's data channels: libwebrtc's values instead of RFC 4960's."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class SctpTimers:
    """Retransmission timeouts of the SCTP association that carries the data channels.

    aiortc keeps RFC 4960's conservative values; libwebrtc (LiveKit's official SDKs, browsers)
    uses these. It matters on a lossy link: a reliable message whose retransmission is lost
    too waits for the timer, and every later message on the ordered channel waits behind it,
    so under 5 % loss aiortc's 1 s floor puts about a second on the p99 telemetry latency.
    """

    rto_initial_s: float = 0.5
    """Before the first round trip is measured (aiortc: 3 s; libwebrtc: 0.5 s)."""
    rto_min_s: float = 0.22
    """Floor of the computed timeout (aiortc: 1 s; libwebrtc: 0.22 s). It stays above the
    peer's delayed-ack time (pion, on the server: 200 ms for a lone packet)."""
    rto_max_s: float = 3.0
    """Ceiling (aiortc: 60 s; libwebrtc caps its timer backoff at 3 s), so a long stall
    does not leave the association waiting long after the link is back."""


SCTP_TIMERS = SctpTimers()
"""What every PeerConnection uses (see `tune`)."""


def tune(timers: SctpTimers = SCTP_TIMERS) -> None:
    """Set aiortc's SCTP timer constants to `timers`.

    They are module globals of `aiortc.rtcsctptransport`, read when a transport is created
    (the initial timeout) and at every round-trip update (floor and ceiling), so setting them
    before a peer connection negotiates applies to its association. Idempotent.
    """
    from aiortc import rtcsctptransport

    rtcsctptransport.SCTP_RTO_INITIAL = timers.rto_initial_s
    rtcsctptransport.SCTP_RTO_MIN = timers.rto_min_s  # type: ignore[assignment]
    rtcsctptransport.SCTP_RTO_MAX = timers.rto_max_s  # type: ignore[assignment]
