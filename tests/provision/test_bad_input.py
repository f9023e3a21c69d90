"""Bad input is refused with a precise message before a single byte of the image changes."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tests.provision.conftest import API_SECRET, PASSPHRASE, Provision
from tests.provision.images import FLAVOURS, make_image, mbr, needs_fat_tools

pytestmark = needs_fat_tools


def _digest(path: Path) -> bytes:
    return hashlib.sha256(path.read_bytes()).digest()


@pytest.fixture
def image(tmp_path: Path) -> Path:
    path = tmp_path / "bookworm.img"
    make_image(path, FLAVOURS["bookworm"])
    return path


BAD_PASSPHRASE = "wifi passphrase: expected 8 to 63 printable ASCII characters or 64 hex digits"
BAD_COUNTRY = "wifi country: expected an ISO 3166 two-letter code such as GB or DE, got 'Britain'"


@pytest.mark.parametrize(
    ("extra", "env_passphrase", "message"),
    [
        pytest.param((), "short", f"{BAD_PASSPHRASE}, got 5 characters", id="too-short"),
        pytest.param((), "x" * 64, f"{BAD_PASSPHRASE}, got 64 characters", id="64-non-hex"),
        pytest.param((), "pässwörter", "got characters outside printable ASCII", id="non-ascii"),
        pytest.param(("--wifi-country", "Britain"), PASSPHRASE, BAD_COUNTRY, id="country"),
        pytest.param(
            ("--wifi-ssid", "x" * 33), PASSPHRASE, "wifi ssid: expected 1 to 32 bytes", id="ssid"
        ),
        pytest.param(("--hostname", "pi-"), PASSPHRASE, "hostname: expected 1 to 63", id="host"),
        pytest.param(("--user", "root"), PASSPHRASE, "user: 'root' is a system account", id="root"),
        pytest.param(("--user", "Maker"), PASSPHRASE, "user: expected up to 32", id="user-case"),
    ],
)
def test_invalid_settings_leave_the_image_untouched(
    image: Path,
    provision: Provision,
    monkeypatch: pytest.MonkeyPatch,
    extra: tuple[str, ...],
    env_passphrase: str,
    message: str,
) -> None:
    monkeypatch.setenv("EDGE_WIFI_PASSPHRASE", env_passphrase)
    before = _digest(image)

    result = provision(image, *extra)

    assert result.status == 1
    assert message in result.err
    assert env_passphrase not in result.err or env_passphrase == PASSPHRASE
    assert _digest(image) == before


def test_an_invalid_edge_config_is_named_field_by_field(
    image: Path, provision: Provision, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[livekit]\nurl = "ftp://livekit.example.org"\nroom = "r"\n'
        f'identity = "i"\napi_key = "k"\napi_secret = "{API_SECRET}"\n'
    )
    before = _digest(image)

    result = provision(image, "--config", str(bad), config=False)

    assert result.status == 1
    assert f"{bad}: livekit.url: expected a ws://, wss://, http:// or https:// URL" in result.err
    assert API_SECRET not in result.err
    assert _digest(image) == before


def test_credentials_from_the_workstation_environment_do_not_count(
    image: Path, provision: Provision, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The board has no LIVEKIT_* variables: a file relying on them would never join.
    monkeypatch.setenv("LIVEKIT_API_KEY", "from-env")
    monkeypatch.setenv("LIVEKIT_API_SECRET", "from-env-secret-0123456789abcdef")
    bare = tmp_path / "bare.toml"
    bare.write_text('[livekit]\nurl = "wss://lk.example.org"\nroom = "r"\nidentity = "i"\n')
    before = _digest(image)

    result = provision(image, "--config", str(bare), config=False)

    assert result.status == 1
    assert "livekit: give token, api_key + api_secret, or token_url" in result.err
    assert _digest(image) == before


def test_every_problem_is_reported_at_once(
    image: Path, provision: Provision, tmp_path: Path
) -> None:
    private = tmp_path / "id_ed25519"
    private.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n")

    result = provision(image, "--hostname", "pi_1", "--ssh-key", str(private))

    assert result.status == 1
    assert "hostname:" in result.err
    assert f"{private}: this is a private key; give the public key (the .pub file)" in result.err


def test_a_fat_image_that_is_not_a_boot_partition_is_refused(
    tmp_path: Path, provision: Provision
) -> None:
    usb_stick = tmp_path / "stick.img"
    make_image(usb_stick, FLAVOURS["not-boot"])
    before = _digest(usb_stick)

    result = provision(usb_stick)

    assert result.status == 1
    assert "not a Raspberry Pi boot partition (no config.txt, cmdline.txt" in result.err
    assert _digest(usb_stick) == before


def test_an_image_without_a_fat_partition_is_refused(tmp_path: Path, provision: Provision) -> None:
    image = tmp_path / "ext4-only.img"
    image.write_bytes(mbr([(0x83, 2048, 4096)]) + bytes(6144 * 512))
    before = _digest(image)

    result = provision(image)

    assert result.status == 1
    assert "no FAT partition in the partition table (types: 0x83)" in result.err
    assert _digest(image) == before


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\xfd7zXZ\x00" + bytes(100), "a xz-compressed file; decompress the image first"),
        (bytes(4096), "no MBR partition table"),
        (mbr([(0xEE, 1, 100)]) + bytes(4096), "a GPT disk image"),
        (mbr([(0x0C, 8192, 81920)]) + bytes(4096), "past the end of the"),
        (mbr([(0x0C, 1, 7)]) + bytes(4096), "partition 1 is marked FAT but holds no FAT"),
    ],
    ids=["xz", "no-mbr", "gpt", "truncated", "empty-partition"],
)  # fmt: skip
def test_unsupported_images_are_refused(
    tmp_path: Path, provision: Provision, content: bytes, message: str
) -> None:
    image = tmp_path / "odd.img"
    image.write_bytes(content)

    result = provision(image)

    assert result.status == 1
    assert message in result.err
    assert image.read_bytes() == content


def test_custom_toml_on_an_image_that_already_booted_is_refused(
    tmp_path: Path, provision: Provision
) -> None:
    image = tmp_path / "trixie.img"
    make_image(image, FLAVOURS["trixie"])
    before = _digest(image)

    result = provision(image, "--format", "custom-toml")

    assert result.status == 1
    assert "custom.toml is read only on a Bookworm image's first boot" in result.err
    assert _digest(image) == before
