"""The compound key: split into its two headers, and refused without ever being repeated."""

from __future__ import annotations

import pytest

from tests.support.keys import make_key, parts
from veriproof_sdk import InvalidApiKeyError
from veriproof_sdk._api_key import parse_api_key


def test_splits_the_compound_key_into_the_secret_and_component_headers() -> None:
    key = make_key("acme-eu")
    _, component, secret = key.split(".")
    parsed = parse_api_key(key, "api_key")
    assert parsed.headers == {"X-API-Key": secret, "x-functions-key": component}
    assert parsed.name == "vp_cust_acme-eu"


def test_accepts_surrounding_whitespace_from_a_pasted_value() -> None:
    key = make_key()
    assert parse_api_key(f"  {key}\n", "VERIPROOF_API_KEY").headers["X-API-Key"] == key.split(".")[2]


def test_a_bare_secret_goes_in_x_api_key_alone() -> None:
    secret = make_key().split(".")[2]
    parsed = parse_api_key(secret, "api_key")
    assert parsed.headers == {"X-API-Key": secret}


def test_two_keys_have_different_fingerprints_and_repr_shows_no_key_material() -> None:
    first, second = make_key(), make_key()
    a, b = parse_api_key(first, "api_key"), parse_api_key(second, "api_key")
    assert a.fingerprint != b.fingerprint
    assert a.fingerprint == parse_api_key(first, "api_key").fingerprint
    for part in parts(first):
        assert part not in repr(a)


def _typo(secret: str) -> str:
    at = len(secret) - 10
    return secret[:at] + ("B" if secret[at] == "A" else "A") + secret[at + 1 :]


def _malformed() -> list[object]:
    key = make_key()
    slug, component, secret = key.split(".")
    return [
        "",
        "not-a-key",
        key[:-1],  # truncated
        key + "A",
        f"{slug}.{component}",  # no secret
        f"vp_cust_ACME.{component}.{secret}",  # upper-case slug
        f"vp_cust_a.{component}.{secret}",  # slug too short
        f"vp_cust_{'a' * 33}.{component}.{secret}",  # slug too long
        f"vp_cust_acme--eu.{component}.{secret}",
        f"sk_live_acme.{component}.{secret}",  # another service's prefix
        f"{slug}.{component[:-1]}.{secret}",
        f"{slug}.{component}.{secret[:-1]}B",  # not canonical base64url
        f"{slug}.{component}.{_typo(secret)}",  # one character wrong: the checksum fails
        _typo(secret),  # the same, as a bare secret
        "s" * 42 + "A",  # the right shape, made up
        f'"{key}"',  # pasted with quotes
        key * 3,  # over the length bound
        None,
        42,
        key.encode(),
    ]


@pytest.mark.parametrize("value", _malformed())
def test_refuses_what_is_not_a_key_naming_the_source_but_never_the_value(value: object) -> None:
    with pytest.raises(InvalidApiKeyError) as raised:
        parse_api_key(value, "VERIPROOF_API_KEY")
    message = str(raised.value)
    assert "VERIPROOF_API_KEY" in message
    assert isinstance(raised.value, ValueError)
    if isinstance(value, str) and value:
        for segment in value.strip('"').split("."):
            if len(segment) > 8:
                assert segment not in message


def test_a_random_secret_of_the_right_shape_almost_never_passes_the_checksum() -> None:
    import base64
    import secrets

    made_up = [base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode() for _ in range(2000)]
    refused = 0
    for value in made_up:
        try:
            parse_api_key(value, "api_key")
        except InvalidApiKeyError:
            refused += 1
    assert refused == len(made_up)


def test_many_random_keys_round_trip() -> None:
    for _ in range(500):
        key = make_key()
        assert parse_api_key(key, "api_key").headers["X-API-Key"] == key.split(".")[2]
