"""configure_veriproof: what it needs, what it refuses (never repeating a key), and what it installs."""

from __future__ import annotations

import dataclasses
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Callable, Dict, List, Optional

import pytest

from tests.support.recording_server import RecordingServer
from veriproof_sdk import InvalidApiKeyError, VeriproofClientOptions, configure_veriproof

MakeKey = Callable[..., str]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VERIPROOF_API_KEY", raising=False)
    monkeypatch.delenv("VERIPROOF_ENDPOINT", raising=False)


def test_without_an_endpoint_it_says_to_set_veriproof_endpoint(keys: MakeKey) -> None:
    with pytest.raises(ValueError, match="Set VERIPROOF_ENDPOINT"):
        configure_veriproof(VeriproofClientOptions(application_id="app", api_key=keys()), service_name="svc")


def test_without_a_key_it_says_to_set_veriproof_api_key() -> None:
    with pytest.raises(ValueError, match="Set VERIPROOF_API_KEY, or give VeriproofClientOptions api_key or api_key_provider"):
        configure_veriproof(VeriproofClientOptions(application_id="app", endpoint="http://localhost:1"), service_name="svc")


def test_a_malformed_key_names_its_source_and_never_the_key(keys: MakeKey, monkeypatch: pytest.MonkeyPatch) -> None:
    broken = keys()[:-3]
    monkeypatch.setenv("VERIPROOF_API_KEY", broken)
    monkeypatch.setenv("VERIPROOF_ENDPOINT", "http://localhost:1")
    with pytest.raises(InvalidApiKeyError) as from_env:
        configure_veriproof(VeriproofClientOptions(application_id="app"), service_name="svc")
    assert "from VERIPROOF_API_KEY" in str(from_env.value)
    with pytest.raises(ValueError) as from_option:
        configure_veriproof(VeriproofClientOptions(application_id="app", api_key=broken), service_name="svc")
    assert "from api_key" in str(from_option.value)
    for message in (str(from_env.value), str(from_option.value)):
        for segment in broken.split("."):
            assert segment not in message


def test_reads_the_key_and_endpoint_from_the_environment(keys: MakeKey, monkeypatch: pytest.MonkeyPatch, server: RecordingServer) -> None:
    key = keys()
    monkeypatch.setenv("VERIPROOF_API_KEY", key)
    monkeypatch.setenv("VERIPROOF_ENDPOINT", server.url + "/")
    handle = configure_veriproof(VeriproofClientOptions(application_id="loan-review"), service_name="loan-review")
    handle.tracer().start_span("from-env").end()
    assert handle.force_flush() is True
    handle.shutdown()
    [request] = server.requests
    assert request.path == "/v1/traces"
    assert request.headers["x-api-key"] == key.split(".")[2]


def test_the_resource_names_the_service_and_application(keys: MakeKey, server: RecordingServer) -> None:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    handle = configure_veriproof(
        VeriproofClientOptions(application_id="loan-review", api_key=keys(), endpoint=server.url),
        service_name="scoring",
        resource_attributes={"deployment.environment": "test", "service.name": "ignored"},
    )
    handle.tracer("custom").start_span("x").end()
    handle.shutdown()
    request = ExportTraceServiceRequest()
    request.ParseFromString(server.requests[0].body)
    attributes = {a.key: a.value.string_value for a in request.resource_spans[0].resource.attributes}
    assert attributes["service.name"] == "scoring"
    assert attributes["veriproof.application.id"] == "loan-review"
    assert attributes["deployment.environment"] == "test"
    assert request.resource_spans[0].scope_spans[0].scope.name == "custom"


def test_options_never_show_the_key(keys: MakeKey) -> None:
    key = keys()
    options = VeriproofClientOptions(application_id="app", api_key=key, api_key_provider=None)
    for part in key.split("."):
        assert part not in repr(options) and part not in str(options)


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"application_id": ""}, ValueError),
        ({"application_id": "app", "api_key": "x", "api_key_provider": lambda: "x"}, ValueError),
        ({"application_id": "app", "api_key_provider": "not callable"}, TypeError),
        ({"application_id": "app", "export_timeout_millis": 0}, ValueError),
        ({"application_id": "app", "max_export_batch_size": 1001, "max_queue_size": 50_000}, ValueError),
        ({"application_id": "app", "max_export_batch_size": 1000, "max_queue_size": 999}, ValueError),
    ],
)
def test_options_refuse_bad_values(kwargs: Dict[str, object], error: type) -> None:
    with pytest.raises(error):
        VeriproofClientOptions(**kwargs)  # type: ignore[arg-type]


def test_options_are_frozen() -> None:
    options = VeriproofClientOptions(application_id="app")
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.application_id = "other"  # type: ignore[misc]


@pytest.mark.parametrize("endpoint", ["ftp://example.com", "not a url", "https://", "https://example.com?x=1", "https://user:pw@example.com"])
def test_refuses_an_endpoint_that_is_not_an_http_base_url(endpoint: str, keys: MakeKey) -> None:
    with pytest.raises(ValueError, match="endpoint"):
        configure_veriproof(VeriproofClientOptions(application_id="app", api_key=keys(), endpoint=endpoint), service_name="svc")


def test_warns_once_for_plain_http_beyond_this_machine_and_never_with_the_key(keys: MakeKey, caplog: pytest.LogCaptureFixture) -> None:
    configure_veriproof(VeriproofClientOptions(application_id="app", api_key=keys(), endpoint="http://ingest.example.com"), service_name="svc")
    for local in ("http://localhost:7071", "http://127.0.0.1:7071", "http://[::1]:7071", "https://ingest.example.com"):
        configure_veriproof(VeriproofClientOptions(application_id="app", api_key=keys(), endpoint=local), service_name="svc")
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings == ["[veriproof] The endpoint http://ingest.example.com is plain HTTP: your API key would cross the network unencrypted. Use https."]


def resources_sent(server: RecordingServer) -> List[Dict[str, str]]:
    """The resource attributes of every resource in every request the server received."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    found = []
    for recorded in server.requests:
        request = ExportTraceServiceRequest()
        request.ParseFromString(recorded.body)
        found += [{a.key: a.value.string_value for a in rs.resource.attributes} for rs in request.resource_spans]
    return found


def run_python(code: str, env: Optional[Dict[str, str]] = None) -> subprocess.CompletedProcess[str]:
    """set_global changes process-wide state that can be set once: each case gets its own process
    (importing the package from this checkout, whichever one the environment installed)."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT,
        env={**(env or {}), "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_set_global_exports_spans_of_tracers_taken_before_and_after_configuration(keys: MakeKey, server: RecordingServer) -> None:
    done = run_python(
        f"""
        from opentelemetry import trace
        early = trace.get_tracer("an-instrumentation")  # taken before configure, as libraries do at import
        from veriproof_sdk import VeriproofClientOptions, configure_veriproof, session
        configure_veriproof(VeriproofClientOptions(application_id="app", api_key={keys()!r}, endpoint={server.url!r}),
                            service_name="svc", set_global=True)
        with session("global-1"):
            with trace.get_tracer("late").start_as_current_span("late-span"):
                early.start_span("early-span").end()
        # no shutdown call: OpenTelemetry's exit hook flushes
        """
    )
    assert done.returncode == 0, done.stderr
    assert sorted(name for r in server.requests for name in r.span_names()) == ["early-span", "late-span"]


def test_set_global_joins_a_tracer_provider_the_application_already_has(keys: MakeKey, server: RecordingServer) -> None:
    done = run_python(
        f"""
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        theirs = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(theirs))
        trace.set_tracer_provider(provider)
        from veriproof_sdk import VeriproofClientOptions, configure_veriproof
        handle = configure_veriproof(VeriproofClientOptions(application_id="app", api_key={keys()!r}, endpoint={server.url!r}),
                                     service_name="svc", set_global=True)
        assert handle.tracer_provider is provider
        trace.get_tracer("app").start_span("both").end()
        handle.shutdown()
        assert [s.name for s in theirs.get_finished_spans()] == ["both"], "the application's own exporter still gets spans"
        """
    )
    assert done.returncode == 0, done.stderr
    assert [name for r in server.requests for name in r.span_names()] == ["both"]


def test_set_global_with_a_provider_of_its_own_names_the_service_and_application(keys: MakeKey, server: RecordingServer) -> None:
    done = run_python(
        f"""
        from opentelemetry import trace
        from veriproof_sdk import VeriproofClientOptions, configure_veriproof
        handle = configure_veriproof(VeriproofClientOptions(application_id="loan-review", api_key={keys()!r}, endpoint={server.url!r}),
                                     service_name="scoring", set_global=True, resource_attributes={{"deployment.environment": "test"}})
        assert trace.get_tracer_provider() is handle.tracer_provider
        trace.get_tracer("app").start_span("ours").end()
        handle.shutdown()
        """
    )
    assert done.returncode == 0, done.stderr
    [resource] = resources_sent(server)
    assert resource["service.name"] == "scoring"
    assert resource["veriproof.application.id"] == "loan-review"
    assert resource["deployment.environment"] == "test"


def test_set_global_joining_the_applications_provider_keeps_the_application_id_and_resource_attributes(
    keys: MakeKey, server: RecordingServer
) -> None:
    done = run_python(
        f"""
        import logging
        from opentelemetry import trace
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        theirs = InMemorySpanExporter()
        provider = TracerProvider(resource=Resource.create({{"service.name": "their-name", "team": "risk", "deployment.environment": "prod"}}))
        provider.add_span_processor(SimpleSpanProcessor(theirs))
        trace.set_tracer_provider(provider)
        warnings = []
        logging.getLogger("veriproof_sdk").addHandler(type("H", (logging.Handler,), {{"emit": lambda self, r: warnings.append(r)}})(logging.WARNING))
        from veriproof_sdk import VeriproofClientOptions, configure_veriproof
        handle = configure_veriproof(VeriproofClientOptions(application_id="loan-review", api_key={keys()!r}, endpoint={server.url!r}),
                                     service_name="scoring", set_global=True, resource_attributes={{"deployment.environment": "test"}})
        assert handle.tracer_provider is provider
        trace.get_tracer("app").start_span("joined").end()
        handle.shutdown()
        [span] = theirs.get_finished_spans()
        assert dict(span.resource.attributes) == dict(provider.resource.attributes), "the application's exporters see its resource unchanged"
        assert "veriproof.application.id" not in span.resource.attributes
        assert warnings == [], [r.getMessage() for r in warnings]
        """
    )
    assert done.returncode == 0, done.stderr
    [resource] = resources_sent(server)
    assert resource["veriproof.application.id"] == "loan-review"
    assert resource["deployment.environment"] == "test"  # ours win, as with a provider of ours
    assert resource["service.name"] == "scoring"
    assert resource["team"] == "risk"  # the application's own attributes are kept


def test_force_flush_and_shutdown_never_raise_when_the_service_is_down(keys: MakeKey, server: RecordingServer) -> None:
    server.stop()
    handle = configure_veriproof(
        VeriproofClientOptions(application_id="app", api_key=keys(), endpoint=server.url, export_timeout_millis=1_000), service_name="svc"
    )
    handle.tracer().start_span("nowhere").end()
    assert isinstance(handle.force_flush(timeout_millis=3_000), bool)  # it returns; it does not raise
    handle.shutdown()
    handle.shutdown()
