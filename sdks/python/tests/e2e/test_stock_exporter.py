"""Customers who do not install our SDK: the stock OpenTelemetry exporter with the key in x-api-key."""

from __future__ import annotations

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from tests.support.service import Service


def test_the_stock_otlp_exporter_alone_is_accepted(service: Service) -> None:
    slug = service.create_customer()
    key, _ = service.issue_key(slug, "stock-exporter")
    provider = TracerProvider(resource=Resource.create({"service.name": "plain-otel"}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{service.url}/v1/traces", headers={"x-api-key": key})))
    provider.get_tracer("plain").start_span("checkout", attributes={"session.id": "stock-1"}).end()
    provider.shutdown()
    found = service.wait_for_sessions(slug, "stock-exporter", ["stock-1"])
    assert found["stock-1"]["serviceName"] == "plain-otel"
    assert found["stock-1"]["spanCount"] == 1
