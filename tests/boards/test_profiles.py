"""Board profiles: every shipped one loads, and real device-tree model strings find theirs."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

import pytest

from edge.board import (
    GENERIC,
    detect_board,
    known_profiles,
    load_profile,
    model_family,
    profile_for_model,
)
from edge.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
PROFILES = (
    "cm3", "cm4", "cm4s", "generic", "pi-3", "pi-4", "pi-5", "pi-zero-2-w", "pi-zero-w",
)  # fmt: skip

# What /proc/device-tree/model holds on every Raspberry Pi model (NUL-terminated on the real
# thing): the strings the firmware (start*.elf) writes, as listed in Raspberry Pi's revision-code
# table, with the revisions that were sold. → (profile, whether the SoC encodes H.264).
REAL_MODELS: dict[str, tuple[str, bool]] = {
    # BCM2835 26-pin Pi 1 boards, BCM2835 40-pin Pi 1 boards, the CM1 and the Pi 2 (BCM2836/7):
    # no profile, the generic host (with a warning).
    "Raspberry Pi Model B Rev 1": (GENERIC, False),
    "Raspberry Pi Model B Rev 2": (GENERIC, False),
    "Raspberry Pi Model A Rev 2": (GENERIC, False),
    "Raspberry Pi Model B Plus Rev 1.2": (GENERIC, False),
    "Raspberry Pi Model A Plus Rev 1.1": (GENERIC, False),
    "Raspberry Pi Compute Module Rev 1.0": (GENERIC, False),
    "Raspberry Pi 2 Model B Rev 1.1": (GENERIC, False),
    "Raspberry Pi 2 Model B Rev 1.2": (GENERIC, False),
    "Raspberry Pi Zero Rev 1.2": ("pi-zero-w", True),
    "Raspberry Pi Zero Rev 1.3": ("pi-zero-w", True),
    "Raspberry Pi Zero W Rev 1.1": ("pi-zero-w", True),
    "Raspberry Pi Zero 2 W Rev 1.0": ("pi-zero-2-w", True),
    "Raspberry Pi 3 Model B Rev 1.2": ("pi-3", True),
    "Raspberry Pi 3 Model B Plus Rev 1.3": ("pi-3", True),
    "Raspberry Pi 3 Model A Plus Rev 1.0": ("pi-3", True),
    "Raspberry Pi Compute Module 3 Rev 1.0": ("cm3", True),
    "Raspberry Pi Compute Module 3 Plus Rev 1.0": ("cm3", True),
    "Raspberry Pi 4 Model B Rev 1.1": ("pi-4", True),
    "Raspberry Pi 4 Model B Rev 1.2": ("pi-4", True),
    "Raspberry Pi 4 Model B Rev 1.4": ("pi-4", True),
    "Raspberry Pi 4 Model B Rev 1.5": ("pi-4", True),
    "Raspberry Pi 400 Rev 1.0": ("pi-4", True),
    "Raspberry Pi 400 Rev 1.1": ("pi-4", True),
    "Raspberry Pi Compute Module 4 Rev 1.0": ("cm4", True),
    "Raspberry Pi Compute Module 4 Rev 1.1": ("cm4", True),
    "Raspberry Pi Compute Module 4S Rev 1.0": ("cm4s", True),
    "Raspberry Pi 5 Model B Rev 1.0": ("pi-5", False),
    "Raspberry Pi 5 Model B Rev 1.1": ("pi-5", False),
    "Raspberry Pi 500 Rev 1.0": ("pi-5", False),
    "Raspberry Pi Compute Module 5 Rev 1.0": ("pi-5", False),
    "Raspberry Pi Compute Module 5 Lite Rev 1.0": ("pi-5", False),
}
# Strings that share a prefix with a profiled board but are another board, or no board at all.
NEAR_MISSES = (
    "Raspberry Pi 2 Model B Rev 1.1",
    "Raspberry Pi Model B Plus Rev 1.2",
    "Raspberry Pi Compute Module 5 Max Rev 1.0",
    "Raspberry Pi Compute Module 4SE Rev 1.0",
    "Raspberry Pi 50 Rev 1.0",
    "Raspberry Pi",
)


def test_every_shipped_profile_loads_under_its_file_name() -> None:
    assert known_profiles() == PROFILES
    for name in PROFILES:
        profile = load_profile(name)
        assert profile.name == name
        assert profile.description


@pytest.mark.parametrize(("model", "expected"), REAL_MODELS.items())
def test_real_model_strings_map_to_their_profile(
    tmp_path: Path, model: str, expected: tuple[str, bool]
) -> None:
    path = tmp_path / "model"
    path.write_bytes(model.encode() + b"\0")  # as the kernel writes it
    profile = detect_board(path)
    assert (profile.name, profile.hardware_encoder) == expected


@pytest.mark.parametrize("model", NEAR_MISSES)
def test_near_misses_get_no_profile_and_detection_falls_back_to_generic(
    tmp_path: Path, model: str, caplog: pytest.LogCaptureFixture
) -> None:
    assert profile_for_model(model) is None
    path = tmp_path / "model"
    path.write_bytes(model.encode() + b"\0")
    assert detect_board(path).name == GENERIC
    assert f"no board profile for {model!r}" in caplog.text


def test_no_device_tree_means_the_generic_host(tmp_path: Path) -> None:
    assert detect_board(tmp_path / "absent").name == GENERIC


def test_model_family_strips_revision_and_nul() -> None:
    assert model_family("Raspberry Pi 4 Model B Rev 1.4\0") == "Raspberry Pi 4 Model B"
    assert model_family("Some Board") == "Some Board"


def test_unknown_profile_name_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError) as err:
        load_profile("pi-6")
    assert str(err.value) == f"unknown board 'pi-6' (known boards: {', '.join(PROFILES)})"


def test_hardware_facts_differ_where_the_boards_do() -> None:
    pi5, pi4, zero_w, zero2 = map(load_profile, ("pi-5", "pi-4", "pi-zero-w", "pi-zero-2-w"))
    assert (pi5.encoder, pi5.hardware_encoder) == ("software", False)
    with_encoder = [n for n in PROFILES if load_profile(n).hardware_encoder]
    assert with_encoder == ["cm3", "cm4", "cm4s", "pi-3", "pi-4", "pi-zero-2-w", "pi-zero-w"]
    assert pi5.gpio_chip == "pinctrl-rp1"
    assert pi4.gpio_chip == load_profile("cm4").gpio_chip == "pinctrl-bcm2711"
    assert zero_w.gpio_chip == zero2.gpio_chip == "pinctrl-bcm2835"
    assert (zero_w.arch, zero_w.debian_arches) == ("armv6", ("armhf",))
    for name in PROFILES:
        profile = load_profile(name)
        assert set(profile.pwm_pins) <= set(profile.pins)
        if name != GENERIC:
            assert profile.pwm_pins[:4] == (12, 13, 18, 19)
            assert sorted(profile.reserved) == [0, 1]
    # The SODIMM modules bring out bank 1 too.
    assert load_profile("cm4s").pins == load_profile("cm3").pins == tuple(range(46))


def test_camera_defaults_are_modest_on_the_zeros() -> None:
    def pixel_rate(name: str) -> float:
        camera = load_profile(name).camera
        return camera.width * camera.height * camera.framerate

    assert pixel_rate("pi-zero-w") < pixel_rate("pi-zero-2-w") < pixel_rate("pi-4")
    assert load_profile("pi-zero-w").camera.bitrate < load_profile("pi-4").camera.bitrate
    assert load_profile("pi-4").audio.sample_rate == 48000


def test_profiles_ship_in_the_wheel_and_boards_links_to_them() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    globs = pyproject["tool"]["setuptools"]["package-data"]["edge"]
    files = [p.relative_to(REPO / "edge").as_posix() for p in (REPO / "edge/boards").iterdir()]
    assert files
    assert all(any(fnmatch.fnmatch(f, g) for g in globs) for f in files)
    assert (REPO / "boards").resolve() == (REPO / "edge/boards").resolve()
