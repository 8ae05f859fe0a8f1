"""A Key Vault for the vendor docs' snippet: the real ``SecretClient`` of azure-keyvault-secrets,
its challenge-based authentication included, over an in-process transport that answers like the
Key Vault REST API. The secrets live in a JSON file, so a test can rotate one while the
application runs in another process."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import Any, Optional
from urllib.parse import urlsplit

import requests
from azure.core.credentials import AccessToken
from azure.core.pipeline.transport import RequestsTransport
from azure.core.rest._requests_basic import RestRequestsTransportResponse
from azure.keyvault.secrets import SecretClient

VAULT_URL = "https://veriproof-e2e.vault.azure.net"
_TOKEN = "pytest-access-token"


class StaticCredential:
    """Stands in for DefaultAzureCredential."""

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(_TOKEN, int(time.time()) + 3600)


class FileKeyVaultTransport(RequestsTransport):
    def __init__(self, secrets_file: Path) -> None:
        super().__init__()
        self._file = secrets_file

    def send(self, request: Any, **kwargs: Any) -> RestRequestsTransportResponse:
        if request.headers.get("Authorization") != f"Bearer {_TOKEN}":
            challenge = 'Bearer authorization="https://login.microsoftonline.com/tenant", resource="https://vault.azure.net"'
            return self._answer(request, 401, {"code": "Unauthorized"}, {"WWW-Authenticate": challenge})
        parts = urlsplit(request.url).path.strip("/").split("/")
        secrets = json.loads(self._file.read_text())
        if request.method != "GET" or len(parts) < 2 or parts[0] != "secrets" or parts[1] not in secrets:
            return self._answer(request, 404, {"error": {"code": "SecretNotFound", "message": "no such secret"}})
        value = secrets[parts[1]]
        return self._answer(request, 200, {"value": value, "id": f"{VAULT_URL}/secrets/{parts[1]}/1", "attributes": {"enabled": True}})

    @staticmethod
    def _answer(request: Any, status: int, body: Any, headers: Optional[dict[str, str]] = None) -> RestRequestsTransportResponse:
        response = requests.Response()
        response.status_code = status
        response.raw = io.BytesIO(json.dumps(body).encode())
        response.headers.update({"Content-Type": "application/json", **(headers or {})})
        response.url = request.url
        return RestRequestsTransportResponse(request=request, internal_response=response)


def secret_client(secrets_file: Path) -> SecretClient:
    return SecretClient(VAULT_URL, StaticCredential(), transport=FileKeyVaultTransport(secrets_file))  # type: ignore[arg-type]
