"""The Python SDK without a key, end to end against the real service (the built local host with Azurite).

A customer's admin creates a trust policy for a loopback OpenID issuer (tests/support/oidc_issuer.py);
the SDK gets only ``identity_token_provider`` and ``customer``; its spans arrive through the real
token exchange and the real ingest door. A recording pass-through in front of the service
(tests/support/recording_proxy.py) shows what the SDK sent and was answered: ingest under the
policy, the token federated in whoami, the refresh ahead of expiry on an injected clock, a deleted
policy (one more exchange, one warning, then silence), and the GitHub Actions provider against
the issuer's stand-in for GitHub's token endpoint. No token is ever logged, by the SDK or the service.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Dict, Iterator, List, Tuple

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from tests.support.oidc_issuer import LoopbackOidcIssuer
from tests.support.recording_proxy import RecordingProxy
from tests.support.service import Service
from veriproof_sdk import GitHubActionsIdentityToken, VeriproofClientOptions, configure_veriproof, session
from veriproof_sdk._exporter import VeriproofSpanExporter
from veriproof_sdk._federation import TOKEN_PATH, FederatedCredential, refresh_after
from veriproof_sdk._session import SessionSpanProcessor

SUBJECT = "repo:acme/checkout:ref:refs/heads/main"
LABEL = "checkout-deploy"


@pytest.fixture(scope="module")
def issuer() -> Iterator[LoopbackOidcIssuer]:
    running = LoopbackOidcIssuer().start()
    yield running
    running.close()


@pytest.fixture
def proxy(service: Service, issuer: LoopbackOidcIssuer, caplog: pytest.LogCaptureFixture) -> Iterator[RecordingProxy]:
    """The pass-through the SDK is pointed at. After the test: no identity token, ingest token or
    GitHub request token in any log record; the service's own log is checked for them at the end."""
    caplog.set_level(logging.DEBUG)
    running = RecordingProxy(service.url).start()
    yield running
    running.stop()
    ingest_tokens = sorted({p.bearer for p in running.passed if p.bearer})
    service.issued.extend(ingest_tokens + issuer.signed)
    records = [r for phase in ("setup", "call") for r in caplog.get_records(phase)] + caplog.records
    logged = "\n".join(f"{r.getMessage()} {r.args}" for r in records)
    for token in [*ingest_tokens, *issuer.signed, issuer.github_request_token]:
        for part in [token, *token.split(".")[1:]]:
            assert part not in logged, "a token or a part of one was logged"


def trusting_customer(service: Service, issuer: LoopbackOidcIssuer, **policy: Any) -> Tuple[str, str, str]:
    """A new customer whose admin trusts the issuer's main of acme/checkout: (slug, admin token, policy id)."""
    slug = service.create_customer()
    admin = service.token("CustomerAdmin", slug)
    body: Dict[str, Any] = {
        "label": LABEL,
        "issuer": issuer.issuer,
        "audience": slug,
        "subject": SUBJECT,
        "claims": {"repository_owner": "acme"},
        "application": "checkout",
        "environment": "live",
        **policy,
    }
    created = service.expect(201, "POST", "/v1/trust-policies", admin, body)
    assert created["id"].startswith("tp_")
    return slug, admin, created["id"]


class IdentityTokens:
    """The workload's identity-token provider: a fresh token of the issuer for the customer, counted."""

    def __init__(self, issuer: LoopbackOidcIssuer, slug: str) -> None:
        self.issuer = issuer
        self.slug = slug
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        return self.issuer.sign(aud=self.slug, sub=SUBJECT)


def sessions(service: Service, slug: str) -> Dict[str, Tuple[str, int]]:
    """The customer's sessions under the policy's label: session id -> (key id, span count)."""
    return {sid: (s["keyId"], s["spanCount"]) for sid, s in service.sessions(slug, LABEL).items()}


def token_events(service: Service, admin: str) -> Tuple[List[str], List[str]]:
    """The customer's audit events of the exchange (types sorted) and the refusals' reasons."""
    events = [e for e in service.expect(200, "GET", "/v1/customer-keys/audit?limit=200", admin)["events"] if e["type"].startswith("token.")]
    return sorted(e["type"] for e in events), [e["details"]["reason"] for e in events if e["type"] == "token.refused"]


def sdk_warnings(caplog: pytest.LogCaptureFixture) -> List[str]:
    return [r.getMessage() for r in caplog.records if r.name == "veriproof_sdk" and r.levelno >= logging.WARNING]


def keyless(proxy: RecordingProxy, slug: str, provider: Callable[[], str], **options: Any) -> Any:
    return configure_veriproof(
        VeriproofClientOptions(application_id="checkout", identity_token_provider=provider, customer=slug, endpoint=proxy.url, **options),
        service_name="checkout-api",
    )


def test_exchanges_once_ingests_under_the_trust_policy_and_the_token_is_federated_in_whoami(
    service: Service, issuer: LoopbackOidcIssuer, proxy: RecordingProxy, caplog: pytest.LogCaptureFixture
) -> None:
    slug, admin, policy_id = trusting_customer(service, issuer)
    provider = IdentityTokens(issuer, slug)
    handle = keyless(proxy, slug, provider)
    tracer = handle.tracer()
    with session("keyless-1"):
        with tracer.start_as_current_span("deploy"):
            tracer.start_span("migrate").end()
    assert handle.force_flush()
    with session("keyless-2"):
        tracer.start_span("smoke-test").end()
    assert handle.force_flush()
    handle.shutdown()

    assert [p.status for p in proxy.since(0, TOKEN_PATH)] == [200]  # one exchange for both exports
    assert provider.calls == 1
    traces = proxy.since(0, "/v1/traces")
    assert [p.status for p in traces] == [200, 200]
    assert traces[0].bearer.startswith(f"vp_fed_{slug}.") and traces[1].bearer == traces[0].bearer
    assert sessions(service, slug) == {"keyless-1": (policy_id, 2), "keyless-2": (policy_id, 1)}
    whoami = service.expect(200, "GET", "/v1/whoami", traces[0].bearer)
    assert whoami["customer"]["slug"] == slug
    assert whoami["key"]["type"] == "federated" and whoami["key"]["id"] == policy_id
    assert whoami["trustPolicy"] == {"id": policy_id, "label": LABEL}
    assert token_events(service, admin) == (["token.exchanged"], [])
    assert sdk_warnings(caplog) == []


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_exchanges_again_ahead_of_expiry_on_an_injected_clock_without_a_401(
    service: Service, issuer: LoopbackOidcIssuer, proxy: RecordingProxy, caplog: pytest.LogCaptureFixture
) -> None:
    # The SDK's parts wired as configure_veriproof wires them, but on a clock the test moves (configure_veriproof
    # takes none). The service keeps its own time: a token refreshed early is still good there.
    slug, admin, policy_id = trusting_customer(service, issuer, tokenLifetimeMinutes=5)
    provider = IdentityTokens(issuer, slug)
    clock = FakeClock()
    credential = FederatedCredential(
        token_url=proxy.url + TOKEN_PATH, customer=slug, identity_token_provider=provider, timeout=10.0, pause=60.0, clock=clock
    )
    exporter = VeriproofSpanExporter(
        url=proxy.url + "/v1/traces",
        resolve_key=credential.key,
        forget_key=credential.forget,
        timeout_millis=10_000,
        pause_millis=60_000,
        clock=clock,
    )
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SessionSpanProcessor())
    tracer_provider.add_span_processor(BatchSpanProcessor(exporter))
    tracer = tracer_provider.get_tracer("checkout-api")

    def export(session_id: str) -> None:
        with session(session_id):
            tracer.start_span("step").end()
        assert tracer_provider.force_flush()

    due = refresh_after(300)  # four minutes into a five-minute token
    assert due == 240
    start = clock.now
    try:
        export("refresh-0")
        clock.now = start + due - 0.001
        export("refresh-1")  # not yet due: the same token
        assert len(proxy.since(0, TOKEN_PATH)) == 1
        clock.now = start + due
        export("refresh-2")  # due: exchanged before this export is sent
        clock.now = start + 300.001  # past the first token's end: only the second may be sent
        export("refresh-3")
    finally:
        tracer_provider.shutdown()

    assert [p.status for p in proxy.since(0, TOKEN_PATH)] == [200, 200]
    assert provider.calls == 2
    traces = proxy.since(0, "/v1/traces")
    assert [p.status for p in traces] == [200, 200, 200, 200]
    bearers = [p.bearer for p in traces]
    assert bearers[1] == bearers[0] and bearers[2] != bearers[0] and bearers[3] == bearers[2]
    whoami = service.expect(200, "GET", "/v1/whoami", credential.key().headers["Authorization"].removeprefix("Bearer "))
    assert whoami["key"]["type"] == "federated" and whoami["key"]["id"] == policy_id
    assert set(sessions(service, slug)) == {"refresh-0", "refresh-1", "refresh-2", "refresh-3"}
    assert token_events(service, admin) == (["token.exchanged", "token.exchanged"], [])
    assert sdk_warnings(caplog) == []


def test_after_the_policy_is_deleted_one_more_exchange_one_warning_then_no_more_asking(
    service: Service, issuer: LoopbackOidcIssuer, proxy: RecordingProxy, caplog: pytest.LogCaptureFixture
) -> None:
    slug, admin, policy_id = trusting_customer(service, issuer)
    provider = IdentityTokens(issuer, slug)
    # A pause longer than the test: a refused identity token is not exchanged again while it runs.
    handle = keyless(proxy, slug, provider, rejected_key_pause_millis=3_600_000)
    tracer = handle.tracer()
    try:
        with session("before-delete"):
            tracer.start_span("deploy").end()
        assert handle.force_flush()
        assert [p.status for p in proxy.since(0, "/v1/traces")] == [200]

        service.expect(204, "DELETE", f"/v1/trust-policies/{policy_id}", admin)
        mark = proxy.mark()
        with session("after-delete"):
            tracer.start_span("deploy").end()
        handle.force_flush()
        assert [p.status for p in proxy.since(mark, "/v1/traces")] == [401]  # the old token stopped with its policy
        assert [p.status for p in proxy.since(mark, TOKEN_PATH)] == [400]  # one more exchange: invalid_grant
        assert sdk_warnings(caplog) == [
            f"[veriproof] The token exchange for customer {slug} failed (400 invalid_grant): no trust policy of {slug} accepts this "
            "identity token; check the policy's issuer, audience, subject and claims against the token (the customer's audit log "
            "has the reason). The spans of this export are dropped; the exchange is tried again in 3600 s."
        ]

        # No loop: later exports ask nothing of the service, nor of the provider, until the pause ends.
        quiet = proxy.mark()
        for i in range(3):
            with session(f"still-deleted-{i}"):
                tracer.start_span("deploy").end()
            handle.force_flush()
        assert proxy.passed[quiet:] == []
    finally:
        handle.shutdown()
    assert provider.calls == 2
    assert len(sdk_warnings(caplog)) == 1
    assert set(sessions(service, slug)) == {"before-delete"}
    assert token_events(service, admin) == (["token.exchanged", "token.refused"], ["no_trust_policy"])


def test_github_actions_provider_reads_the_job_env_asks_for_the_customer_and_its_token_ingests(
    service: Service, issuer: LoopbackOidcIssuer, proxy: RecordingProxy, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    slug, _, policy_id = trusting_customer(service, issuer)
    monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_URL", issuer.github_request_url)
    monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", issuer.github_request_token)
    asked_before = len(issuer.github_requests)
    handle = keyless(proxy, slug, GitHubActionsIdentityToken())
    with session("ci-run-1"):
        handle.tracer().start_span("build").end()
    handle.shutdown()

    [(query, authorization)] = issuer.github_requests[asked_before:]
    assert query == {"api-version": ["2.0"], "audience": [slug]}
    assert authorization == f"bearer {issuer.github_request_token}"
    assert [p.status for p in proxy.since(0, TOKEN_PATH)] == [200]
    assert [p.status for p in proxy.since(0, "/v1/traces")] == [200]
    assert sessions(service, slug) == {"ci-run-1": (policy_id, 1)}
    assert sdk_warnings(caplog) == []
