"""For `edge` subprocesses of the contract tests only (this folder is put on their PYTHONPATH,
which also makes `_lgpio` the recorder): gpiozero reads the Pi revision from /proc, which this
host has not; `EDGE_TEST_PI_REVISION` stands in for /proc/device-tree/system/linux,revision."""

import os

if os.environ.get("EDGE_TEST_PI_REVISION"):
    import gpiozero.pins.local

    _REVISION = int(os.environ["EDGE_TEST_PI_REVISION"], 16)
    gpiozero.pins.local.get_pi_revision = lambda: _REVISION
