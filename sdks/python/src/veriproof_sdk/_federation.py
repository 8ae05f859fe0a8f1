"""Keyless ingest: an identity token from the workload's platform, exchanged for a short-lived ingest token.

The exchange is RFC 8693 at ``{endpoint}/v1/oauth/token``: a form with
``grant_type=urn:ietf:params:oauth:grant-type:token-exchange``, the identity token as
``subject_token`` (``subject_token_type=urn:ietf:params:oauth:token-type:jwt``) and the customer's
slug as ``audience``; the answer is ``{access_token, issued_token_type, token_type: "Bearer",
expires_in}``, or RFC 6749's ``{error, error_description}`` with status 400.

:class:`FederatedCredential` exchanges lazily (at the first export), keeps the ingest token, and
exchanges again ahead of its expiry: after 80 % of its lifetime or 60 s before it ends, whichever
comes first (never before half of it). Concurrent exports share one exchange. When the service
refuses the ingest token (401), :meth:`FederatedCredential.forget` drops it so the next call
exchanges again.

Neither the identity token nor the ingest token is ever logged, raised or put into an
exception's text: errors name the customer, the status and the RFC 6749 error code.
"""

from __future__ import annotations

import inspect
import re
import threading
import time
from dataclasses import dataclass
from typing import Callable, Optional

import requests

from ._api_key import ApiKey, bearer_token

TOKEN_PATH = "/v1/oauth/token"
GRANT_TYPE = "urn:ietf:params:oauth:grant-type:token-exchange"
SUBJECT_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:jwt"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
USER_AGENT = "veriproof-sdk-python/0.1.0"

# An ingest token travels in a header: printable ASCII without spaces, of a sane length.
_ACCESS_TOKEN = re.compile(r"[\x21-\x7e]{1,4096}")
_ERROR_CODE = re.compile(r"[a-z_]{1,40}")
# How far ahead of an ingest token's end a new one is exchanged (the earlier of the two).
_REFRESH_FRACTION = 0.8
_REFRESH_BEFORE_END = 60.0
# A refresh that failed while the token still serves is tried again after at most this long.
_REFRESH_RETRY = 30.0
# A token is not sent in its last seconds (an export may take that long to arrive).
_END_MARGIN = 10.0


class IdentityTokenError(Exception):
    """A ready identity-token provider could not get a token (its message says why, never a token)."""


class TokenExchangeError(Exception):
    """The SDK has no ingest token: the identity-token provider failed, or the service refused the
    exchange. The message names the customer, the HTTP status and the RFC 6749 ``error`` code;
    it never contains the identity token or an ingest token."""

    def __init__(self, message: str, *, status: Optional[int] = None, error: Optional[str] = None, retry_in: Optional[float] = None) -> None:
        super().__init__(message)
        self.status = status
        """The token endpoint's HTTP status, when it answered."""
        self.error = error
        """RFC 6749's ``error`` code (``invalid_grant``, ``invalid_target``, ...), when the service sent one."""
        self.retry_in = retry_in
        """Seconds until the SDK exchanges again (the service refused this identity token); None: at the next export."""

    def again(self, retry_in: Optional[float]) -> "TokenExchangeError":
        """A fresh copy (each thread raises its own), with the time left until the next exchange."""
        return TokenExchangeError(str(self), status=self.status, error=self.error, retry_in=retry_in)


@dataclass(frozen=True)
class _Held:
    key: ApiKey
    refresh_at: float
    usable_until: float


class _Flight:
    """One exchange under way; the callers that arrived meanwhile wait for its outcome."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.waiters = 0
        self.key: Optional[ApiKey] = None
        self.error: Optional[TokenExchangeError] = None


def refresh_after(expires_in: float) -> float:
    """Seconds after an exchange at which the next one is due: 80 % of the lifetime or 60 s before
    its end, whichever is earlier, but not before half of it (for very short tokens)."""
    return max(min(expires_in * _REFRESH_FRACTION, expires_in - _REFRESH_BEFORE_END), expires_in / 2)


class FederatedCredential:
    """The ingest token for one customer, exchanged from the identity token ``identity_token_provider`` returns.

    :meth:`key` answers the ingest token (exchanging only when there is none, or a refresh is due);
    it raises :class:`TokenExchangeError` when there is none to give. Thread-safe; one exchange at
    a time (the others wait for it, or keep using a token that still serves).
    """

    def __init__(
        self,
        *,
        token_url: str,
        customer: str,
        identity_token_provider: Callable[[], object],
        timeout: float,
        pause: float,
        clock: Callable[[], float] = time.monotonic,
        session: Optional[requests.Session] = None,
    ) -> None:
        self._token_url = token_url
        self._customer = customer
        self._provider = identity_token_provider
        self._timeout = timeout
        self._pause = pause  # how long an identity token the service refused (400) is not exchanged again
        self._clock = clock
        self._session = session or requests.Session()
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)  # notified when a caller starts waiting (tests watch it)
        self._held: Optional[_Held] = None
        self._flight: Optional[_Flight] = None
        self._refused: Optional[tuple[float, TokenExchangeError]] = None  # (until, error)

    @property
    def customer(self) -> str:
        return self._customer

    def key(self) -> ApiKey:
        """The current ingest token; exchanges when none is held or a refresh is due."""
        with self._lock:
            now = self._clock()
            held = self._held
            if held is not None and now < held.refresh_at:
                return held.key
            serving = held is not None and now < held.usable_until
            flight = self._flight
            if flight is not None:
                if serving:
                    assert held is not None
                    return held.key  # a refresh is under way; this token still serves
                flight.waiters += 1
                self._changed.notify_all()
                leader = False
            else:
                refused = self._refused
                if refused is not None and now < refused[0]:
                    if serving:
                        assert held is not None
                        return held.key
                    raise refused[1].again(refused[0] - now)
                flight = self._flight = _Flight()
                leader = True
        if not leader:
            flight.done.wait()
            if flight.key is not None:
                return flight.key
            assert flight.error is not None
            raise flight.error.again(flight.error.retry_in)
        return self._lead(flight)

    def forget(self, rejected: ApiKey) -> None:
        """The service refused ``rejected`` (401): drop it, so the next :meth:`key` exchanges again."""
        with self._lock:
            if self._held is not None and self._held.key.fingerprint == rejected.fingerprint:
                self._held = None

    def _lead(self, flight: _Flight) -> ApiKey:
        started = self._clock()
        try:
            access_token, expires_in = self._exchange()
        except TokenExchangeError as error:
            with self._lock:
                now = self._clock()
                held = self._held
                if error.status is not None and 400 <= error.status < 500 and error.status != 429:
                    # The service refused this identity token: asking again at every export would
                    # only fill the customer's audit log. It is exchanged again after the pause.
                    error = error.again(self._pause)
                    self._refused = (now + self._pause, error)
                if held is not None and now < held.usable_until:
                    # A refresh failed, but the token still serves: keep it, try again soon.
                    retry = min(_REFRESH_RETRY, (held.usable_until - now) / 2)
                    self._held = _Held(held.key, now + retry, held.usable_until)
                    flight.key = held.key
                else:
                    flight.error = error
                self._flight = None
            flight.done.set()
            if flight.key is not None:
                return flight.key
            raise error.again(error.retry_in) from None
        key = bearer_token(access_token, self._customer)
        with self._lock:
            self._held = _Held(key, started + refresh_after(expires_in), started + expires_in - min(_END_MARGIN, expires_in / 4))
            self._refused = None
            self._flight = None
            flight.key = key
        flight.done.set()
        return key

    def _exchange(self) -> tuple[str, float]:
        """One exchange: the provider's identity token for an ingest token and its lifetime in seconds."""
        who = f"customer {self._customer}"
        try:
            identity_token = self._provider()
        except IdentityTokenError as error:
            raise TokenExchangeError(f"No identity token for {who}: {error}") from None
        except Exception as error:
            raise TokenExchangeError(f"The identity_token_provider failed ({type(error).__name__}).") from None
        if not isinstance(identity_token, str) or not identity_token.strip():
            if inspect.iscoroutine(identity_token):
                identity_token.close()  # never awaited: closed, so Python does not warn about it
            if isinstance(identity_token, str):
                what = "an empty string"
            elif inspect.isawaitable(identity_token):
                what = "an awaitable; give a function that returns the token itself"
            else:
                what = f"a {type(identity_token).__name__}"
            raise TokenExchangeError(f"The identity_token_provider returned no token (a non-empty str is needed; it returned {what}).")
        try:
            response = self._session.post(
                self._token_url,
                data={
                    "grant_type": GRANT_TYPE,
                    "subject_token": identity_token.strip(),
                    "subject_token_type": SUBJECT_TOKEN_TYPE,
                    "audience": self._customer,
                },
                headers={"Accept": "application/json", "User-Agent": USER_AGENT},
                timeout=self._timeout,
                allow_redirects=False,  # the identity token goes to the token endpoint and nowhere else
            )
        except requests.RequestException as error:
            raise TokenExchangeError(f"The token exchange for {who} could not reach the service ({type(error).__name__}).") from None
        with response:
            status = response.status_code
            try:
                body = response.json() if len(response.content) <= 64 * 1024 else None
            except ValueError:
                body = None
        if status != 200:
            code = body.get("error") if isinstance(body, dict) else None
            code = code if isinstance(code, str) and _ERROR_CODE.fullmatch(code) else None
            raise TokenExchangeError(
                f"The token exchange for {who} failed ({status}{f' {code}' if code else ''}): {_why(status, code, self._customer)}.",
                status=status,
                error=code,
            )
        token = body.get("access_token") if isinstance(body, dict) else None
        token_type = body.get("token_type") if isinstance(body, dict) else None
        expires_in = body.get("expires_in") if isinstance(body, dict) else None
        if (
            not isinstance(token, str)
            or not _ACCESS_TOKEN.fullmatch(token)
            or not isinstance(token_type, str)
            or token_type.lower() != "bearer"
            or isinstance(expires_in, bool)
            or not isinstance(expires_in, (int, float))
            or not 0 < expires_in <= 86_400
        ):
            raise TokenExchangeError(
                f"The token exchange for {who} failed: the service's answer is not a bearer token with its lifetime "
                "(is the endpoint a Veriproof service?).",
                status=status,
            )
        return token, float(expires_in)


def _why(status: int, code: Optional[str], customer: str) -> str:
    """What a refused exchange means, in the words of the error."""
    if code == "invalid_grant":
        return (
            f"no trust policy of {customer} accepts this identity token; check the policy's issuer, audience, "
            "subject and claims against the token (the customer's audit log has the reason)"
        )
    if code == "invalid_target":
        return f"the service has no customer {customer}; check the customer option (the customer's slug)"
    if code in ("invalid_request", "unsupported_grant_type"):
        return "the service did not take the request; this SDK may be older or newer than the service"
    if status == 429:
        return "too many exchanges; the next export tries again"
    if status >= 500:
        return "the service is unavailable; the next export tries again"
    return "the service refused the exchange"
