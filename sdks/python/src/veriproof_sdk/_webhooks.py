"""Verifying the webhooks Veriproof sends.

They follow the Standard Webhooks scheme (https://www.standardwebhooks.com): the headers
``webhook-id``, ``webhook-timestamp`` (seconds) and ``webhook-signature: v1,<base64 HMAC-SHA256 of
"{webhook-id}.{webhook-timestamp}.{body}">``, keyed with the bytes of the endpoint's
``whsec_<base64>`` secret. While a secret is being rotated the header carries one signature per live
secret, space-separated; one matching is enough. The secret is never put into an error's message.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import re
import time
from datetime import datetime
from typing import Any, Dict, Iterable, List, Literal, Optional, Protocol, Tuple, TypedDict, Union, cast

_PREFIX = "whsec_"
_VERSION = "v1"
_BASE64 = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2,3})?={0,2}")
_TIMESTAMP = re.compile(r"[0-9]{1,15}")

WebhookVerificationReason = Literal[
    "missing_headers",
    "invalid_timestamp",
    "timestamp_too_old",
    "timestamp_too_new",
    "no_matching_signature",
    "invalid_body",
]


class WebhookCustomer(TypedDict):
    slug: str


class WebhookEvent(TypedDict):
    """A webhook as Veriproof sends it (the verified body, parsed)."""

    id: str
    """``evt_...``, the same as the ``webhook-id`` header and across retries: the idempotency key."""
    type: str
    """``key.issued``, ``key.revoked``, ``key.exposed``, ``key.expiring``, ..., ``webhook.test``."""
    createdAt: str
    """When the event happened (ISO 8601), not when this attempt was sent."""
    customer: WebhookCustomer
    data: Dict[str, Any]
    """The key's id, label, application and display prefix, and what the event adds (never a secret)."""


class WebhookVerificationError(Exception):
    """The request is not a webhook Veriproof signed with this secret, or not a recent one.

    Answer it with 400 or 401. ``reason`` says why (``missing_headers``, ``invalid_timestamp``,
    ``timestamp_too_old``, ``timestamp_too_new``, ``no_matching_signature``, ``invalid_body``).
    """

    def __init__(self, reason: WebhookVerificationReason, message: str) -> None:
        super().__init__(message)
        self.reason: WebhookVerificationReason = reason


class HeaderSource(Protocol):
    """Anything with ``items()``: a dict (names in any case), Flask's ``request.headers``, Starlette's,
    ``http.server``'s ``self.headers``, aiohttp's."""

    def items(self) -> Iterable[Tuple[str, Any]]: ...


Body = Union[bytes, bytearray, memoryview, str]


def verify_webhook(
    body: Body,
    headers: HeaderSource,
    secret: str,
    tolerance: float = 300,
    *,
    now: Union[datetime, float, None] = None,
) -> WebhookEvent:
    """Verify a webhook Veriproof sent and return its event, parsed.

    ``body`` must be the request's raw bytes (or their text) exactly as they arrived: JSON that was
    parsed and dumped again does not verify. ``secret`` is the endpoint's signing secret
    (``whsec_...``; the prefix may be left off). The signature is compared in constant time, and the
    ``webhook-timestamp`` must be within ``tolerance`` seconds of ``now`` either way (replays of an
    old request fail). ``now`` is a timezone-aware ``datetime`` or seconds since the epoch
    (``time.time()``, the default).

    Raises :class:`WebhookVerificationError` for a request that does not verify, and ``ValueError``
    or ``TypeError`` for a secret that is not a webhook secret, or a body that is not raw.
    """
    key = _secret_key(secret)
    raw = _raw_body(body)
    if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) or not tolerance >= 0:
        raise ValueError("tolerance is a number of seconds, 0 or more.")
    now_seconds = _now_seconds(now)

    msg_id = _header(headers, "webhook-id")
    timestamp = _header(headers, "webhook-timestamp")
    signatures = _header(headers, "webhook-signature")
    missing = [
        name
        for name, value in (
            ("webhook-id", msg_id),
            ("webhook-timestamp", timestamp),
            ("webhook-signature", signatures),
        )
        if not value
    ]
    if msg_id is None or timestamp is None or signatures is None or missing:
        raise WebhookVerificationError("missing_headers", f"The request has no {', '.join(missing)} header.")
    if not _TIMESTAMP.fullmatch(timestamp):
        raise WebhookVerificationError(
            "invalid_timestamp", "The webhook-timestamp header is not whole seconds since the epoch."
        )
    age = math.floor(now_seconds) - int(timestamp)
    if age > tolerance:
        raise WebhookVerificationError(
            "timestamp_too_old", f"The webhook was signed {age} s ago, more than the tolerance of {tolerance} s."
        )
    if -age > tolerance:
        raise WebhookVerificationError(
            "timestamp_too_new",
            f"The webhook's timestamp is {-age} s ahead of this machine's clock, "
            f"more than the tolerance of {tolerance} s.",
        )

    signed = f"{msg_id}.{timestamp}.".encode() + raw
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest())
    if not any(
        version == _VERSION and hmac.compare_digest(value.encode("utf-8"), expected)
        for version, _, value in (candidate.partition(",") for candidate in signatures.split())
    ):
        raise WebhookVerificationError(
            "no_matching_signature",
            "No v1 signature in webhook-signature matches this secret and body "
            "(is it the raw body, and the endpoint's current secret?).",
        )

    try:
        return cast(WebhookEvent, json.loads(raw))
    except ValueError:
        raise WebhookVerificationError("invalid_body", "The webhook verified, but its body is not JSON.") from None


def _secret_key(secret: str) -> bytes:
    if not isinstance(secret, str):
        raise TypeError("The webhook secret is a str (whsec_...).")
    encoded = secret[len(_PREFIX) :] if secret.startswith(_PREFIX) else secret
    unpadded = encoded.rstrip("=")
    if unpadded and _BASE64.fullmatch(encoded) and len(unpadded) % 4 != 1:
        try:
            return base64.b64decode(unpadded + "=" * (-len(unpadded) % 4), validate=True)
        except binascii.Error:
            pass
    raise ValueError(
        "The webhook secret is not a signing secret: expected whsec_ followed by base64, as the portal showed it."
    )


def _raw_body(body: Body) -> bytes:
    if isinstance(body, str):
        return body.encode("utf-8")
    if isinstance(body, (bytes, bytearray, memoryview)):
        return bytes(body)
    raise TypeError(
        "verify_webhook needs the request's raw body (bytes or str), not parsed JSON: "
        "in Flask, request.get_data(); in FastAPI, await request.body()."
    )


def _now_seconds(now: Union[datetime, float, None]) -> float:
    if now is None:
        return time.time()
    if isinstance(now, datetime):
        if now.tzinfo is None:
            raise ValueError("now is a timezone-aware datetime (datetime.now(timezone.utc)).")
        return now.timestamp()
    if isinstance(now, bool) or not isinstance(now, (int, float)):
        raise TypeError("now is a datetime or seconds since the epoch.")
    return float(now)


def _header(headers: HeaderSource, name: str) -> Optional[str]:
    """One header's value, its name in any case; repeated values joined with ", " as HTTP joins them."""
    if headers is None or not hasattr(headers, "items"):
        raise TypeError("verify_webhook needs the request's headers (a mapping of names to values).")
    values: List[str] = []
    for key, value in headers.items():
        if not isinstance(key, str) or key.lower() != name:
            continue
        for one in value if isinstance(value, (list, tuple)) else [value]:
            if isinstance(one, str):
                values.append(one)
    return ", ".join(values) if values else None
