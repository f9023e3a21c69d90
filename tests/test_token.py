"""Access tokens: minted ones verify and carry the device grants; bad static ones are refused."""

from __future__ import annotations

import base64
import datetime
import json
import logging
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from livekit import api

from edge.config import LiveKitConfig
from edge.errors import ClockNotSet, CredentialsError
from edge.token import TokenInfo, inspect_token, mint_token, token_for

API_KEY = "devkey"
API_SECRET = "edge-participant-test-secret-0123456789"
NOW = datetime.datetime(2026, 11, 23, 10, 0, tzinfo=datetime.UTC).timestamp()
JOIN = {"room": "workshop", "roomJoin": True}


def _jwt(claims: object) -> str:
    """An unsigned JWT carrying `claims`: inspect_token never looks at the signature."""

    def part(value: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl"


def _mint(**overrides: object) -> str:
    kwargs: dict[str, object] = {
        "api_key": API_KEY,
        "api_secret": API_SECRET,
        "room": "workshop",
        "identity": "edge-pi-01",
        "ttl_s": 600,
    }
    kwargs.update(overrides)
    return mint_token(**kwargs)  # type: ignore[arg-type]


def test_minted_token_inspects_back_with_the_device_grants() -> None:
    info = inspect_token(_mint(name="Workshop Pi"), now=time.time())
    assert (info.identity, info.room, info.name) == ("edge-pi-01", "workshop", "Workshop Pi")
    assert info.not_before is not None
    assert info.expires_at - info.not_before == 600
    assert dict(info.grants) == {
        "room": "workshop",
        "roomJoin": True,
        "canPublish": True,
        "canSubscribe": True,
        "canPublishData": True,
        "canPublishSources": ["camera", "microphone"],
        "canUpdateOwnMetadata": True,
    }


def test_observer_token_may_not_publish_media() -> None:
    grants = inspect_token(_mint(observer=True), now=time.time()).grants
    assert grants["canPublish"] is False
    assert "canPublishSources" not in grants
    assert grants["canSubscribe"] is True
    assert grants["canPublishData"] is True
    assert grants["canUpdateOwnMetadata"] is True


def test_minted_token_passes_livekit_verification() -> None:
    jwt = _mint(name="Workshop Pi", metadata='{"site": 3}', attributes={"location": "workshop"})
    claims = api.TokenVerifier(API_KEY, API_SECRET).verify(jwt)
    assert (claims.identity, claims.name, claims.metadata) == (
        "edge-pi-01",
        "Workshop Pi",
        '{"site": 3}',
    )
    assert claims.attributes == {"location": "workshop"}
    assert claims.video is not None
    assert (claims.video.room, claims.video.room_join) == ("workshop", True)
    assert claims.video.can_update_own_metadata is True
    assert claims.video.can_publish_sources == ["camera", "microphone"]


def test_minting_never_falls_back_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIVEKIT_API_KEY", "envkey")
    monkeypatch.setenv("LIVEKIT_API_SECRET", API_SECRET)
    with pytest.raises(CredentialsError, match=r"^token: cannot mint without api_key$"):
        _mint(api_key="")


def test_valid_static_token_is_described() -> None:
    info = inspect_token(_jwt({"sub": "pi", "exp": NOW + 60, "nbf": NOW, "video": JOIN}), now=NOW)
    assert info == TokenInfo(
        identity="pi",
        room="workshop",
        name="",
        expires_at=NOW + 60,
        not_before=NOW,
        grants=JOIN,
    )


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("garbage", "token: not a JWT (expected three dot-separated parts)"),
        ("a.b.c.d", "token: not a JWT (expected three dot-separated parts)"),
        ("a.%%%.c", "token: not a JWT (payload is not base64url JSON)"),
        (_jwt([1, 2]), "token: not a JWT (payload is not a JSON object)"),
        (
            _jwt({"sub": "pi", "exp": NOW, "video": JOIN}),
            "token: expired at 2026-11-23T10:00:00Z (now 2026-11-23T10:00:00Z)",
        ),
        (
            _jwt({"sub": "pi", "exp": NOW - 3600, "video": JOIN}),
            "token: expired at 2026-11-23T09:00:00Z (now 2026-11-23T10:00:00Z)",
        ),
        (
            _jwt({"sub": "pi", "exp": NOW + 7200, "nbf": NOW + 61, "video": JOIN}),
            "token: not valid before 2026-11-23T10:01:01Z"
            " (now 2026-11-23T10:00:00Z; is the clock right?)",
        ),
        (
            _jwt({"sub": "pi", "exp": NOW + 60, "video": {"room": "workshop"}}),
            "token: no room-join grant (video.roomJoin)",
        ),
        (_jwt({"sub": "pi", "exp": NOW + 60}), "token: no room-join grant (video.roomJoin)"),
        (
            _jwt({"sub": "pi", "video": JOIN}),
            "token: no expiry (exp); the server rejects such tokens",
        ),
        (
            _jwt({"sub": "pi", "exp": "soon", "video": JOIN}),
            "token: exp is not a number of seconds",
        ),
        (_jwt({"exp": NOW + 60, "video": JOIN}), "token: no participant identity (sub)"),
        (
            _jwt({"sub": "pi", "exp": NOW + 60, "video": {"roomJoin": True}}),
            "token: no room (video.room)",
        ),
    ],
)
def test_unusable_token_is_refused_with_one_line(token: str, message: str) -> None:
    with pytest.raises(CredentialsError) as excinfo:
        inspect_token(token, now=NOW)
    assert str(excinfo.value) == message


def test_not_before_within_the_leeway_is_accepted() -> None:
    token = _jwt({"sub": "pi", "exp": NOW + 7200, "nbf": NOW + 60, "video": JOIN})
    assert inspect_token(token, now=NOW).not_before == NOW + 60


def _config(**overrides: object) -> LiveKitConfig:
    fields: dict[str, object] = {"url": "ws://h", "room": "workshop", "identity": "edge-pi-01"}
    fields.update(overrides)
    return LiveKitConfig(**fields)  # type: ignore[arg-type]


def test_token_for_mints_from_the_api_key() -> None:
    config = _config(
        api_key=API_KEY, api_secret=API_SECRET, name="Workshop Pi", attributes={"a": "b"}
    )
    claims = api.TokenVerifier(API_KEY, API_SECRET).verify(token_for(config, now=time.time()))
    assert (claims.identity, claims.name, claims.attributes) == (
        "edge-pi-01",
        "Workshop Pi",
        {"a": "b"},
    )


def test_token_for_returns_a_usable_static_token(caplog: pytest.LogCaptureFixture) -> None:
    token = _jwt({"sub": "edge-pi-01", "exp": NOW + 60, "video": JOIN})
    assert token_for(_config(token=token), now=NOW) == token
    assert caplog.records == []


def test_token_for_refuses_an_expired_static_token() -> None:
    token = _jwt({"sub": "edge-pi-01", "exp": NOW - 1, "video": JOIN})
    with pytest.raises(CredentialsError, match=r"^token: expired at "):
        token_for(_config(token=token), now=NOW)


def test_token_for_warns_when_the_static_token_names_someone_else(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="edge.token")
    token = _jwt({"sub": "other", "exp": NOW + 60, "video": JOIN})
    assert token_for(_config(token=token), now=NOW) == token
    [record] = caplog.records
    assert "'other'" in record.getMessage()


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=10,
)
_CLAIMS = st.fixed_dictionaries(
    {},
    optional={
        "sub": _JSON,
        "exp": _JSON | st.floats(NOW - 100, NOW + 100),
        "nbf": _JSON | st.floats(NOW - 100, NOW + 100),
        "video": _JSON | st.just(JOIN),
    },
)


@settings(database=None, max_examples=300)
@given(token=st.text(max_size=40) | _CLAIMS.map(_jwt) | _JSON.map(_jwt))
def test_inspect_token_returns_info_or_raises_credentials_error(token: str) -> None:
    try:
        info = inspect_token(token, now=NOW)
    except CredentialsError as exc:
        message = str(exc)
    else:
        assert isinstance(info, TokenInfo)
        return
    assert message.startswith("token: ")
    assert "\n" not in message


@pytest.mark.parametrize("kind", ["minted", "static"])
def test_an_unset_clock_gives_clock_not_set_instead_of_a_useless_token(kind: str) -> None:
    config = _config() if kind == "minted" else _config(api_key="", api_secret="", token="x.y.z")
    boot_time = datetime.datetime(1970, 1, 1, 0, 0, 42, tzinfo=datetime.UTC).timestamp()
    with pytest.raises(ClockNotSet, match=r"system clock reads 1970-01-01T00:00:42Z.*NTP"):
        token_for(config, now=boot_time)
