"""Ready identity-token providers: GitHub Actions, Azure (managed identity, workload identity, ...),
Google (the metadata server) and a token file (Kubernetes' projected service-account tokens).

Each is a callable returning the identity token, to give as
``VeriproofClientOptions(identity_token_provider=...)``. The SDK calls it only when it exchanges
(at the first export, then ahead of each ingest token's expiry), so no caching is needed here.
Errors are :class:`IdentityTokenError` with a message that says what to fix, never a token.
"""

from __future__ import annotations

import errno
import importlib
import os
import re
from typing import Any, Callable, Optional, Protocol, TypeVar
from urllib.parse import quote

import requests

from ._federation import USER_AGENT, IdentityTokenError

GITHUB_REQUEST_URL_ENV = "ACTIONS_ID_TOKEN_REQUEST_URL"
GITHUB_REQUEST_TOKEN_ENV = "ACTIONS_ID_TOKEN_REQUEST_TOKEN"


_P = TypeVar("_P", bound="_AudienceTokenProvider")


class _AudienceTokenProvider:
    """A provider that asks a platform's endpoint over HTTP for a token for one audience (by default
    the customer's slug, which the SDK passes through ``with_default_audience``)."""

    def __init__(self, audience: Optional[str] = None, *, timeout: float = 10.0, session: Optional[requests.Session] = None) -> None:
        if audience is not None and (not isinstance(audience, str) or not audience.strip()):
            raise ValueError(f"{type(self).__name__}'s audience must be a non-empty string.")
        self.audience = audience
        self._timeout = timeout
        self._session = session

    def with_default_audience(self: _P, audience: str) -> _P:
        """This provider, asking for ``audience`` unless it was given one (the SDK passes the customer's slug)."""
        if self.audience is not None:
            return self
        return type(self)(audience, timeout=self._timeout, session=self._session)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(audience={self.audience!r})"

    def _audience(self) -> str:
        if self.audience is None:
            raise IdentityTokenError(f"{type(self).__name__} needs an audience (the SDK gives the customer's slug).")
        return self.audience


class GitHubActionsIdentityToken(_AudienceTokenProvider):
    """The job's OIDC token from GitHub Actions, for ``audience`` (by default the customer's slug).

    The job needs ``permissions: id-token: write``, which makes GitHub set
    ``ACTIONS_ID_TOKEN_REQUEST_URL`` and ``ACTIONS_ID_TOKEN_REQUEST_TOKEN``; the token is asked
    for with ``GET {ACTIONS_ID_TOKEN_REQUEST_URL}&audience={audience}`` and
    ``Authorization: bearer {ACTIONS_ID_TOKEN_REQUEST_TOKEN}``. Its issuer is
    ``https://token.actions.githubusercontent.com``; its subject ``repo:{owner}/{repo}:ref:refs/heads/{branch}``
    (or ``...:environment:{name}``, ``...:pull_request``). Without ``audience`` the SDK asks for the
    customer's slug (``VeriproofClientOptions.customer``): the trust policy's audience.
    """

    def __call__(self) -> str:
        audience = self._audience()
        url = os.environ.get(GITHUB_REQUEST_URL_ENV, "").strip()
        request_token = os.environ.get(GITHUB_REQUEST_TOKEN_ENV, "").strip()
        if not url or not request_token:
            raise IdentityTokenError(
                f"{GITHUB_REQUEST_URL_ENV} and {GITHUB_REQUEST_TOKEN_ENV} are not set: run in a GitHub Actions job "
                "with `permissions: id-token: write`."
            )
        session = self._session or requests.Session()
        try:
            response = session.get(
                f"{url}{'&' if '?' in url else '?'}audience={quote(audience, safe='')}",
                headers={"Authorization": f"bearer {request_token}", "Accept": "application/json", "User-Agent": USER_AGENT},
                timeout=self._timeout,
                allow_redirects=False,
            )
        except requests.RequestException as error:
            raise IdentityTokenError(f"GitHub Actions' token endpoint could not be reached ({type(error).__name__}).") from None
        finally:
            if self._session is None:
                session.close()
        with response:
            if response.status_code != 200:
                raise IdentityTokenError(
                    f"GitHub Actions' token endpoint answered {response.status_code}; check the job's `permissions: id-token: write`."
                )
            try:
                value = response.json().get("value")
            except (ValueError, AttributeError):
                value = None
        if not isinstance(value, str) or not value:
            raise IdentityTokenError("GitHub Actions' token endpoint answered without a token.")
        return value


class _AccessToken(Protocol):
    @property
    def token(self) -> str: ...


class TokenCredential(Protocol):
    """What :class:`AzureIdentityToken` needs of a credential: azure-identity's credentials
    (``DefaultAzureCredential``, ``ManagedIdentityCredential``, ``WorkloadIdentityCredential``, ...)."""

    def get_token(self, *scopes: str, **kwargs: Any) -> _AccessToken: ...


def _default_azure_credential(import_module: Callable[[str], Any] = importlib.import_module) -> TokenCredential:
    try:
        identity = import_module("azure.identity")
    except ImportError:
        raise IdentityTokenError(
            "AzureIdentityToken needs the azure-identity package: pip install 'veriproof-sdk[azure]' "
            "(or give it a credential of your own)."
        ) from None
    credential: TokenCredential = identity.DefaultAzureCredential()
    return credential


class AzureIdentityToken:
    """A Microsoft Entra token for ``scope`` (``api://{app-id}/.default``, the app registration that
    stands for Veriproof in your tenant), from azure-identity's ``DefaultAzureCredential`` (managed
    identity, workload identity, environment, Azure CLI, ...) or the ``credential`` given.

    azure-identity is an optional extra, imported at the first exchange:
    ``pip install 'veriproof-sdk[azure]'``. The credential caches and renews its own tokens.
    With the app registration's ``requestedAccessTokenVersion`` at 2, the token's issuer is
    ``https://login.microsoftonline.com/{tenant}/v2.0``, its audience the app's client id and its
    subject the workload identity's object id.
    """

    def __init__(self, scope: str, *, credential: Optional[TokenCredential] = None) -> None:
        if not isinstance(scope, str) or not scope.strip():
            raise ValueError("AzureIdentityToken needs a scope, e.g. 'api://<app-id>/.default'.")
        self.scope = scope.strip()
        self._credential = credential

    def __repr__(self) -> str:
        return f"AzureIdentityToken(scope={self.scope!r})"

    def __call__(self) -> str:
        credential = self._credential
        if credential is None:
            credential = self._credential = _default_azure_credential()
        try:
            token = credential.get_token(self.scope).token
        except IdentityTokenError:
            raise
        except Exception as error:
            raise IdentityTokenError(
                f"The Azure credential could not get a token for {self.scope} ({type(error).__name__}); "
                "check the identity the workload runs as and the app registration behind the scope."
            ) from error
        if not isinstance(token, str) or not token:
            raise IdentityTokenError(f"The Azure credential returned no token for {self.scope}.")
        return token


GCE_METADATA_HOST_ENV = "GCE_METADATA_HOST"
_GOOGLE_METADATA_HOST = "metadata.google.internal"
_GOOGLE_IDENTITY_PATH = "/computeMetadata/v1/instance/service-accounts/default/identity"


def google_metadata_base() -> str:
    """The metadata server's base URL: ``GCE_METADATA_HOST`` (``host[:port]``, as Google's client
    libraries read it; a scheme is kept if given), else ``http://metadata.google.internal``."""
    host = os.environ.get(GCE_METADATA_HOST_ENV, "").strip() or _GOOGLE_METADATA_HOST
    base = host if re.match(r"^https?://", host, re.IGNORECASE) else f"http://{host}"
    return base.rstrip("/")


class GoogleIdentityToken(_AudienceTokenProvider):
    """An identity token of the service account the workload runs as on Google Cloud (Compute
    Engine, GKE with Workload Identity, Cloud Run, Cloud Functions, App Engine), for ``audience``
    (by default the customer's slug), from the metadata server:
    ``GET http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/identity?audience={audience}&format=full``
    with ``Metadata-Flavor: Google``. ``GCE_METADATA_HOST`` points it elsewhere, as it does Google's
    client libraries. The token's issuer is ``https://accounts.google.com``, its subject the service
    account's unique id (a number), its ``email`` the service account's address.
    """

    def __call__(self) -> str:
        audience = self._audience()
        base = google_metadata_base()
        session = self._session or requests.Session()
        try:
            response = session.get(
                f"{base}{_GOOGLE_IDENTITY_PATH}?audience={quote(audience, safe='')}&format=full",
                headers={"Metadata-Flavor": "Google", "User-Agent": USER_AGENT},
                timeout=self._timeout,
                allow_redirects=False,
            )
        except requests.RequestException as error:
            raise IdentityTokenError(
                f"The metadata server at {base} could not be reached ({type(error).__name__}): run on Google Cloud, "
                f"or set {GCE_METADATA_HOST_ENV}."
            ) from None
        finally:
            if self._session is None:
                session.close()
        with response:
            if response.status_code != 200:
                raise IdentityTokenError(
                    f"The metadata server answered {response.status_code} for an identity token; "
                    "check that the workload runs as a service account."
                )
            # What Google's client libraries check too: a server that is not the metadata server does not say this.
            if response.headers.get("Metadata-Flavor") != "Google":
                raise IdentityTokenError(f"The server at {base} is not a metadata server (no `Metadata-Flavor: Google` in its answer).")
            token = response.text.strip()
        if not token or re.search(r"\s", token):
            raise IdentityTokenError("The metadata server answered without a token.")
        return token


_MAX_TOKEN_FILE_BYTES = 64 * 1024
"""A token file larger than this is refused unread past it (a JWT is a few kilobytes)."""


class FileIdentityToken:
    """The identity token in a file, read again at every exchange: Kubernetes' projected
    service-account token (a ``serviceAccountToken`` volume source with an ``audience``), which the
    kubelet rewrites before it expires; or any file a platform keeps fresh
    (``AZURE_FEDERATED_TOKEN_FILE``, ``AWS_WEB_IDENTITY_TOKEN_FILE``). A Kubernetes token's issuer
    is the cluster's service-account issuer, its subject ``system:serviceaccount:{namespace}:{name}``.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        if not isinstance(path, (str, os.PathLike)) or not str(path).strip():
            raise ValueError("FileIdentityToken needs the path of the token file.")
        self.path = os.fspath(path)

    def __repr__(self) -> str:
        return f"FileIdentityToken(path={self.path!r})"

    def __call__(self) -> str:
        try:
            with open(self.path, "rb") as file:
                data = file.read(_MAX_TOKEN_FILE_BYTES + 1)
        except FileNotFoundError:
            raise IdentityTokenError(
                f"The identity token file {self.path} does not exist: check the volume that projects it (its mountPath and path)."
            ) from None
        except OSError as error:
            # The error's code (EACCES, EISDIR, ...), never its text.
            code = errno.errorcode.get(error.errno or 0, type(error).__name__)
            raise IdentityTokenError(f"The identity token file {self.path} could not be read ({code}).") from None
        if len(data) > _MAX_TOKEN_FILE_BYTES:
            raise IdentityTokenError(f"The identity token file {self.path} is larger than 64 KiB: not a token.")
        token = data.decode("utf-8", errors="replace").strip()
        if not token:
            raise IdentityTokenError(f"The identity token file {self.path} is empty.")
        if re.search(r"\s", token):
            raise IdentityTokenError(f"The identity token file {self.path} holds more than one token (it has whitespace inside).")
        return token

