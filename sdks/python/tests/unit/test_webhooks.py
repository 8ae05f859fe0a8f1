"""The webhook verifier: the Standard Webhooks scheme's published test vector, the rotation form, the
header shapes receivers have (dicts in any case, Flask's request.headers, http.server's from a real
request), and every way a request fails: tampering, replays, missing headers, a parsed body."""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import secrets
import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Dict, List, Tuple

import pytest

from veriproof_sdk import WebhookEvent, WebhookVerificationError, verify_webhook
from veriproof_sdk._webhooks import Body, HeaderSource

# The published test vector of the Standard Webhooks libraries (github.com/standard-webhooks/
# standard-webhooks, libraries/python/tests/test_webhooks.py `test_sign_function` and
# libraries/javascript/src/webhook.test.ts "sign function works"; the same in the Go, Java, C#,
# PHP and Ruby suites).
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
TIMESTAMP = 1614265330
PAYLOAD = '{"test": 2432232314}'
SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
PARSED: Dict[str, Any] = {"test": 2432232314}
# The same suites' decoy (`test_multi_sig_payload_is_valid`) and invalid signatures.
DECOY = "Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc="
INVALID = ["v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA=", "v1,dawfeoifkpqwoekfpqoekf", "v1,g0hM9", "v1,"]

AT_VECTOR = datetime.fromtimestamp(TIMESTAMP, tz=timezone.utc)


def vector_headers(signature: str = SIGNATURE, timestamp: str = str(TIMESTAMP)) -> Dict[str, str]:
    return {"webhook-id": MSG_ID, "webhook-timestamp": timestamp, "webhook-signature": signature}


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The scheme, as the service signs (shared/webhooks/signature.ts)."""
    key = base64.b64decode(secret[len("whsec_") :] if secret.startswith("whsec_") else secret)
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def delivery(secrets_: List[str], timestamp: int = TIMESTAMP) -> Tuple[Dict[str, Any], bytes, Dict[str, str]]:
    event = {
        "id": "evt_01JZ0000000000000000000000",
        "type": "key.revoked",
        "createdAt": "2026-01-01T00:00:00.000Z",
        "customer": {"slug": "acme"},
        "data": {"keyId": "key_1", "label": "ci", "reason": "admin", "note": "é ✓"},
    }
    body = json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()
    headers = {
        "webhook-id": str(event["id"]),
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(sign(s, str(event["id"]), timestamp, body) for s in secrets_),
    }
    return event, body, headers


def refusal(run: Callable[[], object]) -> str:
    with pytest.raises(WebhookVerificationError) as caught:
        run()
    return caught.value.reason


# What verifies


def test_accepts_the_published_test_vector_and_returns_the_parsed_body() -> None:
    assert verify_webhook(PAYLOAD, vector_headers(), SECRET, now=AT_VECTOR) == PARSED
    assert verify_webhook(PAYLOAD.encode(), vector_headers(), SECRET, now=float(TIMESTAMP)) == PARSED


def test_takes_the_secret_without_its_prefix_and_unpadded_as_the_standard_libraries_do() -> None:
    assert verify_webhook(PAYLOAD, vector_headers(), SECRET[len("whsec_") :], now=AT_VECTOR) == PARSED
    # The libraries' unpadded-secret cases (needs one "=", needs two), signed as their suites sign them.
    for unpadded in ["MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwBr"]:
        padded = unpadded + "=" * (-len(unpadded) % 4)
        signature = sign(padded, MSG_ID, TIMESTAMP, PAYLOAD.encode())
        for secret in [unpadded, "whsec_" + unpadded, padded]:
            assert verify_webhook(PAYLOAD, vector_headers(signature), secret, now=AT_VECTOR) == PARSED


def test_accepts_one_matching_signature_among_several_skipping_other_versions() -> None:
    several = " ".join([f"v1,{DECOY}", f"v2,{DECOY}", f"v1a,{DECOY}", SIGNATURE, f"v1,{DECOY}"])
    assert verify_webhook(PAYLOAD, vector_headers(several), SECRET, now=AT_VECTOR) == PARSED


def test_verifies_a_delivery_signed_during_a_rotation_with_either_secret_as_an_event() -> None:
    old_secret, new_secret_ = new_secret(), new_secret()
    event, body, headers = delivery([new_secret_, old_secret])
    for secret in [old_secret, new_secret_]:
        verified: WebhookEvent = verify_webhook(body, headers, secret, now=AT_VECTOR)
        assert verified == event
        assert verified["customer"]["slug"] == "acme"
    assert refusal(lambda: verify_webhook(body, headers, new_secret(), now=AT_VECTOR)) == "no_matching_signature"


def test_takes_the_body_as_bytes_bytearray_memoryview_or_text() -> None:
    secret = new_secret()
    event, body, headers = delivery([secret])
    raws: List[Body] = [body, bytearray(body), memoryview(b"xx" + body)[2:], body.decode()]
    for raw in raws:
        assert verify_webhook(raw, headers, secret, now=AT_VECTOR) == event


def test_finds_the_headers_in_any_case_and_in_lists_of_one_value() -> None:
    upper = {name.upper(): value for name, value in vector_headers().items()}
    title = {name.title(): value for name, value in vector_headers().items()}
    lists = {name: [value] for name, value in vector_headers().items()}
    shapes: List[HeaderSource] = [upper, title, lists]
    for headers in shapes:
        assert verify_webhook(PAYLOAD, headers, SECRET, now=AT_VECTOR) == PARSED


def test_takes_flasks_request_headers() -> None:
    datastructures = pytest.importorskip("werkzeug.datastructures")
    environ = {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in vector_headers().items()}
    headers = datastructures.EnvironHeaders(environ)
    assert verify_webhook(PAYLOAD.encode(), headers, SECRET, now=AT_VECTOR) == PARSED


def test_verifies_a_real_requests_raw_bytes_and_http_server_headers() -> None:
    secret = new_secret()
    event, body, headers = delivery([secret], timestamp=TIMESTAMP)
    received: Dict[str, Any] = {}

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received["body"] = self.rfile.read(int(self.headers["Content-Length"]))
            received["headers"] = self.headers
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        connection = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=10)
        sent = {"Webhook-Id": headers["webhook-id"], "WEBHOOK-TIMESTAMP": headers["webhook-timestamp"]}
        sent["webhook-signature"] = headers["webhook-signature"]
        connection.request("POST", "/hooks", body=body, headers={**sent, "Content-Type": "application/json"})
        assert connection.getresponse().status == 204
        connection.close()
    finally:
        server.shutdown()
        server.server_close()
    assert verify_webhook(received["body"], received["headers"], secret, now=AT_VECTOR) == event


# What is refused


def test_refuses_a_changed_body_id_timestamp_or_signature() -> None:
    assert refusal(lambda: verify_webhook('{"test": 2432232315}', vector_headers(), SECRET, now=AT_VECTOR)) == (
        "no_matching_signature"
    )
    other_id = {**vector_headers(), "webhook-id": "msg_other"}
    assert refusal(lambda: verify_webhook(PAYLOAD, other_id, SECRET, now=AT_VECTOR)) == "no_matching_signature"
    a_second_later = vector_headers(timestamp=str(TIMESTAMP + 1))
    assert refusal(lambda: verify_webhook(PAYLOAD, a_second_later, SECRET, now=AT_VECTOR)) == "no_matching_signature"
    for signature in [*INVALID, f"v2,{SIGNATURE[3:]}", SIGNATURE[3:], f"v1,{DECOY} v2,{DECOY}", "v1,é"]:
        headers = vector_headers(signature)
        assert refusal(lambda: verify_webhook(PAYLOAD, headers, SECRET, now=AT_VECTOR)) == "no_matching_signature"


def test_refuses_the_right_signature_under_another_secret() -> None:
    assert refusal(lambda: verify_webhook(PAYLOAD, vector_headers(), new_secret(), now=AT_VECTOR)) == (
        "no_matching_signature"
    )


def test_refuses_json_loaded_and_dumped_again_and_a_parsed_body() -> None:
    dumped = json.dumps(json.loads(PAYLOAD), separators=(",", ":"))
    assert dumped != PAYLOAD
    assert refusal(lambda: verify_webhook(dumped, vector_headers(), SECRET, now=AT_VECTOR)) == "no_matching_signature"
    with pytest.raises(TypeError, match="raw body"):
        verify_webhook(json.loads(PAYLOAD), vector_headers(), SECRET, now=AT_VECTOR)


@pytest.mark.parametrize("name", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_refuses_a_missing_header_and_names_it(name: str) -> None:
    headers = vector_headers()
    del headers[name]
    with pytest.raises(WebhookVerificationError, match=name) as caught:
        verify_webhook(PAYLOAD, headers, SECRET, now=AT_VECTOR)
    assert caught.value.reason == "missing_headers"
    empty = {**vector_headers(), name: ""}
    assert refusal(lambda: verify_webhook(PAYLOAD, empty, SECRET, now=AT_VECTOR)) == "missing_headers"


@pytest.mark.parametrize("timestamp", ["hello", "1614265330.0", "-1614265330", "1614265330000000000", " 1614265330", "١٦١٤٢٦٥٣٣٠"])
def test_refuses_a_timestamp_that_is_not_whole_seconds(timestamp: str) -> None:
    headers = vector_headers(timestamp=timestamp)
    assert refusal(lambda: verify_webhook(PAYLOAD, headers, SECRET, now=AT_VECTOR)) == "invalid_timestamp"


def test_refuses_a_timestamp_outside_the_tolerance_either_way_on_the_injected_clock() -> None:
    def at(seconds: float, tolerance: float = 300) -> Callable[[], object]:
        return lambda: verify_webhook(PAYLOAD, vector_headers(), SECRET, tolerance, now=TIMESTAMP + seconds)

    assert at(300)() == PARSED
    assert at(-300)() == PARSED
    assert at(300.999)() == PARSED  # whole seconds, as the header has them
    assert refusal(at(301)) == "timestamp_too_old"
    assert refusal(at(-301)) == "timestamp_too_new"
    assert refusal(at(61, 60)) == "timestamp_too_old"
    assert at(60, 60)() == PARSED
    assert refusal(at(1, 0)) == "timestamp_too_old"
    later = AT_VECTOR + timedelta(seconds=301)
    assert refusal(lambda: verify_webhook(PAYLOAD, vector_headers(), SECRET, now=later)) == "timestamp_too_old"
    with pytest.raises(ValueError, match="timezone-aware"):
        verify_webhook(PAYLOAD, vector_headers(), SECRET, now=datetime(2021, 2, 25, 15, 2, 10))
    with pytest.raises(ValueError):
        verify_webhook(PAYLOAD, vector_headers(), SECRET, -1, now=AT_VECTOR)


def test_refuses_a_body_that_verifies_but_is_not_json() -> None:
    secret = new_secret()
    headers = {
        "webhook-id": "evt_1",
        "webhook-timestamp": str(TIMESTAMP),
        "webhook-signature": sign(secret, "evt_1", TIMESTAMP, b"not json"),
    }
    assert refusal(lambda: verify_webhook(b"not json", headers, secret, now=AT_VECTOR)) == "invalid_body"


@pytest.mark.parametrize("secret", ["", "whsec_", "whsec_not base64!", "whsec_abcde", "vp_cust_acme.0123456789abcdef.x"])
def test_a_secret_that_is_not_a_signing_secret_is_a_value_error_that_does_not_show_it(secret: str) -> None:
    with pytest.raises(ValueError) as caught:
        verify_webhook(PAYLOAD, vector_headers(), secret, now=AT_VECTOR)
    if len(secret) > len("whsec_"):
        assert secret[len("whsec_") :] not in str(caught.value)


def test_never_puts_the_secret_into_a_refusal() -> None:
    secret = new_secret()
    event, body, headers = delivery([secret])
    attempts: List[Callable[[], object]] = [
        lambda: verify_webhook(body + b" ", headers, secret, now=AT_VECTOR),
        lambda: verify_webhook(body, headers, secret, now=0),
        lambda: verify_webhook(body, {**headers, "webhook-id": ""}, secret, now=AT_VECTOR),
    ]
    for attempt in attempts:
        with pytest.raises(WebhookVerificationError) as caught:
            attempt()
        assert secret[len("whsec_") : 20] not in f"{caught.value} {caught.value.args!r}"
