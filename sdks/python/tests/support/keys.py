"""Keys in the service's format, made up for tests (never a key the service issued)."""

from __future__ import annotations

import base64
import secrets
import string


def make_key(slug: str = "acme") -> str:
    """A well-formed compound key ``vp_cust_{slug}.{component}.{secret}``."""
    component = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(32))
    secret = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
    return f"vp_cust_{slug}.{component}.{secret}"


def parts(key: str) -> list[str]:
    """What must never show up in a log line: the key, its component and its secret."""
    _, component, secret = key.split(".")
    return [key, component, secret]
