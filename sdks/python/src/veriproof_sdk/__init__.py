"""Send your application's OpenTelemetry traces to Veriproof with a compound API key.

::

    from veriproof_sdk import VeriproofClientOptions, configure_veriproof

    configure_veriproof(
        VeriproofClientOptions(application_id="loan-review", api_key_provider=get_api_key),
        service_name="loan-review",
        set_global=True,
    )
"""

from ._api_key import InvalidApiKeyError
from ._configure import VeriproofHandle, configure_veriproof
from ._options import ApiKeyProvider, VeriproofClientOptions
from ._session import SESSION_ID_ATTRIBUTE, current_session, session

__version__ = "0.1.0"

__all__ = [
    "SESSION_ID_ATTRIBUTE",
    "ApiKeyProvider",
    "InvalidApiKeyError",
    "VeriproofClientOptions",
    "VeriproofHandle",
    "__version__",
    "configure_veriproof",
    "current_session",
    "session",
]
