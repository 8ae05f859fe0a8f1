"""Send your application's OpenTelemetry traces to Veriproof with a compound API key, or without
one (an identity token from GitHub Actions, Azure, Kubernetes, Google, ... exchanged for short-lived ingest tokens).

::

    from veriproof_sdk import VeriproofClientOptions, configure_veriproof

    configure_veriproof(
        VeriproofClientOptions(application_id="loan-review", api_key_provider=get_api_key),
        service_name="loan-review",
        set_global=True,
    )

    # Without a key: the workload's identity token (here GitHub Actions'), exchanged for ingest tokens.
    configure_veriproof(
        VeriproofClientOptions(application_id="checkout", customer="acme",
                               identity_token_provider=GitHubActionsIdentityToken()),
        service_name="checkout-deploy",
    )

    # Receiving Veriproof's webhooks: the raw body, the request's headers, the endpoint's secret.
    event = verify_webhook(request_body, request_headers, "whsec_...")
"""

from ._api_key import InvalidApiKeyError
from ._configure import VeriproofHandle, configure_veriproof
from ._federation import IdentityTokenError, TokenExchangeError
from ._options import ApiKeyProvider, IdentityTokenProvider, VeriproofClientOptions
from ._providers import AzureIdentityToken, FileIdentityToken, GitHubActionsIdentityToken, GoogleIdentityToken
from ._session import SESSION_ID_ATTRIBUTE, current_session, session
from ._webhooks import WebhookEvent, WebhookVerificationError, verify_webhook

__version__ = "0.1.0"

__all__ = [
    "SESSION_ID_ATTRIBUTE",
    "ApiKeyProvider",
    "AzureIdentityToken",
    "FileIdentityToken",
    "GitHubActionsIdentityToken",
    "GoogleIdentityToken",
    "IdentityTokenError",
    "IdentityTokenProvider",
    "InvalidApiKeyError",
    "TokenExchangeError",
    "VeriproofClientOptions",
    "VeriproofHandle",
    "WebhookEvent",
    "WebhookVerificationError",
    "__version__",
    "configure_veriproof",
    "current_session",
    "session",
    "verify_webhook",
]
