"""Side-by-side benchmarks: this project's LiveKit client against LiveKit's official SDK.

Run `tools/bench` (or `python -m tools.benchmarks` from the repository root; `--help` for
options). See README.md next to this file for what is measured and how.
"""
