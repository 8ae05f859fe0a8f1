"""The span exporter behind the SDK: OpenTelemetry's stock OTLP/HTTP (protobuf) exporter, with the
key resolved once per export and the service's answers handled the way the TypeScript SDK does.

- The stock ``OTLPSpanExporter`` encodes, compresses and posts; it is given a ``requests.Session``
  of ours (its documented ``session`` parameter) that puts this export's key into the two headers
  and nothing else into any header.
- 429 and 503 are retried after ``Retry-After`` while the export's time bound allows; network
  errors and answers without ``Retry-After`` are retried by the stock exporter, with backoff.
- 401 and 403: one warning naming the key by its customer (``vp_cust_{slug}``), never the key;
  exporting with that key then pauses for a while instead of hammering the service. A different
  key (from the provider) resumes at once.
- A provider that raises or returns something that is not a key fails that export only.
- Without a key (``forget_key`` given: the ingest token of a token exchange), a 401 drops the
  token, the next one is exchanged and the export is sent once more with it; a second refusal
  pauses as above (no loop). A failed exchange fails that export only, with one warning.
- When the SDK joined the application's own tracer provider (whose resource is fixed), the
  attributes it was given (service name, application id, ``resource_attributes``) are added to the
  resource of the spans it sends, in copies: the application's other exporters see its spans as
  they were.

``export`` never raises into the application.
"""

from __future__ import annotations

import copy
import json
import logging
import threading
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Callable, Mapping, Optional, Sequence, cast

import requests
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.util.types import AttributeValue
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from ._api_key import ApiKey, InvalidApiKeyError
from ._federation import TokenExchangeError

logger = logging.getLogger("veriproof_sdk")

# The logger of the stock exporter module (the same name in every release we support).
_STOCK_LOGGER = logging.getLogger(OTLPSpanExporter.__module__)

# Headers a request to Veriproof carries: the protocol's own and the key's. Anything else that
# reached the session (OTEL_EXPORTER_OTLP_HEADERS meant for another backend, say) is dropped, so
# a credential of another service is never sent to us.
_PROTOCOL_HEADERS = frozenset(
    {"content-type", "content-encoding", "content-length", "user-agent", "accept", "accept-encoding", "connection"}
)
_RETRY_AFTER_STATUSES = frozenset({429, 503})
_REJECTED_STATUSES = frozenset({401, 403})
# Waits for Retry-After within one export (each one a request to the service).
_MAX_RETRY_AFTER_WAITS = 5


@dataclass
class _Attempt:
    """One export, as seen by the session on the exporting thread."""

    key: ApiKey
    deadline: float
    status: Optional[int] = None
    problem: Optional[str] = None


class _Exporting(threading.local):
    attempt: Optional[_Attempt] = None


_exporting = _Exporting()


class _QuietOnRejectedKey(logging.Filter):
    """Drops the stock exporter's own error line for an export whose key the service rejected:
    the SDK logs one clearer warning for it instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        attempt = _exporting.attempt
        return attempt is None or attempt.status not in _REJECTED_STATUSES


_quiet_filter = _QuietOnRejectedKey()
if _quiet_filter not in _STOCK_LOGGER.filters:
    _STOCK_LOGGER.addFilter(_quiet_filter)


class _KeyedSession(requests.Session):
    """The stock exporter's HTTP session: this export's key in its two headers, Retry-After honoured."""

    def __init__(self, stopping: threading.Event, clock: Callable[[], float], sleep: Callable[[float], bool]) -> None:
        super().__init__()
        self._stopping = stopping
        self._clock = clock
        self._sleep = sleep  # returns True when woken by shutdown

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        attempt = _exporting.attempt
        if attempt is None:
            raise RuntimeError("The Veriproof session only sends inside an export.")
        for name in [name for name in request.headers if name.lower() not in _PROTOCOL_HEADERS]:
            del request.headers[name]
        request.headers.update(attempt.key.headers)
        waits = 0
        while True:
            response = super().send(request, **kwargs)
            attempt.status = response.status_code
            if response.status_code in _REJECTED_STATUSES:
                attempt.problem = _problem_code(response)
            if response.status_code not in _RETRY_AFTER_STATUSES or waits >= _MAX_RETRY_AFTER_WAITS:
                return response
            wait = _retry_after_seconds(response.headers.get("Retry-After"))
            remaining = attempt.deadline - self._clock()
            if wait is None or wait >= remaining or self._stopping.is_set():
                return response  # the stock exporter decides (its backoff, or give up)
            _ = response.content  # read it, so the stock exporter can still log it after close
            response.close()
            waits += 1
            if self._sleep(wait):
                return response
            kwargs["timeout"] = max(attempt.deadline - self._clock(), 0.001)


class VeriproofSpanExporter(SpanExporter):
    """Exports spans to Veriproof's ``/v1/traces`` with the key ``resolve_key`` returns for each export."""

    def __init__(
        self,
        *,
        url: str,
        resolve_key: Callable[[], ApiKey],
        forget_key: Optional[Callable[[ApiKey], None]] = None,
        timeout_millis: int,
        pause_millis: int,
        clock: Callable[[], float] = time.monotonic,
        sleep: Optional[Callable[[float], bool]] = None,
        resource_attributes: Optional[Mapping[str, AttributeValue]] = None,
    ) -> None:
        self._resolve_key = resolve_key
        self._forget_key = forget_key  # an exchanged token the service refused (401) is dropped, and exchanged again
        # Added to the resource of every span sent (they win over the span's own values).
        self._stamp = Resource(dict(resource_attributes)) if resource_attributes else None
        self._stamped: Optional[tuple[Resource, Resource]] = None  # (a span's resource, it with the stamp)
        self._timeout = timeout_millis / 1000
        self._pause = pause_millis / 1000
        self._clock = clock
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._paused: Optional[tuple[str, float]] = None  # (fingerprint, until)
        self._provider_failing = False
        self._stock = OTLPSpanExporter(
            endpoint=url,
            timeout=self._timeout,
            compression=Compression.Gzip,
            session=_KeyedSession(self._stopping, clock, sleep or self._stopping.wait),
            # Explicit headers keep older stock releases from reading OTEL_EXPORTER_OTLP_HEADERS;
            # the session drops everything but the key's headers anyway.
            headers={"user-agent": "veriproof-sdk-python/0.1.0"},
        )

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        try:
            return self._export(spans)
        except Exception as error:  # never into the application
            logger.warning("[veriproof] Export failed unexpectedly (%s); the spans of this export are dropped.", type(error).__name__)
            return SpanExportResult.FAILURE

    def _export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self._stopping.is_set():
            return SpanExportResult.FAILURE
        key = self._key_for_export()
        if key is None:
            return SpanExportResult.FAILURE
        with self._lock:
            paused = self._paused
        if paused is not None and paused[0] == key.fingerprint and self._clock() < paused[1]:
            return SpanExportResult.FAILURE
        stamped = self._stamped_spans(spans)
        result, attempt = self._send(stamped, key)
        if attempt.status == 401 and self._forget_key is not None:
            # An exchanged ingest token the service no longer takes: exchange again, send once more.
            self._forget_key(key)
            fresh = self._key_for_export()
            if fresh is None:
                return SpanExportResult.FAILURE
            if fresh.fingerprint != key.fingerprint:
                logger.info("[veriproof] The service refused the ingest token of %s (401); sending again with a new one.", key.name)
                key = fresh
                result, attempt = self._send(stamped, key)
        if attempt.status in _REJECTED_STATUSES:
            self._pause_key(key, attempt)
            return SpanExportResult.FAILURE
        return result

    def _send(self, spans: Sequence[ReadableSpan], key: ApiKey) -> tuple[SpanExportResult, _Attempt]:
        attempt = _Attempt(key=key, deadline=self._clock() + self._timeout)
        _exporting.attempt = attempt
        try:
            return self._stock.export(spans), attempt
        finally:
            _exporting.attempt = None

    def _stamped_spans(self, spans: Sequence[ReadableSpan]) -> Sequence[ReadableSpan]:
        """The spans, each with the stamp added to its resource: shallow copies, so a span the
        application's own exporters also see is left as it was."""
        if self._stamp is None:
            return spans
        stamped = []
        for span in spans:
            twin = copy.copy(span)
            twin._resource = self._with_stamp(span.resource)  # ReadableSpan has no public setter
            stamped.append(twin)
        return stamped

    def _with_stamp(self, resource: Resource) -> Resource:
        assert self._stamp is not None
        last = self._stamped  # one provider: one resource, merged once
        if last is not None and last[0] is resource:
            return last[1]
        merged = resource.merge(self._stamp)
        self._stamped = (resource, merged)
        return merged

    def _key_for_export(self) -> Optional[ApiKey]:
        try:
            key = self._resolve_key()
        except InvalidApiKeyError as error:
            self._provider_failed(str(error))
            return None
        except TokenExchangeError as error:
            retry = "the next export asks again" if error.retry_in is None else f"the exchange is tried again in {round(error.retry_in)} s"
            self._provider_failed(str(error), f"The spans of this export are dropped; {retry}.")
            return None
        except Exception as error:
            self._provider_failed(f"The api_key_provider failed ({type(error).__name__}).")
            return None
        with self._lock:
            self._provider_failing = False
        return key

    def _provider_failed(self, what: str, then: str = "The spans of this export are dropped and the next export asks again.") -> None:
        """``what`` and ``then`` are one or more whole sentences each."""
        with self._lock:
            first = not self._provider_failing
            self._provider_failing = True
        if first:
            logger.warning("[veriproof] %s %s", what, then)

    def _pause_key(self, key: ApiKey, attempt: _Attempt) -> None:
        with self._lock:
            already = self._paused is not None and self._paused[0] == key.fingerprint
            self._paused = (key.fingerprint, self._clock() + self._pause)
        if not already and key.federated:
            code = f" {attempt.problem}" if attempt.problem else ""
            logger.warning(
                "[veriproof] The service refused the ingest token of %s (%s%s)%s: %s. "
                "Exporting with it is paused for %d s; the next token exchange resumes at once.",
                key.name,
                attempt.status,
                code,
                ", also one exchanged just now" if attempt.status == 401 and self._forget_key is not None else "",
                _why_federated(attempt.problem, attempt.status),
                round(self._pause),
            )
        elif not already:
            code = f" {attempt.problem}" if attempt.problem else ""
            logger.warning(
                "[veriproof] The service rejected the API key of %s (%s%s): %s. "
                "Exporting with it is paused for %d s; a new key (VERIPROOF_API_KEY or your api_key_provider) resumes at once.",
                key.name,
                attempt.status,
                code,
                _why(attempt.problem),
                round(self._pause),
            )

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True  # nothing is held here; the batch processor holds the queue

    def shutdown(self) -> None:
        if self._stopping.is_set():
            return
        self._stopping.set()  # ends any Retry-After wait at once
        stop = cast(Callable[[], None], self._stock.shutdown)  # untyped in some stock releases
        try:
            stop()
        except Exception:  # never into the application
            pass


def _retry_after_seconds(value: Optional[str]) -> Optional[float]:
    """``Retry-After`` as seconds: delay-seconds or an HTTP date (RFC 9110); None when absent or bad."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(when.timestamp() - time.time(), 0.0)


def _problem_code(response: requests.Response) -> Optional[str]:
    """The ``code`` of a problem+json body, if that is what the body is."""
    try:
        code = json.loads(response.content[:4096]).get("code")
    except (ValueError, AttributeError):
        return None
    if isinstance(code, str) and 0 < len(code) <= 40 and all(c.islower() or c == "_" for c in code):
        return code
    return None


def _why_federated(problem: str | None, status: Optional[int]) -> str:
    """What a refused ingest token (of a token exchange) means, in the words of the warning."""
    if problem == "ip_not_allowed":
        return "this machine's address is not allowed; send from an allowed address"
    if status == 403:
        return "the trust policy's tokens may not do this"
    return "its trust policy may have been deleted, or the token has expired"


def _why(problem: str | None) -> str:
    """What a refusal means, by its problem code, in the words of the warning."""
    if problem == "api_key_expired":
        return "it has expired (its expiry, or the end of a roll's overlap, has passed); switch to its replacement"
    if problem == "ip_not_allowed":
        return "this machine's address is not on the key's IP allowlist; ask your admin to add it, or send from an allowed address"
    return "it is unknown, revoked or not allowed to ingest"
