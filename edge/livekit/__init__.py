"""The I/O side that drives `edge.protocol`: WebSocket, aiortc peer connections, the Room."""
