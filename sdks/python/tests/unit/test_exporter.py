"""The exporter on the wire, against a local recording server: headers, the key per export,
Retry-After, the pause after a rejected key, a failing provider, and nothing secret in the logs."""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable, Iterator, List, Optional, Sequence

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.support.recording_server import RecordingServer
from veriproof_sdk._api_key import ApiKey, parse_api_key
from veriproof_sdk._exporter import VeriproofSpanExporter

MakeKey = Callable[..., str]


class FakeTime:
    """A monotonic clock that only moves when the exporter sleeps (or the test says so)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: List[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> bool:
        self.sleeps.append(seconds)
        self.now += seconds
        return False


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def make_exporter(server: RecordingServer, fake_time: FakeTime) -> Iterator[Callable[..., VeriproofSpanExporter]]:
    made: List[VeriproofSpanExporter] = []

    def make(resolve_key: Callable[[], ApiKey], *, timeout_millis: int = 10_000, pause_millis: int = 60_000, real_time: bool = False) -> VeriproofSpanExporter:
        exporter = VeriproofSpanExporter(
            url=f"{server.url}/v1/traces",
            resolve_key=resolve_key,
            timeout_millis=timeout_millis,
            pause_millis=pause_millis,
            **({} if real_time else {"clock": fake_time.clock, "sleep": fake_time.sleep}),
        )
        made.append(exporter)
        return exporter

    yield make
    for exporter in made:
        exporter.shutdown()


def spans(*names: str) -> Sequence[ReadableSpan]:
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    for name in names:
        provider.get_tracer("test").start_span(name).end()
    return memory.get_finished_spans()


def static(key: str) -> Callable[[], ApiKey]:
    parsed = parse_api_key(key, "api_key")
    return lambda: parsed


def veriproof_warnings(caplog: pytest.LogCaptureFixture) -> List[str]:
    return [r.getMessage() for r in caplog.records if r.name == "veriproof_sdk" and r.levelno >= logging.WARNING]


def test_puts_the_secret_in_x_api_key_and_the_component_in_x_functions_key_and_nowhere_else(
    server: RecordingServer, make_exporter: Callable[..., VeriproofSpanExporter], keys: MakeKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A header meant for another backend must not reach Veriproof.
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer other-vendor-token")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "x-honeycomb-team=other-vendor-key")
    key = keys()
    _, component, secret = key.split(".")
    exporter = make_exporter(static(key))
    assert exporter.export(spans("one", "two")) is SpanExportResult.SUCCESS
    [request] = server.requests
    assert request.path == "/v1/traces"
    assert request.headers["x-api-key"] == secret
    assert request.headers["x-functions-key"] == component
    assert request.headers["content-type"] == "application/x-protobuf"
    assert request.headers["content-encoding"] == "gzip"
    assert "authorization" not in request.headers and "x-honeycomb-team" not in request.headers
    others = {name: value for name, value in request.headers.items() if name not in ("x-api-key", "x-functions-key")}
    for value in others.values():
        assert secret not in value and component not in value
    assert request.span_names() == ["one", "two"]
    assert secret.encode() not in request.body and component.encode() not in request.body


def test_calls_the_provider_once_per_export_so_a_rotated_key_is_used_at_once(
    server: RecordingServer, make_exporter: Callable[..., VeriproofSpanExporter], keys: MakeKey
) -> None:
    first, second = keys(), keys()
    current = [first]
    calls = [0]

    def provider() -> ApiKey:
        calls[0] += 1
        return parse_api_key(current[0], "api_key_provider")

    exporter = make_exporter(provider)
    assert exporter.export(spans("before")) is SpanExportResult.SUCCESS
    current[0] = second  # rotated in the secret manager
    assert exporter.export(spans("after")) is SpanExportResult.SUCCESS
    assert calls[0] == 2
    assert [r.headers["x-api-key"] for r in server.requests] == [first.split(".")[2], second.split(".")[2]]


@pytest.mark.parametrize("status", [429, 503])
def test_waits_for_retry_after_then_sends_again(
    status: int, server: RecordingServer, make_exporter: Callable[..., VeriproofSpanExporter], fake_time: FakeTime, keys: MakeKey
) -> None:
    server.answer(status, {"Retry-After": "2", "Content-Type": "application/problem+json"}, b'{"code":"rate_limited"}')
    server.answer(status, {"Retry-After": "1"})
    exporter = make_exporter(static(keys()))
    assert exporter.export(spans("late")) is SpanExportResult.SUCCESS
    assert fake_time.sleeps == [2.0, 1.0]
    assert len(server.requests) == 3
    assert all(r.span_names() == ["late"] for r in server.requests)


def test_honours_retry_after_as_an_http_date(
    server: RecordingServer, make_exporter: Callable[..., VeriproofSpanExporter], fake_time: FakeTime, keys: MakeKey
) -> None:
    from email.utils import formatdate

    server.answer(429, {"Retry-After": formatdate(time.time() + 3, usegmt=True)})
    exporter = make_exporter(static(keys()))
    assert exporter.export(spans("dated")) is SpanExportResult.SUCCESS
    assert len(fake_time.sleeps) == 1 and 1.0 < fake_time.sleeps[0] <= 3.0


def test_does_not_wait_past_the_export_time_bound(
    server: RecordingServer, make_exporter: Callable[..., VeriproofSpanExporter], fake_time: FakeTime, keys: MakeKey
) -> None:
    for _ in range(10):
        server.answer(429, {"Retry-After": "30"})
    exporter = make_exporter(static(keys()), timeout_millis=5_000)
    started = time.monotonic()
    assert exporter.export(spans("dropped")) is SpanExportResult.FAILURE
    assert fake_time.sleeps == []  # a 30 s wait does not fit in a 5 s export
    assert time.monotonic() - started < 5


def test_a_rejected_key_logs_one_warning_without_the_key_and_pauses_instead_of_hammering(
    server: RecordingServer, make_exporter: Callable[..., VeriproofSpanExporter], fake_time: FakeTime, keys: MakeKey, caplog: pytest.LogCaptureFixture
) -> None:
    key = keys("acme")
    server.answer(401, {"Content-Type": "application/problem+json"}, b'{"code":"api_key_invalid","status":401}')
    exporter = make_exporter(static(key), pause_millis=60_000)
    for _ in range(5):
        assert exporter.export(spans("rejected")) is SpanExportResult.FAILURE
    assert len(server.requests) == 1  # the other four exports were paused
    [warning] = veriproof_warnings(caplog)
    assert "rejected the API key of vp_cust_acme (401 api_key_invalid)" in warning
    assert "paused for 60 s" in warning
    # The stock exporter's own error line for that export is replaced by the warning above.
    assert [r for r in caplog.records if r.levelno >= logging.WARNING and r.name != "veriproof_sdk"] == []

    fake_time.now += 61  # the pause is over: the key is tried again
    assert exporter.export(spans("retried")) is SpanExportResult.SUCCESS
    assert len(server.requests) == 2


@pytest.mark.parametrize(
    ("status", "code", "says"),
    [
        (401, "api_key_expired", "it has expired"),
        (403, "ip_not_allowed", "this machine's address is not on the key's IP allowlist"),
        (401, "api_key_invalid", "it is unknown, revoked or not allowed to ingest"),
    ],
)
def test_the_warning_says_why_the_key_was_refused(
    server: RecordingServer,
    make_exporter: Callable[..., VeriproofSpanExporter],
    keys: MakeKey,
    caplog: pytest.LogCaptureFixture,
    status: int,
    code: str,
    says: str,
) -> None:
    key = keys("acme")
    server.answer(status, {"Content-Type": "application/problem+json"}, f'{{"code":"{code}","status":{status}}}'.encode())
    exporter = make_exporter(static(key), pause_millis=60_000)
    assert exporter.export(spans("refused")) is SpanExportResult.FAILURE
    [warning] = veriproof_warnings(caplog)
    assert f"vp_cust_acme ({status} {code}): {says}" in warning


def test_a_new_key_from_the_provider_resumes_at_once_after_a_rejection(
    server: RecordingServer, make_exporter: Callable[..., VeriproofSpanExporter], keys: MakeKey
) -> None:
    revoked, fresh = keys(), keys()
    current = [revoked]
    server.answer(403, {}, b'{"code":"forbidden"}')
    exporter = make_exporter(lambda: parse_api_key(current[0], "api_key_provider"))
    assert exporter.export(spans("a")) is SpanExportResult.FAILURE
    current[0] = fresh
    assert exporter.export(spans("b")) is SpanExportResult.SUCCESS
    assert [r.headers["x-api-key"] for r in server.requests] == [revoked.split(".")[2], fresh.split(".")[2]]


def test_a_raising_provider_fails_that_export_only_with_one_warning_and_is_asked_again(
    server: RecordingServer, make_exporter: Callable[..., VeriproofSpanExporter], keys: MakeKey, caplog: pytest.LogCaptureFixture
) -> None:
    key = keys()
    mode = ["raise"]

    def provider() -> ApiKey:
        if mode[0] == "raise":
            raise ConnectionError(f"vault said no for {key}")  # a message that must not be logged
        return parse_api_key(key if mode[0] == "good" else f"{key}-junk", "api_key_provider")

    exporter = make_exporter(provider)
    assert exporter.export(spans("lost-1")) is SpanExportResult.FAILURE
    assert exporter.export(spans("lost-2")) is SpanExportResult.FAILURE
    assert veriproof_warnings(caplog) == [
        "[veriproof] The api_key_provider failed (ConnectionError). The spans of this export are dropped and the next export asks again."
    ]
    mode[0] = "good"
    assert exporter.export(spans("kept")) is SpanExportResult.SUCCESS
    mode[0] = "junk"
    assert exporter.export(spans("lost-3")) is SpanExportResult.FAILURE
    assert veriproof_warnings(caplog)[-1] == (
        "[veriproof] The Veriproof API key from api_key_provider is not a Veriproof key "
        "(expected vp_cust_{customer}.{component}.{secret}). The key itself is not shown. "
        "The spans of this export are dropped and the next export asks again."
    )
    assert [r.span_names() for r in server.requests] == [["kept"]]


def test_a_network_error_fails_the_export_within_its_bound_and_never_raises(
    make_exporter: Callable[..., VeriproofSpanExporter], server: RecordingServer, keys: MakeKey
) -> None:
    server.stop()  # nothing listens any more
    exporter = make_exporter(static(keys()), timeout_millis=1_500, real_time=True)
    started = time.monotonic()
    assert exporter.export(spans("nowhere")) is SpanExportResult.FAILURE
    assert time.monotonic() - started < 5


def test_shutdown_ends_a_retry_after_wait_at_once(
    server: RecordingServer, make_exporter: Callable[..., VeriproofSpanExporter], keys: MakeKey
) -> None:
    server.answer(503, {"Retry-After": "8"})
    exporter = make_exporter(static(keys()), timeout_millis=20_000, real_time=True)
    result: List[Optional[SpanExportResult]] = [None]
    worker = threading.Thread(target=lambda: result.__setitem__(0, exporter.export(spans("waiting"))))
    started = time.monotonic()
    worker.start()
    while not server.requests:
        time.sleep(0.01)
    exporter.shutdown()
    worker.join(5)
    assert not worker.is_alive()
    assert time.monotonic() - started < 5
    assert result[0] is SpanExportResult.FAILURE
    assert exporter.export(spans("after-shutdown")) is SpanExportResult.FAILURE
    assert len(server.requests) == 1


def test_given_resource_attributes_it_adds_them_to_each_resource_it_sends_and_leaves_the_spans_as_they_were(
    server: RecordingServer, keys: MakeKey
) -> None:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    from opentelemetry.sdk.resources import Resource

    exporter = VeriproofSpanExporter(
        url=f"{server.url}/v1/traces",
        resolve_key=static(keys()),
        timeout_millis=10_000,
        pause_millis=60_000,
        resource_attributes={"veriproof.application.id": "loan-review", "service.name": "scoring"},
    )
    memory = InMemorySpanExporter()
    for service in ("a", "b"):
        provider = TracerProvider(resource=Resource({"service.name": service, "team": service}))
        provider.add_span_processor(SimpleSpanProcessor(memory))
        provider.get_tracer("test").start_span(f"from-{service}").end()
    sent = memory.get_finished_spans()
    try:
        assert exporter.export(sent) is SpanExportResult.SUCCESS
    finally:
        exporter.shutdown()
    request = ExportTraceServiceRequest()
    request.ParseFromString(server.requests[0].body)
    resources = sorted(({a.key: a.value.string_value for a in rs.resource.attributes} for rs in request.resource_spans), key=lambda r: r["team"])
    assert resources == [
        {"service.name": "scoring", "team": "a", "veriproof.application.id": "loan-review"},
        {"service.name": "scoring", "team": "b", "veriproof.application.id": "loan-review"},
    ]
    assert [dict(span.resource.attributes) for span in sent] == [{"service.name": "a", "team": "a"}, {"service.name": "b", "team": "b"}]
