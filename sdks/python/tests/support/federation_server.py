"""A local stand-in for the service's token exchange and ingest, GitHub Actions' token endpoint and
Google's metadata server.

- ``POST /v1/oauth/token``: records the form; answers the next scripted answer, else a new ingest
  token (``{access_token, issued_token_type, token_type, expires_in}``). ``gate``, when set, holds
  every exchange until the test releases it.
- ``POST /v1/traces``: records the request; 401 when its bearer token is one the test refuses
  (``refuse``, or every token with ``refuse_all``), else 200.
- ``GET /github/idtoken?...&audience=...``: GitHub Actions' OIDC endpoint; answers ``{"value": ...}``
  when the ``Authorization`` header is ``bearer {github_request_token}``.
- ``GET /computeMetadata/v1/instance/service-accounts/default/identity?audience=...``: Google's
  metadata server; answers ``google_token`` (or ``google_answer``) to ``Metadata-Flavor: Google``.
"""

from __future__ import annotations

import gzip
import json
import secrets
import threading
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from typing import Dict, List, Optional, Set, Tuple
from urllib.parse import parse_qs, parse_qsl, urlsplit

from tests.support.loopback import QuietHandler, close, serve
from tests.support.recording_server import Recorded


Answer = Tuple[int, Dict[str, str], bytes]


@dataclass
class Exchange:
    form: Dict[str, str]
    headers: Dict[str, str]
    """Header names in lower case."""
    raw: bytes


def error_answer(code: str, status: int = 400) -> Answer:
    """An RFC 6749 error, as the service sends it."""
    return status, {"Content-Type": "application/json"}, json.dumps({"error": code, "error_description": "refused"}).encode()


@dataclass
class StubService:
    expires_in: int = 900
    token_answers: List[Answer] = field(default_factory=list)
    exchanges: List[Exchange] = field(default_factory=list)
    issued: List[str] = field(default_factory=list)
    traces: List[Recorded] = field(default_factory=list)
    refuse: Set[str] = field(default_factory=set)
    refuse_all: bool = False
    gate: Optional[threading.Event] = None
    exchange_arrived: threading.Event = field(default_factory=threading.Event)
    github_request_token: str = field(default_factory=lambda: f"ghs_{secrets.token_urlsafe(24)}")
    github_token: str = field(default_factory=lambda: f"eyJ.github-{secrets.token_urlsafe(24)}.sig")
    github_status: int = 200
    github_requests: List[Tuple[Dict[str, List[str]], Dict[str, str]]] = field(default_factory=list)
    google_token: str = field(default_factory=lambda: f"eyJ.google-{secrets.token_urlsafe(24)}.sig")
    google_answer: Optional[Answer] = None
    google_requests: List[Tuple[List[Tuple[str, str]], Dict[str, str]]] = field(default_factory=list)
    other_requests: List[str] = field(default_factory=list)
    _server: Optional[ThreadingHTTPServer] = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> "StubService":
        stub = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                if self.path == "/v1/oauth/token":
                    stub.exchanges.append(Exchange(dict(parse_qsl(raw.decode(), keep_blank_values=True)), headers, raw))
                    stub.exchange_arrived.set()
                    if stub.gate is not None:
                        stub.gate.wait(10)
                    self.answer(*(stub.token_answers.pop(0) if stub.token_answers else stub.new_token()))
                elif self.path == "/v1/traces":
                    body = gzip.decompress(raw) if headers.get("content-encoding") == "gzip" else raw
                    stub.traces.append(Recorded(self.path, headers, body))
                    token = headers.get("authorization", "").removeprefix("Bearer ")
                    if stub.refuse_all or token in stub.refuse:
                        self.answer(401, {"Content-Type": "application/problem+json"}, b'{"code":"token_invalid","status":401}')
                    else:
                        self.answer(200, {}, b"")
                else:
                    stub.other_requests.append(self.path)
                    self.answer(404, {}, b"")

            def do_GET(self) -> None:  # noqa: N802
                parts = urlsplit(self.path)
                if parts.path == "/computeMetadata/v1/instance/service-accounts/default/identity":
                    headers = {k.lower(): v for k, v in self.headers.items()}
                    stub.google_requests.append((parse_qsl(parts.query), headers))
                    if headers.get("metadata-flavor") != "Google":
                        self.answer(403, {}, b"Missing Metadata-Flavor:Google header.")
                    elif stub.google_answer is not None:
                        self.answer(*stub.google_answer)
                    else:
                        self.answer(200, {"Content-Type": "text/html", "Metadata-Flavor": "Google"}, f"{stub.google_token}\n".encode())
                    return
                if parts.path != "/github/idtoken":
                    stub.other_requests.append(self.path)
                    self.answer(404, {}, b"")
                    return
                headers = {k.lower(): v for k, v in self.headers.items()}
                stub.github_requests.append((parse_qs(parts.query), headers))
                if stub.github_status != 200 or headers.get("authorization") != f"bearer {stub.github_request_token}":
                    self.answer(stub.github_status if stub.github_status != 200 else 401, {}, b'{"message":"no"}')
                    return
                self.answer(200, {"Content-Type": "application/json"}, json.dumps({"count": 1, "value": stub.github_token}).encode())

        self._server = serve(Handler)
        return self

    def new_token(self, expires_in: Optional[int] = None) -> Answer:
        token = f"vpat_{secrets.token_urlsafe(32)}"
        self.issued.append(token)
        body = {
            "access_token": token,
            "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
            "token_type": "Bearer",
            "expires_in": self.expires_in if expires_in is None else expires_in,
        }
        return 200, {"Content-Type": "application/json", "Cache-Control": "no-store"}, json.dumps(body).encode()

    def bearer_tokens(self) -> List[str]:
        """The token each ingest request carried (``Authorization: Bearer ...``)."""
        return [r.headers.get("authorization", "").removeprefix("Bearer ") for r in self.traces]

    def stop(self) -> None:
        if self._server is not None:
            if self.gate is not None:
                self.gate.set()
            close(self._server)
