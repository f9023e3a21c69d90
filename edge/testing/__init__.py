"""Fakes the daemon itself runs with (`--simulate`, benchmarks), at the library boundary."""
