"""A local OTLP/HTTP endpoint that records what reaches it and answers as a test scripts it."""

from __future__ import annotations

import gzip
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from typing import Callable, Dict, List, Optional, Tuple

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.support.loopback import QuietHandler, close, serve

Answer = Tuple[int, Dict[str, str], bytes]


@dataclass
class Recorded:
    path: str
    headers: Dict[str, str]
    """Header names in lower case."""
    body: bytes
    """Decompressed."""

    def spans(self) -> List[object]:
        request = ExportTraceServiceRequest()
        request.ParseFromString(self.body)
        return [span for rs in request.resource_spans for ss in rs.scope_spans for span in ss.spans]

    def span_names(self) -> List[str]:
        return [getattr(span, "name") for span in self.spans()]


@dataclass
class RecordingServer:
    """Answers each request with the next scripted answer (then 200), recording it first."""

    answers: List[Answer] = field(default_factory=list)
    requests: List[Recorded] = field(default_factory=list)
    on_request: Optional[Callable[[Recorded], None]] = None
    _server: Optional[ThreadingHTTPServer] = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def answer(self, status: int, headers: Optional[Dict[str, str]] = None, body: bytes = b"") -> None:
        self.answers.append((status, headers or {}, body))

    def start(self) -> "RecordingServer":
        recorder = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                body = gzip.decompress(raw) if self.headers.get("Content-Encoding") == "gzip" else raw
                recorded = Recorded(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                recorder.requests.append(recorded)
                if recorder.on_request is not None:
                    recorder.on_request(recorded)
                status, headers, payload = recorder.answers.pop(0) if recorder.answers else (200, {}, b"")
                self.answer(status, headers, payload)

        self._server = serve(Handler)
        return self

    def stop(self) -> None:
        close(self._server)
