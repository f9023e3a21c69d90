"""`python -m tools.benchmarks` — see the package docstring."""

from __future__ import annotations

import sys

from .runner import main

sys.exit(main())
