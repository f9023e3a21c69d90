"""Sensor telemetry: sample, spool on disk, stream into the room, serve history.

`spec` (config) → `sensors` → `sampler.TelemetryService` → `outbox.Outbox` (sqlite spool) →
`uplink.serve_telemetry` (byte streams per room session); `codec` is the wire contract.
"""
