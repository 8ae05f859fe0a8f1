"""One user interaction, one session: ``session.id`` on every span started inside ``session()``."""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterator, Optional

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

SESSION_ID_ATTRIBUTE = "session.id"
"""The attribute that names a session (OpenTelemetry semantic conventions)."""

_MAX_SESSION_ID_LENGTH = 256

_current: ContextVar[Optional[str]] = ContextVar("veriproof_session_id", default=None)


@contextmanager
def session(session_id: str) -> Iterator[str]:
    """Every span started inside the ``with`` block carries ``session.id = session_id``.

    It lives in a :class:`contextvars.ContextVar`, so it follows the code across ``await`` and
    stays apart between asyncio tasks and threads::

        with veriproof_sdk.session("visit-42"):
            with tracer.start_as_current_span("review"):
                ...
    """
    if not isinstance(session_id, str) or not 1 <= len(session_id) <= _MAX_SESSION_ID_LENGTH:
        raise ValueError(f"A session id is a string of 1 to {_MAX_SESSION_ID_LENGTH} characters.")
    token = _current.set(session_id)
    try:
        yield session_id
    finally:
        _current.reset(token)


def current_session() -> Optional[str]:
    """The session the calling code runs in, if any."""
    return _current.get()


class SessionSpanProcessor(SpanProcessor):
    """Stamps ``session.id`` on spans started inside :func:`session` (a span's own value wins)."""

    def on_start(self, span: Span, parent_context: Optional[Context] = None) -> None:
        session_id = _current.get()
        if session_id is not None and (span.attributes is None or SESSION_ID_ATTRIBUTE not in span.attributes):
            span.set_attribute(SESSION_ID_ATTRIBUTE, session_id)

    def on_end(self, span: ReadableSpan) -> None:
        return None

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True
