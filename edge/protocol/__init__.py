"""Sans-I/O LiveKit client logic: takes bytes and `now`, returns events and bytes to send.

Nothing in this package imports asyncio, aiortc, av or hardware libraries.
"""
