"""WifiNetwork: the network a board joins on first boot, with its pre-computed WPA key."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

MAX_SSID_BYTES = 32
MIN_PASSPHRASE = 8
MAX_PASSPHRASE = 63
PSK_HEX_DIGITS = 64
WPA_PBKDF2_ROUNDS = 4096
WPA_KEY_BYTES = 32

_HEX_PSK = re.compile(r"[0-9A-Fa-f]{64}")
_COUNTRY = re.compile(r"[A-Z]{2}")


@dataclass(frozen=True, slots=True, kw_only=True)
class WifiNetwork:
    """A WPA2-Personal (or open) network and the regulatory domain to use it in."""

    ssid: str
    """Network name, 1 to 32 bytes of UTF-8 without control characters."""
    country: str
    """ISO 3166 alpha-2 code, upper case; Raspberry Pi OS keeps Wi-Fi blocked until it is set."""
    psk: str = field(default="", repr=False)
    """The 256-bit WPA key as 64 lower-case hex digits; empty for an open network. The
    passphrase itself is never written anywhere."""
    hidden: bool = False
    """The access point does not broadcast its SSID, so the board must probe for it."""

    @property
    def ssid_hex(self) -> str:
        """The SSID's bytes in hex, the one spelling every wpa_supplicant accepts."""
        return self.ssid.encode("utf-8").hex()


def wpa_psk(passphrase: str, ssid: str) -> str:
    """The WPA key for a passphrase, as `wpa_passphrase` computes it (IEEE 802.11i, H.4)."""
    key = hashlib.pbkdf2_hmac(
        "sha1",
        passphrase.encode("ascii"),
        ssid.encode("utf-8"),
        WPA_PBKDF2_ROUNDS,
        WPA_KEY_BYTES,
    )
    return key.hex()


def wifi_network(
    *,
    ssid: str,
    passphrase: str | None,
    country: str,
    hidden: bool,
    issues: list[str],
) -> WifiNetwork | None:
    """Validate the Wi-Fi settings; problems go to `issues` and never quote the passphrase.

    `passphrase` None means an open network. A 64-hex-digit passphrase is taken as the key
    itself, as wpa_supplicant and NetworkManager do.
    """
    before = len(issues)
    size = len(ssid.encode("utf-8", "replace"))
    if not 1 <= size <= MAX_SSID_BYTES:
        issues.append(f"wifi ssid: expected 1 to {MAX_SSID_BYTES} bytes of UTF-8, got {size}")
    elif not ssid.isprintable():
        issues.append("wifi ssid: must contain only printable characters")
    code = country.strip().upper()
    if not _COUNTRY.fullmatch(code):
        issues.append(
            f"wifi country: expected an ISO 3166 two-letter code such as GB or DE, got {country!r}"
        )
    psk = ""
    if passphrase is not None:
        psk = _key(passphrase, ssid, issues)
    if len(issues) > before:
        return None
    return WifiNetwork(ssid=ssid, country=code, psk=psk, hidden=hidden)


def _key(passphrase: str, ssid: str, issues: list[str]) -> str:
    """The hex key for a passphrase or a raw 64-hex key; an issue when it is neither."""
    if _HEX_PSK.fullmatch(passphrase):
        return passphrase.lower()
    printable = all(" " <= ch <= "~" for ch in passphrase)
    if MIN_PASSPHRASE <= len(passphrase) <= MAX_PASSPHRASE and printable:
        if ssid and len(ssid.encode("utf-8", "replace")) <= MAX_SSID_BYTES:
            return wpa_psk(passphrase, ssid)
        return ""  # the SSID is already reported
    expected = (
        f"expected {MIN_PASSPHRASE} to {MAX_PASSPHRASE} printable ASCII characters"
        f" or {PSK_HEX_DIGITS} hex digits"
    )
    got = f"{len(passphrase)} characters" if printable else "characters outside printable ASCII"
    issues.append(f"wifi passphrase: {expected}, got {got}")
    return ""
