"""A pass-through in front of the real service that records what the SDK sends and what it is answered.

The SDK is pointed at the proxy's URL; each request goes to the service unchanged (method, path,
headers, body) and its answer comes back unchanged. The test then sees how many token exchanges
and exports the SDK made, the statuses, and the ingest token each export carried, which the
service, running in its own process, cannot show.
"""

from __future__ import annotations

import http.client
import threading
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from typing import List, Optional
from urllib.parse import urlsplit

from tests.support.loopback import QuietHandler, close, serve

# Not passed on: they describe one connection, not the request (RFC 9110 §7.6.1), or the proxy sets them itself.
_HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade", "host", "content-length"}
_SET_HERE = {"date", "server"}


@dataclass(frozen=True)
class Passed:
    method: str
    path: str
    """Without the query."""
    status: int
    authorization: Optional[str]

    @property
    def bearer(self) -> str:
        return (self.authorization or "").removeprefix("Bearer ")


@dataclass
class RecordingProxy:
    target: str
    passed: List[Passed] = field(default_factory=list)
    _server: Optional[ThreadingHTTPServer] = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def since(self, mark: int, path: str) -> List[Passed]:
        """The requests to ``path`` from the ``mark``-th on (``mark`` is a length of ``passed`` taken earlier)."""
        with self._lock:
            return [p for p in self.passed[mark:] if p.path == path]

    def mark(self) -> int:
        with self._lock:
            return len(self.passed)

    def start(self) -> "RecordingProxy":
        proxy = self
        target = urlsplit(self.target)
        host: str = target.hostname or "127.0.0.1"
        port: int = target.port or 80

        class Handler(QuietHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the SDK's session uses it

            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                self.forward()

            def do_POST(self) -> None:  # noqa: N802
                self.forward()

            def forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
                connection = http.client.HTTPConnection(host, port, timeout=30)
                try:
                    connection.request(self.command, self.path, body=body, headers=headers)
                    response = connection.getresponse()
                    payload = response.read()
                    answer_headers = [(k, v) for k, v in response.getheaders() if k.lower() not in _HOP_BY_HOP | _SET_HERE]
                    status = response.status
                finally:
                    connection.close()
                with proxy._lock:
                    proxy.passed.append(Passed(self.command, urlsplit(self.path).path, status, self.headers.get("Authorization")))
                self.answer(status, answer_headers, payload)

        self._server = serve(Handler)
        return self

    def stop(self) -> None:
        close(self._server)
