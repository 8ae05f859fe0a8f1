"""What an application tells the SDK: one frozen dataclass, keyword arguments."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Optional

ApiKeyProvider = Callable[[], str]
"""Returns the current compound key. Called once per export, on the exporting thread."""

IdentityTokenProvider = Callable[[], str]
"""Returns an identity token (a JWT) from the workload's platform. Called only to exchange it for
an ingest token (at the first export, then ahead of each ingest token's expiry), on the exporting
thread. Synchronous: an ``async def`` function is refused at the first exchange."""

_CUSTOMER = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


@dataclass(frozen=True)
class VeriproofClientOptions:
    """How the SDK reaches Veriproof.

    Pass them as keywords::

        VeriproofClientOptions(application_id="loan-review", api_key_provider=get_api_key)

    Without ``api_key`` and ``api_key_provider`` the key is read from ``VERIPROOF_API_KEY``;
    without ``endpoint``, the service's base URL from ``VERIPROOF_ENDPOINT``. The key is kept out
    of this object's ``repr``.

    Without a key: ``identity_token_provider`` and ``customer`` (instead of a key)::

        VeriproofClientOptions(application_id="checkout", customer="acme",
                               identity_token_provider=GitHubActionsIdentityToken())
    """

    application_id: str
    """The application these spans belong to; recorded on the resource as ``veriproof.application.id``."""
    api_key: Optional[str] = field(default=None, repr=False)
    """The compound key ``vp_cust_{customer}.{component}.{secret}``."""
    api_key_provider: Optional[ApiKeyProvider] = field(default=None, repr=False)
    """Called for every export, so a key rotated in a secret manager is used without a restart."""
    endpoint: Optional[str] = None
    """The service's base URL (the SDK appends ``/v1/traces``)."""
    export_timeout_millis: int = 10_000
    """Bound on one export, retries and ``Retry-After`` waits included."""
    rejected_key_pause_millis: int = 60_000
    """How long exporting with a key the service rejected (401/403) stays paused; without a key, also how
    long an identity token the token exchange refused (400) waits before it is exchanged again."""
    max_export_batch_size: int = 512
    """Spans per export request (at most 1,000: the service takes spans of at most 1,000 sessions per request)."""
    max_queue_size: int = 2048
    """Spans held for export; beyond it, new spans are dropped (OpenTelemetry's batch processor)."""
    # Added after the fields above, so their positions stay as they were.
    identity_token_provider: Optional[IdentityTokenProvider] = field(default=None, repr=False)
    """Instead of a key: returns the workload's identity token, which the SDK exchanges for a
    short-lived ingest token (``{endpoint}/v1/oauth/token``). Needs ``customer``."""
    customer: Optional[str] = None
    """With ``identity_token_provider``: the customer's slug (``acme``), the exchange's audience."""

    def __post_init__(self) -> None:
        if not isinstance(self.application_id, str) or not self.application_id.strip():
            raise ValueError("VeriproofClientOptions needs application_id, the name of your application (e.g. 'loan-review').")
        if self.api_key is not None and not isinstance(self.api_key, str):
            raise TypeError("VeriproofClientOptions.api_key must be a string (the compound key).")
        if self.api_key_provider is not None and not callable(self.api_key_provider):
            raise TypeError("VeriproofClientOptions.api_key_provider must be a callable returning the key.")
        if self.api_key is not None and self.api_key_provider is not None:
            raise ValueError("Give VeriproofClientOptions either api_key or api_key_provider, not both.")
        if self.identity_token_provider is not None:
            if not callable(self.identity_token_provider):
                raise TypeError("VeriproofClientOptions.identity_token_provider must be a callable returning the identity token.")
            if self.api_key is not None or self.api_key_provider is not None:
                raise ValueError(
                    "Give VeriproofClientOptions either a key (api_key or api_key_provider) or identity_token_provider "
                    "with customer, not both."
                )
            if self.customer is None:
                raise ValueError("VeriproofClientOptions.identity_token_provider needs customer, your customer's slug (e.g. 'acme').")
        if self.customer is not None:
            if not isinstance(self.customer, str) or not 2 <= len(self.customer) <= 32 or not _CUSTOMER.fullmatch(self.customer):
                raise ValueError("VeriproofClientOptions.customer must be a customer's slug: 2 to 32 of a-z, 0-9 and inner hyphens (e.g. 'acme').")
            if self.identity_token_provider is None:
                raise ValueError(
                    "VeriproofClientOptions.customer goes with identity_token_provider (a key names its customer itself)."
                )
        if self.endpoint is not None and not isinstance(self.endpoint, str):
            raise TypeError("VeriproofClientOptions.endpoint must be a string (the service's base URL).")
        for name in ("export_timeout_millis", "rejected_key_pause_millis", "max_export_batch_size", "max_queue_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"VeriproofClientOptions.{name} must be a positive integer.")
        if self.max_export_batch_size > 1_000:
            # The service takes at most 10,000 spans and 1,000 sessions per request; a batch of
            # 1,000 spans can never hold more sessions than that.
            raise ValueError("VeriproofClientOptions.max_export_batch_size is at most 1000 (the service's bound per request).")
        if self.max_export_batch_size > self.max_queue_size:
            raise ValueError("VeriproofClientOptions.max_export_batch_size cannot exceed max_queue_size.")
