"""The checks on every provisioning input, and the quoting of what reaches the files."""

from __future__ import annotations

import tomllib

import yaml
from hypothesis import given
from hypothesis import strategies as st

from edge.provision.edge_config import generated_config
from edge.provision.quoting import toml_string, yaml_string
from edge.provision.request import check_hostname, check_user
from edge.provision.ssh_keys import parse_public_keys
from edge.provision.wifi import wifi_network, wpa_psk
from tests.provision.conftest import public_key


def test_wpa_key_matches_the_ieee_802_11i_test_vector() -> None:
    # IEEE 802.11i-2004, H.4.3: passphrase "password", SSID "IEEE".
    assert wpa_psk("password", "IEEE") == (
        "f42c6fc52df0ebef9ebb4b90b38a5f902e83fe1b135a70e23aed762e9710a12e"
    )


def test_a_64_hex_passphrase_is_the_key_itself() -> None:
    issues: list[str] = []
    key = "AB" * 32
    wifi = wifi_network(ssid="lab", passphrase=key, country="de", hidden=False, issues=issues)
    assert issues == []
    assert wifi is not None
    assert (wifi.psk, wifi.country) == (key.lower(), "DE")
    assert "psk" not in repr(wifi)


def test_wifi_problems_are_all_reported_without_the_passphrase() -> None:
    issues: list[str] = []
    wifi = wifi_network(
        ssid="a\tb", passphrase="sesame7", country="United Kingdom", hidden=False, issues=issues
    )
    assert wifi is None
    assert issues == [
        "wifi ssid: must contain only printable characters",
        "wifi country: expected an ISO 3166 two-letter code such as GB or DE, got 'United Kingdom'",
        "wifi passphrase: expected 8 to 63 printable ASCII characters or 64 hex digits,"
        " got 7 characters",
    ]


def test_ssh_keys_are_normalised_and_comments_skipped() -> None:
    issues: list[str] = []
    text = f"# laptop\n\n{public_key('a b  c')}\n  {public_key('x', seed=9)}  \n"
    keys = parse_public_keys(text, source="keys.pub", issues=issues)
    assert issues == []
    assert keys == [public_key("a b c"), public_key("x", seed=9)]


def test_bad_ssh_key_lines_are_named_by_line() -> None:
    issues: list[str] = []
    good = public_key()
    damaged = good.replace("ssh-ed25519 ", "ssh-rsa ", 1)
    text = "\n".join([good, damaged, "ssh-ed25519 not*base64", f'command="ls" {good}', "hello"])
    parse_public_keys(text, source="k.pub", issues=issues)
    assert issues == [
        "k.pub:2: ssh-rsa key data is damaged (it encodes 'ssh-ed25519')",
        "k.pub:3: ssh-ed25519 key data is not valid base64",
        "k.pub:4: authorized_keys options are not supported; give the bare key line",
        "k.pub:5: expected a key type such as ssh-ed25519 or ssh-rsa, got 'hello'",
    ]


def test_an_empty_key_file_is_an_error() -> None:
    issues: list[str] = []
    assert parse_public_keys("# nothing\n", source="k.pub", issues=issues) == []
    assert issues == ["k.pub: no SSH public key in it"]


def test_host_and_user_names() -> None:
    issues: list[str] = []
    for good in ("edge-pi-07", "PI4", "a"):
        check_hostname(good, issues)
    for good in ("maker", "ops_2", "a-b"):
        check_user(good, issues)
    assert issues == []
    for bad in ("pi_07", "pi.local", "x" * 64, "1234", ""):
        check_hostname(bad, issues)
    for bad in ("2fast", "edge", "Maker", "x" * 33):
        check_user(bad, issues)
    assert len(issues) == 9


def test_a_generated_config_takes_credentials_from_the_environment_only() -> None:
    issues: list[str] = []
    env = {"LIVEKIT_API_KEY": "key", "LIVEKIT_API_SECRET": 'se"cret\\'}
    config = generated_config(
        url="wss://lk.example.org", room="hall", identity="pi-1", name="Hall Pi", env=env,
        issues=issues,
    )  # fmt: skip
    assert issues == []
    assert config is not None
    data = tomllib.loads(config.content.decode())
    assert data == {
        "livekit": {
            "url": "wss://lk.example.org", "room": "hall", "identity": "pi-1",
            "name": "Hall Pi", "api_key": "key", "api_secret": 'se"cret\\',
        }
    }  # fmt: skip
    assert "cret" not in repr(config)


def test_a_generated_config_without_credentials_says_where_to_put_them() -> None:
    issues: list[str] = []
    config = generated_config(
        url="wss://lk.example.org", room="r", identity="i", name="", env={}, issues=issues
    )
    assert config is None
    assert issues == [
        "livekit credentials: set LIVEKIT_API_KEY and LIVEKIT_API_SECRET (or LIVEKIT_TOKEN)"
        " in the environment, or give --config with a file that holds them"
    ]


@given(st.text())
def test_any_text_survives_toml_quoting(value: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return  # lone surrogates cannot be in a file at all
    assert tomllib.loads(f"k = {toml_string(value)}")["k"] == value


@given(st.text(alphabet=st.characters(codec="utf-8")))
def test_any_text_survives_yaml_quoting(value: str) -> None:
    # PyYAML is what cloud-init reads user-data and network-config with.
    assert yaml.safe_load(f"k: {yaml_string(value)}") == {"k": value}
    assert yaml.safe_load(f"{yaml_string(value)}: 1") == {value: 1}
