"""GPIO devices driven by RPC: specs, gpiozero adapter, safety policy, RPC methods."""
