"""The I/O side that drives `edge.protocol`: WebSocket, aiortc peer connections, the Room."""

from edge.livekit import checksum

# Before any module of this package imports aiortc (which imports google-crc32c).
checksum.prepare()
