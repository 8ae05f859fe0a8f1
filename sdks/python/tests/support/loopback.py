"""The loopback HTTP servers the tests stand up (the recording collector and proxy, the federation
stub, the OpenID issuer): one way to start, answer and stop them."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterable, Mapping, Optional, Tuple, Type, Union

Headers = Union[Mapping[str, str], Iterable[Tuple[str, str]]]


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that keeps the test output clean and answers in one call."""

    def answer(self, status: int, headers: Headers, payload: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items() if isinstance(headers, Mapping) else headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        return None


def serve(handler: Type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
    """``handler`` served on 127.0.0.1 and a free port, from a daemon thread."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server


def close(server: Optional[ThreadingHTTPServer]) -> None:
    """Stops a server :func:`serve` started (nothing when there is none)."""
    if server is not None:
        server.shutdown()
        server.server_close()
