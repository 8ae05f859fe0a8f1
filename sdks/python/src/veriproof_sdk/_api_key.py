"""The compound key ``vp_cust_{slug}.{component}.{secret}`` and where its parts go.

The secret travels in ``X-API-Key``, the component in ``x-functions-key``; nothing else ever sees
them. Errors name where the key came from, never the key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import zlib
from dataclasses import dataclass, field
from typing import Dict

# Slug: 2 to 32 lower-case letters or digits with single inner hyphens. Component: 32 characters
# [A-Za-z0-9]. Secret: 32 bytes in canonical base64url without padding (43 characters; the last
# one carries 4 bits, so it is one of 16 characters), the last 4 of them a checksum.
_SLUG = r"[a-z0-9]+(?:-[a-z0-9]+)*"
_SECRET = r"[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]"
_COMPOUND = re.compile(rf"vp_cust_({_SLUG})\.([A-Za-z0-9]{{32}})\.({_SECRET})")
_BARE_SECRET = re.compile(_SECRET)
# Longer than any valid key: refused before a pattern runs.
_MAX_KEY_LENGTH = 160
# The secret's last 4 bytes are a CRC-32 of "vp_cust_" and its 28 random bytes (big endian): a
# mistyped or made-up key fails at configuration rather than at the first export.
_PREFIX_CRC = zlib.crc32(b"vp_cust_")


def _has_valid_checksum(secret: str) -> bool:
    try:
        raw = base64.urlsafe_b64decode(secret + "=")
    except (binascii.Error, ValueError):
        return False
    return len(raw) == 32 and int.from_bytes(raw[28:], "big") == zlib.crc32(raw[:28], _PREFIX_CRC)


class InvalidApiKeyError(ValueError):
    """A configured or provided value is not a Veriproof key. The message never contains it."""

    def __init__(self, source: str) -> None:
        super().__init__(
            f"The Veriproof API key from {source} is not a Veriproof key "
            "(expected vp_cust_{customer}.{component}.{secret}). The key itself is not shown."
        )
        self.source = source


@dataclass(frozen=True)
class ApiKey:
    """A parsed key: the headers it is sent in, and the name logs may use for it."""

    name: str
    """``vp_cust_{slug}``, or "a bare key secret": the only way a log line may name the key."""
    headers: Dict[str, str] = field(repr=False)
    fingerprint: str = field(repr=False)
    """SHA-256 of the headers: tells two keys apart without keeping a key as a dictionary key."""
    federated: bool = False
    """An ingest token exchanged for an identity token (``Authorization: Bearer``), not a key."""


def parse_api_key(value: object, source: str) -> ApiKey:
    """Parses a compound key (or a bare 43-character secret) from ``source``.

    Raises :class:`InvalidApiKeyError` (a ``ValueError``) naming ``source`` when ``value`` is not
    a Veriproof key; the message never contains the value.
    """
    if not isinstance(value, str):
        raise InvalidApiKeyError(source)
    key = value.strip()
    if len(key) > _MAX_KEY_LENGTH:
        raise InvalidApiKeyError(source)
    compound = _COMPOUND.fullmatch(key)
    if compound is not None:
        slug, component, secret = compound.group(1), compound.group(2), compound.group(3)
        if not 2 <= len(slug) <= 32 or not _has_valid_checksum(secret):
            raise InvalidApiKeyError(source)
        return _key(f"vp_cust_{slug}", {"X-API-Key": secret, "x-functions-key": component})
    if _BARE_SECRET.fullmatch(key) is not None and _has_valid_checksum(key):
        return _key("a bare key secret", {"X-API-Key": key})
    raise InvalidApiKeyError(source)


def bearer_token(access_token: str, customer: str) -> ApiKey:
    """An ingest token from the token exchange, sent as ``Authorization: Bearer`` (and nothing in
    ``x-functions-key``); logs name it by its customer."""
    return _key(f"vp_cust_{customer}", {"Authorization": f"Bearer {access_token}"}, federated=True)


def _key(name: str, headers: Dict[str, str], *, federated: bool = False) -> ApiKey:
    digest = hashlib.sha256()
    for header, part in sorted(headers.items()):
        digest.update(f"{header}\0{part}\0".encode())
    return ApiKey(name=name, headers=headers, fingerprint=digest.hexdigest(), federated=federated)
