"""Keys in the service's format, made up for tests (never a key the service issued)."""

from __future__ import annotations

import base64
import secrets
import string
import zlib


def make_key(slug: str = "acme") -> str:
    """A well-formed compound key ``vp_cust_{slug}.{component}.{secret}``."""
    component = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(32))
    return f"vp_cust_{slug}.{component}.{make_secret()}"


def make_secret() -> str:
    """A secret segment with its checksum: 28 random bytes, then CRC-32 of ``vp_cust_`` and them."""
    random = secrets.token_bytes(28)
    checksum = zlib.crc32(random, zlib.crc32(b"vp_cust_")).to_bytes(4, "big")
    return base64.urlsafe_b64encode(random + checksum).rstrip(b"=").decode()


def parts(key: str) -> list[str]:
    """What must never show up in a log line: the key, its component and its secret."""
    _, component, secret = key.split(".")
    return [key, component, secret]
