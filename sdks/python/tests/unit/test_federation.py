"""Without a key: the identity token exchanged for ingest tokens, against a stub token endpoint and
stub ingest (tests/support/federation_server.py). The exchange's form, the cache, the refresh ahead
of expiry on an injected clock, one exchange for concurrent callers, one re-exchange and one retry
on a 401, the errors, the ready providers (GitHub Actions, Azure, Google's metadata server, a token
file rewritten between exchanges), and never a token in the logs."""

from __future__ import annotations

import logging
import os
import secrets
import sys
import threading
import traceback
import types
import warnings
from typing import Any, Callable, Iterator, List, Optional, Sequence

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.support.federation_server import StubService, error_answer
from veriproof_sdk import (
    AzureIdentityToken,
    FileIdentityToken,
    GitHubActionsIdentityToken,
    GoogleIdentityToken,
    IdentityTokenError,
    TokenExchangeError,
    VeriproofClientOptions,
    configure_veriproof,
)
from veriproof_sdk._exporter import VeriproofSpanExporter
from veriproof_sdk._federation import FederatedCredential, refresh_after
from veriproof_sdk._providers import google_metadata_base

Provider = Callable[[], object]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> bool:
        self.now += seconds
        return False


def identity_token() -> str:
    """A JWT-shaped identity token (the stub does not verify it; the service does)."""
    return f"eyJhbGciOiJSUzI1NiJ9.{secrets.token_urlsafe(48)}.{secrets.token_urlsafe(48)}"


@pytest.fixture
def stub() -> Iterator[StubService]:
    service = StubService().start()
    yield service
    service.stop()


@pytest.fixture
def watched(stub: StubService, caplog: pytest.LogCaptureFixture) -> Iterator[List[str]]:
    """Identity tokens the test made; after it, neither they nor any ingest token the stub issued
    (nor GitHub's tokens) may appear in a log record."""
    caplog.set_level(logging.DEBUG)
    made: List[str] = []
    yield made
    # In teardown, caplog.records holds only the teardown's records: read every phase's.
    records = [r for phase in ("setup", "call") for r in caplog.get_records(phase)] + caplog.records
    logged = "\n".join(f"{r.getMessage()} {r.args}" for r in records)
    for token in [*made, *stub.issued, stub.github_token, stub.github_request_token, stub.google_token]:
        assert token not in logged, "a token was logged"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def token(watched: List[str]) -> str:
    value = identity_token()
    watched.append(value)
    return value


def make_credential(stub: StubService, provider: Provider, clock: FakeClock, *, pause: float = 60.0, customer: str = "acme") -> FederatedCredential:
    return FederatedCredential(
        token_url=f"{stub.url}/v1/oauth/token", customer=customer, identity_token_provider=provider, timeout=5.0, pause=pause, clock=clock
    )


def counting(value: str) -> "Counting":
    return Counting(value)


class Counting:
    """An identity-token provider that counts its calls."""

    def __init__(self, value: str) -> None:
        self.value = value
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        return self.value


def spans(*names: str) -> Sequence[ReadableSpan]:
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    for name in names:
        provider.get_tracer("test").start_span(name).end()
    return memory.get_finished_spans()


@pytest.fixture
def make_exporter(stub: StubService, clock: FakeClock) -> Iterator[Callable[[FederatedCredential], VeriproofSpanExporter]]:
    made: List[VeriproofSpanExporter] = []

    def make(credential: FederatedCredential) -> VeriproofSpanExporter:
        exporter = VeriproofSpanExporter(
            url=f"{stub.url}/v1/traces",
            resolve_key=credential.key,
            forget_key=credential.forget,
            timeout_millis=10_000,
            pause_millis=60_000,
            clock=clock,
            sleep=clock.sleep,
        )
        made.append(exporter)
        return exporter

    yield make
    for exporter in made:
        exporter.shutdown()


def printed(error: BaseException) -> str:
    """The exception as a traceback prints it, with whatever it chains."""
    return "".join(traceback.format_exception(type(error), error, error.__traceback__))


def veriproof_warnings(caplog: pytest.LogCaptureFixture) -> List[str]:
    return [r.getMessage() for r in caplog.records if r.name == "veriproof_sdk" and r.levelno >= logging.WARNING]


# --- the exchange, end to end through configure_veriproof -------------------------------------


def test_exchanges_once_at_the_first_export_and_sends_the_ingest_token_as_bearer_and_nothing_else(
    stub: StubService, token: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VERIPROOF_ENDPOINT", raising=False)
    monkeypatch.setenv("VERIPROOF_API_KEY", "ignored: the identity token provider is given")
    provider = counting(token)
    handle = configure_veriproof(
        VeriproofClientOptions(application_id="checkout", customer="acme", identity_token_provider=provider, endpoint=stub.url + "/"),
        service_name="checkout-deploy",
    )
    assert stub.exchanges == []  # lazily: nothing before the first export
    for name in ("one", "two", "three"):
        handle.tracer().start_span(name).end()
        assert handle.force_flush() is True
    handle.shutdown()

    [exchange] = stub.exchanges
    assert exchange.headers["content-type"] == "application/x-www-form-urlencoded"
    assert exchange.form == {
        "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
        "subject_token": token,
        "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
        "audience": "acme",
    }
    assert "authorization" not in exchange.headers
    assert provider.calls == 1
    [access_token] = stub.issued
    assert [r.span_names() for r in stub.traces] == [["one"], ["two"], ["three"]]
    for request in stub.traces:
        assert request.headers["authorization"] == f"Bearer {access_token}"
        assert "x-api-key" not in request.headers and "x-functions-key" not in request.headers
        assert token.encode() not in request.body
    assert veriproof_warnings(caplog) == []


# --- cache and refresh, on an injected clock ---------------------------------------------------


@pytest.mark.parametrize(("expires_in", "due"), [(900, 720), (300, 240), (3600, 2880), (100, 50)])
def test_refreshes_at_80_percent_or_60_s_before_the_end_whichever_is_earlier(
    stub: StubService, token: str, clock: FakeClock, expires_in: int, due: int
) -> None:
    assert refresh_after(expires_in) == due
    stub.expires_in = expires_in
    provider = counting(token)
    credential = make_credential(stub, provider, clock)
    first = credential.key()
    clock.now += due - 1
    assert credential.key() is first  # cached
    assert len(stub.exchanges) == 1
    clock.now += 1
    second = credential.key()
    assert second != first and len(stub.exchanges) == 2 and provider.calls == 2
    assert second.headers == {"Authorization": f"Bearer {stub.issued[1]}"}
    assert credential.key() is second


def test_a_failed_refresh_keeps_the_token_that_still_serves_and_tries_again_soon(
    stub: StubService, token: str, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    credential = make_credential(stub, counting(token), clock)
    first = credential.key()
    clock.now += 720  # refresh due; 180 s of life left
    stub.token_answers.append((503, {}, b""))
    assert credential.key() is first
    assert len(stub.exchanges) == 2
    clock.now += 29
    assert credential.key() is first and len(stub.exchanges) == 2  # not asked again at every export
    clock.now += 1
    renewed = credential.key()
    assert renewed != first and len(stub.exchanges) == 3


def test_a_token_past_its_end_is_not_used(stub: StubService, token: str, clock: FakeClock) -> None:
    credential = make_credential(stub, counting(token), clock)
    credential.key()
    clock.now += 900
    stub.token_answers.append((503, {}, b""))
    with pytest.raises(TokenExchangeError, match=r"\(503\): the service is unavailable"):
        credential.key()


# --- single flight -------------------------------------------------------------------------------


def test_concurrent_callers_share_one_exchange(stub: StubService, token: str, clock: FakeClock) -> None:
    stub.gate = threading.Event()
    provider = counting(token)
    credential = make_credential(stub, provider, clock)
    got: List[Any] = []

    def call() -> None:
        try:
            got.append(credential.key())
        except Exception as error:  # pragma: no cover (the assertions below say it)
            got.append(error)

    leader = threading.Thread(target=call)
    leader.start()
    assert stub.exchange_arrived.wait(10)  # the first caller's exchange is at the endpoint, held there
    others = [threading.Thread(target=call) for _ in range(7)]
    for thread in others:
        thread.start()
    with credential._changed:  # every other caller is waiting for that exchange
        all_waiting = credential._changed.wait_for(lambda: credential._flight is not None and credential._flight.waiters == 7, timeout=10)
    stub.gate.set()
    for thread in [leader, *others]:
        thread.join(10)
    assert all_waiting
    assert len(stub.exchanges) == 1 and provider.calls == 1
    assert len(got) == 8 and all(key is got[0] for key in got)


def test_concurrent_callers_share_one_failure(stub: StubService, token: str, clock: FakeClock) -> None:
    stub.gate = threading.Event()
    stub.token_answers.append(error_answer("invalid_grant"))
    credential = make_credential(stub, counting(token), clock)
    errors: List[BaseException] = []

    def call() -> None:
        try:
            credential.key()
        except TokenExchangeError as error:
            errors.append(error)

    threads = [threading.Thread(target=call) for _ in range(4)]
    threads[0].start()
    assert stub.exchange_arrived.wait(10)
    for thread in threads[1:]:
        thread.start()
    with credential._changed:
        all_waiting = credential._changed.wait_for(lambda: credential._flight is not None and credential._flight.waiters == 3, timeout=10)
    stub.gate.set()
    for thread in threads:
        thread.join(10)
    assert all_waiting
    assert len(stub.exchanges) == 1
    assert len(errors) == 4 and all(getattr(e, "error") == "invalid_grant" for e in errors)


# --- 401 from ingest: one re-exchange, one retry, no loop --------------------------------------


def test_a_401_exchanges_again_once_and_sends_that_export_again(
    stub: StubService, token: str, clock: FakeClock, make_exporter: Callable[[FederatedCredential], VeriproofSpanExporter], caplog: pytest.LogCaptureFixture
) -> None:
    exporter = make_exporter(make_credential(stub, counting(token), clock))
    assert exporter.export(spans("first")) is SpanExportResult.SUCCESS
    stub.refuse.add(stub.issued[0])  # the service no longer takes the first ingest token
    assert exporter.export(spans("second")) is SpanExportResult.SUCCESS
    assert len(stub.exchanges) == 2
    assert [r.span_names() for r in stub.traces] == [["first"], ["second"], ["second"]]
    assert stub.bearer_tokens() == [stub.issued[0], stub.issued[0], stub.issued[1]]
    assert exporter.export(spans("third")) is SpanExportResult.SUCCESS
    assert stub.bearer_tokens()[-1] == stub.issued[1] and len(stub.exchanges) == 2
    assert veriproof_warnings(caplog) == []
    # The stock exporter's own error line for the refused request is not shown either.
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_a_second_401_does_not_loop_it_warns_once_and_pauses(
    stub: StubService, token: str, clock: FakeClock, make_exporter: Callable[[FederatedCredential], VeriproofSpanExporter], caplog: pytest.LogCaptureFixture
) -> None:
    stub.refuse_all = True  # say, the trust policy was deleted
    exporter = make_exporter(make_credential(stub, counting(token), clock))
    assert exporter.export(spans("refused")) is SpanExportResult.FAILURE
    assert len(stub.exchanges) == 2 and len(stub.traces) == 2  # one re-exchange, one retry
    for _ in range(3):
        assert exporter.export(spans("paused")) is SpanExportResult.FAILURE
    assert len(stub.exchanges) == 2 and len(stub.traces) == 2
    [warning] = veriproof_warnings(caplog)
    assert warning.startswith("[veriproof] The service refused the ingest token of vp_cust_acme (401 token_invalid), also one exchanged just now:")
    assert "paused for 60 s" in warning
    clock.now += 61  # the pause is over: the token is tried, refused, exchanged once more
    assert exporter.export(spans("later")) is SpanExportResult.FAILURE
    assert len(stub.exchanges) == 3 and len(stub.traces) == 4


# --- exchange errors ------------------------------------------------------------------------------


def test_invalid_grant_is_a_clear_error_without_a_token_and_is_not_asked_again_until_the_pause_ends(
    stub: StubService, token: str, clock: FakeClock
) -> None:
    stub.token_answers.append(error_answer("invalid_grant"))
    credential = make_credential(stub, counting(token), clock, pause=60)
    with pytest.raises(TokenExchangeError) as refused:
        credential.key()
    error = refused.value
    assert (error.status, error.error, error.retry_in) == (400, "invalid_grant", 60)
    assert str(error).startswith("The token exchange for customer acme failed (400 invalid_grant): no trust policy of acme accepts this identity token")
    assert token not in printed(error)
    clock.now += 59
    with pytest.raises(TokenExchangeError, match="invalid_grant"):
        credential.key()
    assert len(stub.exchanges) == 1  # the audit log is not filled at every export
    clock.now += 1
    assert credential.key().headers == {"Authorization": f"Bearer {stub.issued[0]}"}
    assert len(stub.exchanges) == 2


@pytest.mark.parametrize(
    ("answer", "says", "paused"),
    [
        (error_answer("invalid_target"), "(400 invalid_target): the service has no customer acme; check the customer option", True),
        (error_answer("invalid_request"), "(400 invalid_request): the service did not take the request", True),
        ((429, {"Retry-After": "3"}, b""), "(429): too many exchanges", False),
        ((503, {}, b"<html>down</html>"), "(503): the service is unavailable", False),
        ((200, {"Content-Type": "application/json"}, b'{"access_token":"x","token_type":"mac","expires_in":900}'), "not a bearer token", False),
        ((200, {"Content-Type": "application/json"}, b'{"access_token":"a b","token_type":"Bearer","expires_in":900}'), "not a bearer token", False),
        ((200, {"Content-Type": "application/json"}, b'{"access_token":"x","token_type":"Bearer","expires_in":"900"}'), "not a bearer token", False),
        ((307, {"Location": "/elsewhere"}, b""), "failed (307)", False),
    ],
)
def test_other_exchange_failures_say_what_happened(
    stub: StubService, token: str, clock: FakeClock, answer: Any, says: str, paused: bool
) -> None:
    stub.token_answers.append(answer)
    credential = make_credential(stub, counting(token), clock)
    with pytest.raises(TokenExchangeError) as failed:
        credential.key()
    assert says in str(failed.value) and token not in str(failed.value)
    assert (failed.value.retry_in is not None) is paused
    if not paused:
        credential.key()  # a transient failure is retried at the next call
    assert len(stub.exchanges) == (1 if paused else 2)
    assert stub.other_requests == []  # a redirect is not followed: the identity token went nowhere else


def test_an_unreachable_token_endpoint_is_an_error_naming_the_customer(token: str, clock: FakeClock) -> None:
    dead = StubService().start()
    url = dead.url
    dead.stop()
    credential = FederatedCredential(
        token_url=f"{url}/v1/oauth/token", customer="acme", identity_token_provider=lambda: token, timeout=2.0, pause=60.0, clock=clock
    )
    with pytest.raises(TokenExchangeError, match=r"^The token exchange for customer acme could not reach the service \(ConnectionError\)\.$"):
        credential.key()


def test_the_exporter_warns_once_for_a_refused_exchange_and_drops_only_those_spans(
    stub: StubService, token: str, clock: FakeClock, make_exporter: Callable[[FederatedCredential], VeriproofSpanExporter], caplog: pytest.LogCaptureFixture
) -> None:
    stub.token_answers.append(error_answer("invalid_grant"))
    exporter = make_exporter(make_credential(stub, counting(token), clock))
    for _ in range(3):
        assert exporter.export(spans("lost")) is SpanExportResult.FAILURE
    assert veriproof_warnings(caplog) == [
        "[veriproof] The token exchange for customer acme failed (400 invalid_grant): no trust policy of acme accepts this identity "
        "token; check the policy's issuer, audience, subject and claims against the token (the customer's audit log has the reason). "
        "The spans of this export are dropped; the exchange is tried again in 60 s."
    ]
    assert len(stub.exchanges) == 1 and stub.traces == []
    clock.now += 60
    assert exporter.export(spans("kept")) is SpanExportResult.SUCCESS
    assert [r.span_names() for r in stub.traces] == [["kept"]]


# --- the identity-token provider failing ------------------------------------------------------------


def test_a_raising_provider_fails_the_exchange_naming_only_the_exception_type(stub: StubService, token: str, clock: FakeClock) -> None:
    def provider() -> str:
        raise RuntimeError(f"could not read {token}")  # a message that must not travel

    with pytest.raises(TokenExchangeError) as failed:
        make_credential(stub, provider, clock).key()
    assert str(failed.value) == "The identity_token_provider failed (RuntimeError)."
    assert token not in printed(failed.value)  # the provider's exception is not chained
    assert stub.exchanges == []


@pytest.mark.parametrize(
    ("returned", "says"),
    [("", "an empty string"), (None, "a NoneType"), (b"bytes", "a bytes")],
)
def test_a_provider_that_returns_no_token_is_refused(stub: StubService, clock: FakeClock, returned: object, says: str) -> None:
    with pytest.raises(TokenExchangeError, match=f"returned no token .*it returned {says}"):
        make_credential(stub, lambda: returned, clock).key()
    assert stub.exchanges == []


def test_an_async_provider_is_refused_with_a_clear_message_and_no_warning(stub: StubService, token: str, clock: FakeClock) -> None:
    async def provider() -> str:
        return token

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "coroutine was never awaited" would fail here
        with pytest.raises(TokenExchangeError, match="an awaitable; give a function that returns the token itself"):
            make_credential(stub, provider, clock).key()
    assert stub.exchanges == []


# --- options ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "says"),
    [
        ({"identity_token_provider": lambda: "t", "customer": "acme", "api_key": "k"}, ValueError, "either a key"),
        ({"identity_token_provider": lambda: "t", "customer": "acme", "api_key_provider": lambda: "k"}, ValueError, "either a key"),
        ({"identity_token_provider": lambda: "t"}, ValueError, "needs customer"),
        ({"customer": "acme"}, ValueError, "goes with identity_token_provider"),
        ({"identity_token_provider": lambda: "t", "customer": "Acme"}, ValueError, "slug"),
        ({"identity_token_provider": lambda: "t", "customer": "a"}, ValueError, "slug"),
        ({"identity_token_provider": "token", "customer": "acme"}, TypeError, "callable"),
    ],
)
def test_options_take_either_a_key_or_an_identity_token_provider_with_a_customer(kwargs: Any, error: type, says: str) -> None:
    with pytest.raises(error, match=says):
        VeriproofClientOptions(application_id="app", **kwargs)


def test_without_key_or_identity_token_provider_the_error_names_both(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VERIPROOF_API_KEY", raising=False)
    with pytest.raises(ValueError, match="or identity_token_provider and customer to send without a key"):
        configure_veriproof(VeriproofClientOptions(application_id="app", endpoint="http://localhost:1"), service_name="svc")


def test_the_options_repr_holds_no_provider(token: str) -> None:
    options = VeriproofClientOptions(application_id="app", customer="acme", identity_token_provider=lambda: token)
    assert "identity_token_provider" not in repr(options) and "customer='acme'" in repr(options)


def test_plain_http_beyond_this_machine_warns_about_the_tokens(caplog: pytest.LogCaptureFixture) -> None:
    configure_veriproof(
        VeriproofClientOptions(application_id="app", customer="acme", identity_token_provider=lambda: "t", endpoint="http://ingest.example.com"),
        service_name="svc",
    )
    assert veriproof_warnings(caplog) == [
        "[veriproof] The endpoint http://ingest.example.com is plain HTTP: your identity token and ingest tokens would cross "
        "the network unencrypted. Use https."
    ]


# --- GitHub Actions ---------------------------------------------------------------------------------


@pytest.fixture
def github(stub: StubService, monkeypatch: pytest.MonkeyPatch, watched: List[str]) -> StubService:
    """The job's environment with `permissions: id-token: write`, pointing at the stub."""
    monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_URL", f"{stub.url}/github/idtoken?api-version=2.0")
    monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", stub.github_request_token)
    return stub


def test_github_actions_asks_for_the_customer_as_audience_and_exchanges_that_token(github: StubService) -> None:
    handle = configure_veriproof(
        VeriproofClientOptions(application_id="checkout", customer="acme", identity_token_provider=GitHubActionsIdentityToken(), endpoint=github.url),
        service_name="checkout-deploy",
    )
    handle.tracer().start_span("deployed").end()
    handle.shutdown()
    [(query, headers)] = github.github_requests
    assert query == {"api-version": ["2.0"], "audience": ["acme"]}
    assert headers["authorization"] == f"bearer {github.github_request_token}"
    [exchange] = github.exchanges
    assert exchange.form["subject_token"] == github.github_token and exchange.form["audience"] == "acme"
    assert github.bearer_tokens() == github.issued


def test_github_actions_with_an_audience_of_its_own(github: StubService) -> None:
    assert GitHubActionsIdentityToken("https://github.com/acme/checkout")() == github.github_token
    [(query, _)] = github.github_requests
    assert query["audience"] == ["https://github.com/acme/checkout"]
    assert GitHubActionsIdentityToken("mine").with_default_audience("acme").audience == "mine"


def test_github_actions_without_id_token_permission_says_so(monkeypatch: pytest.MonkeyPatch, stub: StubService, clock: FakeClock) -> None:
    monkeypatch.delenv("ACTIONS_ID_TOKEN_REQUEST_URL", raising=False)
    monkeypatch.delenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", raising=False)
    with pytest.raises(IdentityTokenError, match=r"ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN are not set.*id-token: write"):
        GitHubActionsIdentityToken("acme")()
    # Through the exchange, the provider's own message is kept (it is the SDK's, and holds no token).
    with pytest.raises(TokenExchangeError, match=r"^No identity token for customer acme: ACTIONS_ID_TOKEN_REQUEST_URL"):
        make_credential(stub, GitHubActionsIdentityToken("acme"), clock).key()


def test_github_actions_refusing_the_request_is_an_error_without_its_tokens(github: StubService, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "ghs_wrong")
    with pytest.raises(IdentityTokenError) as refused:
        GitHubActionsIdentityToken("acme")()
    assert str(refused.value) == "GitHub Actions' token endpoint answered 401; check the job's `permissions: id-token: write`."
    github.github_status = 500
    with pytest.raises(IdentityTokenError, match="answered 500"):
        GitHubActionsIdentityToken("acme")()


# --- Azure ----------------------------------------------------------------------------------------------


class FakeCredential:
    """Stands in for an azure-identity credential: no network."""

    def __init__(self, token: Optional[str] = None, error: Optional[Exception] = None) -> None:
        self.token = token
        self.error = error
        self.scopes: List[Sequence[str]] = []

    def get_token(self, *scopes: str, **kwargs: Any) -> types.SimpleNamespace:
        self.scopes.append(scopes)
        if self.error is not None:
            raise self.error
        return types.SimpleNamespace(token=self.token, expires_on=0)


def test_azure_gets_a_token_for_the_scope_and_exchanges_it(stub: StubService, token: str) -> None:
    fake = FakeCredential(token)
    handle = configure_veriproof(
        VeriproofClientOptions(
            application_id="checkout",
            customer="acme",
            identity_token_provider=AzureIdentityToken("api://0b1c2d3e-aaaa-bbbb-cccc-123456789abc/.default", credential=fake),
            endpoint=stub.url,
        ),
        service_name="checkout-api",
    )
    handle.tracer().start_span("x").end()
    handle.shutdown()
    assert fake.scopes == [("api://0b1c2d3e-aaaa-bbbb-cccc-123456789abc/.default",)]
    assert [e.form["subject_token"] for e in stub.exchanges] == [token]
    assert stub.bearer_tokens() == stub.issued


def test_azure_uses_default_azure_credential_imported_only_when_first_called(monkeypatch: pytest.MonkeyPatch, token: str) -> None:
    made: List[FakeCredential] = []

    def default_credential() -> FakeCredential:
        made.append(FakeCredential(token))
        return made[-1]

    monkeypatch.setitem(sys.modules, "azure.identity", types.SimpleNamespace(DefaultAzureCredential=default_credential))
    provider = AzureIdentityToken("api://app/.default")
    assert made == []
    assert provider() == token and provider() == token
    assert len(made) == 1 and made[0].scopes == [("api://app/.default",), ("api://app/.default",)]


def test_azure_without_azure_identity_says_which_extra_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "azure.identity", None)  # import fails, as when the package is absent
    with pytest.raises(IdentityTokenError, match=r"pip install 'veriproof-sdk\[azure\]'"):
        AzureIdentityToken("api://app/.default")()


def test_azure_credential_failing_is_an_error_naming_the_scope_not_the_cause_text(token: str) -> None:
    provider = AzureIdentityToken("api://app/.default", credential=FakeCredential(error=RuntimeError(f"secret {token}")))
    with pytest.raises(IdentityTokenError) as failed:
        provider()
    assert str(failed.value).startswith("The Azure credential could not get a token for api://app/.default (RuntimeError)")
    assert token not in str(failed.value)
    with pytest.raises(IdentityTokenError, match="returned no token"):
        AzureIdentityToken("api://app/.default", credential=FakeCredential(token=""))()
    with pytest.raises(ValueError, match="needs a scope"):
        AzureIdentityToken(" ")


# --- Google (the metadata server) ----------------------------------------------------------------------


@pytest.fixture
def google(stub: StubService, monkeypatch: pytest.MonkeyPatch, watched: List[str]) -> StubService:
    """GCE_METADATA_HOST (host:port, as Google's libraries read it) pointing at the stub."""
    monkeypatch.setenv("GCE_METADATA_HOST", stub.url.removeprefix("http://"))
    return stub


def test_google_asks_for_an_identity_token_for_the_customer_in_full_format_and_exchanges_it(google: StubService) -> None:
    handle = configure_veriproof(
        VeriproofClientOptions(application_id="checkout", customer="acme", identity_token_provider=GoogleIdentityToken(), endpoint=google.url),
        service_name="checkout-api",
    )
    handle.tracer().start_span("x").end()
    handle.shutdown()
    [(query, headers)] = google.google_requests
    assert query == [("audience", "acme"), ("format", "full")]
    assert headers["metadata-flavor"] == "Google"
    [exchange] = google.exchanges
    assert exchange.form["subject_token"] == google.google_token and exchange.form["audience"] == "acme"
    assert google.bearer_tokens() == google.issued


def test_google_with_an_audience_of_its_own_and_a_metadata_host_with_a_scheme(google: StubService, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GCE_METADATA_HOST", f"{google.url}/")
    assert GoogleIdentityToken("https://ingest.example/acme")() == google.google_token
    [(query, _)] = google.google_requests
    assert dict(query)["audience"] == "https://ingest.example/acme"
    assert GoogleIdentityToken("mine").with_default_audience("acme").audience == "mine"
    with pytest.raises(ValueError, match="audience must be a non-empty string"):
        GoogleIdentityToken(" ")


def test_google_asks_metadata_google_internal_without_gce_metadata_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GCE_METADATA_HOST", raising=False)
    assert google_metadata_base() == "http://metadata.google.internal"
    monkeypatch.setenv("GCE_METADATA_HOST", "169.254.169.254")
    assert google_metadata_base() == "http://169.254.169.254"


def test_google_says_what_went_wrong_never_with_a_token(google: StubService, monkeypatch: pytest.MonkeyPatch, clock: FakeClock) -> None:
    google.google_answer = (404, {}, b"not found")
    with pytest.raises(IdentityTokenError) as missing:
        GoogleIdentityToken("acme")()
    assert str(missing.value) == "The metadata server answered 404 for an identity token; check that the workload runs as a service account."
    # A server that is not the metadata server (no Metadata-Flavor in its answer) is not believed.
    google.google_answer = (200, {}, google.google_token.encode())
    with pytest.raises(IdentityTokenError) as impostor:
        GoogleIdentityToken("acme")()
    assert str(impostor.value) == f"The server at {google.url} is not a metadata server (no `Metadata-Flavor: Google` in its answer)."
    google.google_answer = (200, {"Metadata-Flavor": "Google"}, b" ")
    with pytest.raises(IdentityTokenError, match="answered without a token"):
        GoogleIdentityToken("acme")()

    closed = StubService().start()
    closed.stop()
    monkeypatch.setenv("GCE_METADATA_HOST", closed.url.removeprefix("http://"))
    with pytest.raises(TokenExchangeError) as unreachable:
        make_credential(google, GoogleIdentityToken("acme"), clock).key()
    assert str(unreachable.value) == (
        f"No identity token for customer acme: The metadata server at {closed.url} could not be reached (ConnectionError): "
        "run on Google Cloud, or set GCE_METADATA_HOST."
    )


# --- A token file (Kubernetes projected service-account tokens) ---------------------------------------------


def test_a_token_file_is_read_again_at_every_exchange_so_a_rotated_token_is_the_one_sent(
    stub: StubService, clock: FakeClock, tmp_path: Any, watched: List[str]
) -> None:
    first, second = identity_token(), identity_token()
    watched.extend([first, second])
    path = tmp_path / "token"
    path.write_text(f"{first}\n")
    credential = make_credential(stub, FileIdentityToken(path), clock)
    key = credential.key()
    path.write_text(second)  # rotated
    assert credential.key() is key  # read only to exchange: the ingest token serves on
    assert len(stub.exchanges) == 1
    clock.now += 720  # the ingest token's refresh is due
    assert credential.key().headers == {"Authorization": f"Bearer {stub.issued[1]}"}
    assert [e.form["subject_token"] for e in stub.exchanges] == [first, second]


def test_a_token_file_says_what_is_wrong_never_its_content(tmp_path: Any) -> None:
    def error(name: str) -> str:
        with pytest.raises(IdentityTokenError) as raised:
            FileIdentityToken(os.path.join(tmp_path, name))()
        return str(raised.value)

    token = identity_token()
    where = str(tmp_path)
    assert error("missing") == f"The identity token file {where}/missing does not exist: check the volume that projects it (its mountPath and path)."
    (tmp_path / "folder").mkdir()
    assert error("folder") == f"The identity token file {where}/folder could not be read (EISDIR)."
    (tmp_path / "empty").write_text(" \n")
    assert error("empty") == f"The identity token file {where}/empty is empty."
    (tmp_path / "two").write_text(f"{token}\n{token}\n")
    assert error("two") == f"The identity token file {where}/two holds more than one token (it has whitespace inside)."
    (tmp_path / "large").write_text("x" * (64 * 1024 + 1))
    assert error("large") == f"The identity token file {where}/large is larger than 64 KiB: not a token."
    (tmp_path / "exact").write_text("x" * (64 * 1024))
    assert len(FileIdentityToken(tmp_path / "exact")()) == 64 * 1024
    with pytest.raises(ValueError, match="needs the path"):
        FileIdentityToken(" ")
