"""Real gpiozero and lgpio's real `lgpio.py`, over a recorder in place of the `_lgpio` C module."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from tests import needs

RECORDER_DIR = Path(__file__).parent / "lgpio_c"
PI_4_REVISION = 0xC03114
"""A Pi 4 Model B 4 GB: what gpiozero would read from /proc/device-tree/system/linux,revision."""
_REIMPORTED = ("lgpio", "gpiozero.pins.lgpio", "edge.gpio.lines")


def load_recorder(workdir: Path) -> ModuleType:
    """The recorder as `_lgpio`, and `lgpio` imported over it (once per process)."""
    if importlib.util.find_spec("lgpio") is None:  # not importorskip: that loads the real C part
        needs.missing(f"lgpio's Python module is not installed: {needs.SETUP}")
    current = sys.modules.get("_lgpio")
    if current is not None and getattr(current, "__file__", "") == str(RECORDER_DIR / "_lgpio.py"):
        return current
    spec = importlib.util.spec_from_file_location("_lgpio", RECORDER_DIR / "_lgpio.py")
    assert spec is not None
    assert spec.loader is not None
    recorder = importlib.util.module_from_spec(spec)
    sys.modules["_lgpio"] = recorder
    spec.loader.exec_module(recorder)
    for name in _REIMPORTED:
        sys.modules.pop(name, None)
    notify_dir = workdir
    notify_dir.mkdir(parents=True, exist_ok=True)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(notify_dir)  # lgpio.py opens its notification FIFO in the working directory
        patch.delenv("LG_WD", raising=False)
        importlib.import_module("lgpio")  # starts lgpio's real notification thread
    return recorder


@pytest.fixture
def lg(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ModuleType]:
    """A fresh board: the recorder reset, gpiozero reading a Pi 4's revision."""
    recorder = load_recorder(tmp_path_factory.getbasetemp() / "lgpio-notify")
    import gpiozero.pins.local

    monkeypatch.setattr(gpiozero.pins.local, "get_pi_revision", lambda: PI_4_REVISION)
    monkeypatch.delenv("GPIOZERO_PIN_FACTORY", raising=False)
    recorder.reset()
    yield recorder
    from gpiozero import Device
    from gpiozero.pins.local import LocalPiFactory

    if Device.pin_factory is not None:  # gpiozero's own default, made before the fix
        Device.pin_factory.close()
        Device.pin_factory = None
    LocalPiFactory.pins.clear()
    LocalPiFactory._reservations.clear()
    recorder.reset()


@pytest.fixture(autouse=True, scope="session")
def _stop_lgpio_notify_thread() -> Iterator[None]:
    """lgpio's notification thread, if the recorder started one, ends with the session."""
    yield
    lgpio = sys.modules.get("lgpio")
    recorder = sys.modules.get("_lgpio")
    if lgpio is None or recorder is None:
        return
    if getattr(recorder, "__file__", "") != str(RECORDER_DIR / "_lgpio.py"):
        return
    lgpio._notify_thread.stop()
    recorder.wake_notify_readers()
    lgpio._notify_thread.join(timeout=5)
