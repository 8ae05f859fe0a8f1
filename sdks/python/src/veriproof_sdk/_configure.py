"""``configure_veriproof``: OpenTelemetry tracing that exports to Veriproof, set up once."""

from __future__ import annotations

import ipaddress
import logging
import os
from typing import Callable, Mapping, Optional, Sequence, Union
from urllib.parse import urlsplit

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from ._api_key import ApiKey, parse_api_key
from ._exporter import VeriproofSpanExporter
from ._federation import TOKEN_PATH, FederatedCredential
from ._options import VeriproofClientOptions
from ._providers import GitHubActionsIdentityToken, GoogleIdentityToken
from ._session import SessionSpanProcessor

logger = logging.getLogger("veriproof_sdk")

ENDPOINT_ENV = "VERIPROOF_ENDPOINT"
API_KEY_ENV = "VERIPROOF_API_KEY"
APPLICATION_ID_ATTRIBUTE = "veriproof.application.id"
TRACES_PATH = "/v1/traces"

AttributeValue = Union[str, bool, int, float, Sequence[str], Sequence[bool], Sequence[int], Sequence[float]]


class VeriproofHandle:
    """What :func:`configure_veriproof` returns: a tracer, and flush and shutdown for the end of the process."""

    def __init__(self, provider: TracerProvider, processors: Sequence[SpanProcessor], owns_provider: bool, service_name: str) -> None:
        self._provider = provider
        self._processors = tuple(processors)
        self._owns_provider = owns_provider
        self._service_name = service_name

    @property
    def tracer_provider(self) -> TracerProvider:
        """The tracer provider that exports to Veriproof (the application's own one when the SDK joined it)."""
        return self._provider

    def tracer(self, name: Optional[str] = None, version: Optional[str] = None) -> trace.Tracer:
        """A tracer of this provider, named after the service unless ``name`` is given (works without ``set_global``)."""
        return self._provider.get_tracer(name or self._service_name, version)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Exports what is queued now. Returns False when that did not finish in time; never raises."""
        try:
            if self._owns_provider:
                return self._provider.force_flush(timeout_millis)
            return all(processor.force_flush(timeout_millis) for processor in self._processors)
        except Exception:
            return False

    def shutdown(self) -> None:
        """Exports what is queued, then stops exporting. Never raises for a failed export."""
        try:
            if self._owns_provider:
                self._provider.shutdown()
            else:
                for processor in self._processors:
                    processor.shutdown()
        except Exception:
            pass


def configure_veriproof(
    options: VeriproofClientOptions,
    *,
    service_name: str,
    set_global: bool = False,
    resource_attributes: Optional[Mapping[str, AttributeValue]] = None,
) -> VeriproofHandle:
    """Sets up OpenTelemetry tracing that exports to Veriproof over OTLP/HTTP with a compound key,
    or without one: with an identity token exchanged for short-lived ingest tokens.

    The key's secret goes in ``X-API-Key`` and its component in ``x-functions-key``, and nowhere
    else. With ``identity_token_provider`` the SDK exchanges the identity token at
    ``{endpoint}/v1/oauth/token`` at the first export, sends the ingest token as
    ``Authorization: Bearer``, exchanges again ahead of its expiry and once more when the service
    refuses it (401). With ``set_global=True`` the tracer provider becomes OpenTelemetry's global one, so
    ``opentelemetry.trace.get_tracer(...)`` anywhere in the application (instrumentations
    included) exports to Veriproof; if the application already set an SDK tracer provider, the
    SDK adds its export to that provider instead of replacing it, and adds ``service.name``, the
    application id and ``resource_attributes`` to the resource of the spans it sends (only those:
    the application's own exporters see its resource unchanged).

    Raises ``ValueError`` when the endpoint or the key is missing or malformed (the message names
    what to set and never contains the key), ``TypeError`` for arguments of the wrong type.
    """
    if not isinstance(options, VeriproofClientOptions):
        raise TypeError("configure_veriproof takes a VeriproofClientOptions as its first argument.")
    if not isinstance(service_name, str) or not service_name.strip():
        raise ValueError("configure_veriproof needs service_name, the name of this service (e.g. 'loan-review').")
    base = _base_url(options.endpoint, federated=options.identity_token_provider is not None)
    forget_key: Optional[Callable[[ApiKey], None]] = None
    if options.identity_token_provider is not None:
        assert options.customer is not None  # the options checked it
        token_provider = options.identity_token_provider
        if isinstance(token_provider, (GitHubActionsIdentityToken, GoogleIdentityToken)):
            token_provider = token_provider.with_default_audience(options.customer)
        credential = FederatedCredential(
            token_url=base + TOKEN_PATH,
            customer=options.customer,
            identity_token_provider=token_provider,
            timeout=options.export_timeout_millis / 1000,
            pause=options.rejected_key_pause_millis / 1000,
        )
        resolve_key: Callable[[], ApiKey] = credential.key
        forget_key = credential.forget
    else:
        resolve_key = _key_resolver(options)

    attributes: dict[str, AttributeValue] = dict(resource_attributes or {})
    attributes.update({"service.name": service_name, APPLICATION_ID_ATTRIBUTE: options.application_id})
    existing = trace.get_tracer_provider()
    joined = existing if set_global and isinstance(existing, TracerProvider) else None
    exporter = VeriproofSpanExporter(
        url=base + TRACES_PATH,
        resolve_key=resolve_key,
        forget_key=forget_key,
        timeout_millis=options.export_timeout_millis,
        pause_millis=options.rejected_key_pause_millis,
        # The application's provider keeps its own resource (it cannot change): the exporter adds
        # ours to what it sends, so Veriproof sees the same attributes as with a provider of ours.
        resource_attributes=attributes if joined is not None else None,
    )
    processors: list[SpanProcessor] = [
        SessionSpanProcessor(),
        BatchSpanProcessor(
            exporter,
            max_queue_size=options.max_queue_size,
            max_export_batch_size=options.max_export_batch_size,
            export_timeout_millis=options.export_timeout_millis,
        ),
    ]

    if joined is not None:
        provider, owns = joined, False
        logger.info(
            "[veriproof] The application already has a tracer provider: Veriproof export was added to it. "
            "The spans sent to Veriproof carry service.name, %s and resource_attributes on their resource; "
            "the application's own exporters see its resource unchanged.",
            APPLICATION_ID_ATTRIBUTE,
        )
    else:
        provider, owns = TracerProvider(resource=Resource.create(attributes)), True
    for processor in processors:
        provider.add_span_processor(processor)
    if set_global and owns:
        trace.set_tracer_provider(provider)
    return VeriproofHandle(provider, processors, owns, service_name)


def _base_url(option: Optional[str], *, federated: bool = False) -> str:
    source = "VeriproofClientOptions.endpoint" if option is not None else ENDPOINT_ENV
    endpoint = (option if option is not None else os.environ.get(ENDPOINT_ENV, "")).strip()
    if not endpoint:
        raise ValueError(
            f"Set {ENDPOINT_ENV} (or VeriproofClientOptions(endpoint=...)) to the Veriproof service's base URL, "
            "for example https://ingest.veriproof.example."
        )
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ValueError(f"The Veriproof endpoint from {source} is not an http(s) base URL.")
    if parts.username or parts.password:
        raise ValueError(f"The Veriproof endpoint from {source} carries credentials: give the key as the API key instead.")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        logger.warning(
            "[veriproof] The endpoint %s is plain HTTP: your %s would cross the network unencrypted. Use https.",
            f"http://{parts.netloc}",
            "identity token and ingest tokens" if federated else "API key",
        )
    return endpoint.rstrip("/")


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _key_resolver(options: VeriproofClientOptions) -> Callable[[], ApiKey]:
    provider = options.api_key_provider
    if provider is not None:
        return lambda: parse_api_key(provider(), "api_key_provider")
    if options.api_key is not None:
        parsed = parse_api_key(options.api_key, "api_key")
    else:
        value = os.environ.get(API_KEY_ENV, "")
        if not value.strip():
            raise ValueError(
                f"Set {API_KEY_ENV}, or give VeriproofClientOptions api_key or api_key_provider (a callable returning the key), "
                "or identity_token_provider and customer to send without a key."
            )
        parsed = parse_api_key(value, API_KEY_ENV)
    return lambda: parsed
