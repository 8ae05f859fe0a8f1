"""session(): session.id on every span started inside it, kept apart between tasks."""

from __future__ import annotations

import asyncio

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import veriproof_sdk
from veriproof_sdk._session import SessionSpanProcessor


@pytest.fixture
def recorded() -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SessionSpanProcessor())
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def sessions_by_name(exporter: InMemorySpanExporter) -> dict[str, object]:
    return {span.name: (span.attributes or {}).get("session.id") for span in exporter.get_finished_spans()}


def test_spans_inside_a_session_carry_its_id_and_spans_outside_do_not(recorded: tuple[TracerProvider, InMemorySpanExporter]) -> None:
    provider, exporter = recorded
    tracer = provider.get_tracer("test")
    with veriproof_sdk.session("visit-42") as session_id:
        assert session_id == "visit-42"
        assert veriproof_sdk.current_session() == "visit-42"
        with tracer.start_as_current_span("outer"):
            tracer.start_span("inner").end()
    tracer.start_span("after").end()
    assert veriproof_sdk.current_session() is None
    assert sessions_by_name(exporter) == {"outer": "visit-42", "inner": "visit-42", "after": None}


def test_a_nested_session_wins_inside_and_the_outer_one_returns_after(recorded: tuple[TracerProvider, InMemorySpanExporter]) -> None:
    provider, exporter = recorded
    tracer = provider.get_tracer("test")
    with veriproof_sdk.session("outer"):
        with veriproof_sdk.session("inner"):
            tracer.start_span("a").end()
        tracer.start_span("b").end()
    assert sessions_by_name(exporter) == {"a": "inner", "b": "outer"}


def test_a_span_s_own_session_id_wins(recorded: tuple[TracerProvider, InMemorySpanExporter]) -> None:
    provider, exporter = recorded
    with veriproof_sdk.session("context"):
        provider.get_tracer("test").start_span("own", attributes={"session.id": "explicit"}).end()
    assert sessions_by_name(exporter) == {"own": "explicit"}


def test_concurrent_asyncio_tasks_keep_their_own_sessions(recorded: tuple[TracerProvider, InMemorySpanExporter]) -> None:
    provider, exporter = recorded
    tracer = provider.get_tracer("test")

    async def visit(n: int) -> None:
        with veriproof_sdk.session(f"visit-{n}"):
            await asyncio.sleep(0)  # let the other tasks run inside their sessions
            with tracer.start_as_current_span(f"span-{n}"):
                await asyncio.sleep(0)

    async def main() -> None:
        await asyncio.gather(*(visit(n) for n in range(20)))

    asyncio.run(main())
    assert sessions_by_name(exporter) == {f"span-{n}": f"visit-{n}" for n in range(20)}


@pytest.mark.parametrize("bad", ["", "x" * 257, None, 7])
def test_refuses_a_session_id_that_is_not_1_to_256_characters(bad: object) -> None:
    with pytest.raises(ValueError):
        with veriproof_sdk.session(bad):  # type: ignore[arg-type]
            pass
