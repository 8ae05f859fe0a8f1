"""The real service for end-to-end tests: the built local host (the code `npm start` runs) with its
own Azurite, and a small client for the staff and portal APIs."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

REPO = Path(__file__).resolve().parents[4]
START_SCRIPT = REPO / "dist" / "local" / "start.js"
ISSUER = "veriproof-portal-local"
AUDIENCE = "veriproof-keys"


def node_binary() -> str:
    """The project's own Node 22 (the `node` dev dependency), else the machine's."""
    pinned = REPO / "node_modules" / ".bin" / ("node.cmd" if os.name == "nt" else "node")
    return str(pinned) if pinned.exists() else (shutil.which("node") or "node")


@dataclass
class Service:
    url: str
    jwt_secret: str
    process: subprocess.Popen[str]
    output: List[str] = field(default_factory=list)
    issued: List[str] = field(default_factory=list)
    """Every key issued through this client (the log checks look for them)."""

    # Portal tokens, signed the way the local portal signs them (HS256 with the local secret).
    def token(self, role: str, customer: Optional[str] = None) -> str:
        now = int(time.time())
        claims: Dict[str, Any] = {"sub": f"pytest-{role.lower()}", "name": f"pytest {role}", "roles": [role],
                                  "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 3600}
        if customer is not None:
            claims["customer"] = customer
        encode = lambda part: base64.urlsafe_b64encode(json.dumps(part, separators=(",", ":")).encode()).rstrip(b"=")
        signing_input = encode({"alg": "HS256", "typ": "JWT"}) + b"." + encode(claims)
        signature = base64.urlsafe_b64encode(hmac.new(self.jwt_secret.encode(), signing_input, hashlib.sha256).digest()).rstrip(b"=")
        return (signing_input + b"." + signature).decode()

    def call(self, method: str, path: str, token: Optional[str] = None, body: Optional[Dict[str, Any]] = None) -> Tuple[int, Any]:
        headers = {"content-type": "application/json"} if body is not None else {}
        if token is not None:
            headers["authorization"] = f"Bearer {token}"
        request = urllib.request.Request(self.url + path, method=method, headers=headers,
                                         data=json.dumps(body).encode() if body is not None else None)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                raw = response.read()
                return response.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as error:
            raw = error.read()
            return error.code, json.loads(raw) if raw else None

    def expect(self, status: int, method: str, path: str, token: Optional[str] = None, body: Optional[Dict[str, Any]] = None) -> Any:
        got, answer = self.call(method, path, token, body)
        assert got == status, f"{method} {path}: {got} {answer}"
        return answer

    # The staff and portal APIs, as a customer's admin and our staff use them.
    def create_customer(self, plan: str = "pro") -> str:
        slug = f"py{secrets.token_hex(4)}"
        self.expect(201, "POST", "/v1/staff/customers", self.token("Staff"), {"slug": slug, "name": f"Pytest {slug}", "plan": plan})
        return slug

    def issue_key(self, slug: str, label: str, application: str = "loan-review") -> Tuple[str, str]:
        answer = self.expect(201, "POST", "/v1/customer-keys/issue", self.token("CustomerAdmin", slug), {"label": label, "application": application})
        self.issued.append(answer["key"])
        return answer["key"], answer["metadata"]["id"]

    def revoke_key(self, slug: str, key_id: str) -> None:
        self.expect(204, "DELETE", f"/v1/customer-keys/{key_id}?force=true", self.token("CustomerAdmin", slug))

    def limit_key(self, slug: str, key_id: str, per_second: int, burst: int) -> None:
        self.expect(200, "PATCH", f"/v1/staff/customers/{slug}/keys/{key_id}", self.token("Staff"),
                    {"rateLimit": {"requestsPerSecond": per_second, "burst": burst}})

    def sessions(self, slug: str, key_label: str) -> Dict[str, Dict[str, Any]]:
        """The customer's sessions sent with the key labelled ``key_label``, by session id."""
        answer = self.expect(200, "GET", f"/v1/sessions?keyLabel={key_label}&limit=100", self.token("CustomerAdmin", slug))
        return {s["sessionId"]: s for s in answer["sessions"]}

    def wait_for_sessions(self, slug: str, key_label: str, ids: List[str], timeout: float = 20) -> Dict[str, Dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            found = self.sessions(slug, key_label)
            if all(i in found for i in ids) or time.monotonic() > deadline:
                return found
            time.sleep(0.2)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()


def start_service() -> Tuple[Service, Path]:
    """Starts ``dist/local/start.js --port 0 --no-demo`` with a fresh Azurite in a temporary folder."""
    if not START_SCRIPT.exists():
        subprocess.run(["npm", "run", "build", "--silent"], cwd=REPO, check=True)
    data_dir = Path(tempfile.mkdtemp(prefix="veriproof-e2e-"))
    jwt_secret = secrets.token_urlsafe(32)
    env = {
        **os.environ,
        "LOCAL_DATA_DIR": str(data_dir),
        "AZURITE_TABLE_PORT": "0",
        "PORTAL_JWT_SECRET": jwt_secret,
        "PORTAL_JWT_ISSUER": ISSUER,
        "PORTAL_JWT_AUDIENCE": AUDIENCE,
        "USAGE_FLUSH_INTERVAL_MS": "1000",
    }
    process = subprocess.Popen([node_binary(), str(START_SCRIPT), "--port", "0", "--no-demo"], cwd=REPO, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
    output: List[str] = []
    listening = threading.Event()
    found: List[str] = []

    def drain() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            match = re.search(r"listening on http://localhost:(\d+)", line)
            if match and not found:
                found.append(f"http://127.0.0.1:{match.group(1)}")
                listening.set()

    threading.Thread(target=drain, daemon=True).start()
    deadline = time.monotonic() + 90
    while not listening.wait(0.2):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("the local host did not start:\n" + "".join(output))
    return Service(url=found[0], jwt_secret=jwt_secret, process=process, output=output), data_dir
