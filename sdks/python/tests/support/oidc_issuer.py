"""An OpenID Connect issuer on loopback for the end-to-end tests, in the standard library alone.

It serves ``/.well-known/openid-configuration`` and its key set at ``http://127.0.0.1:{port}`` (the
service takes an http issuer on a loopback host in local mode, which ``npm start`` is) and signs
identity tokens with RS256: an RSA key made when the issuer starts (2048 bits, primes found with
Miller-Rabin), the signature RSASSA-PKCS1-v1_5 with SHA-256 (RFC 8017 §8.2, RFC 7518 §3.3), which
is one modular exponentiation. No crypto package is needed, so the test environment gains none;
the service's verifier, which checks every token these tests exchange, is the proof that the
signatures are right.

It also stands in for GitHub Actions' token endpoint at ``/_apis/idtoken`` (what
``ACTIONS_ID_TOKEN_REQUEST_URL`` points at in a job): ``GET ...&audience=...`` with
``Authorization: bearer {request_token}`` answers ``{"count": 1, "value": <a token of this issuer>}``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import secrets
import time
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple
from urllib.parse import parse_qs, urlsplit

from tests.support.loopback import QuietHandler, close, serve

# DER of DigestInfo's AlgorithmIdentifier for SHA-256, the prefix of the hash in PKCS#1 v1.5 (RFC 8017 §9.2, note 1).
_SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")
_SMALL_PRIMES = [p for p in range(3, 2000, 2) if all(p % d for d in range(3, math.isqrt(p) + 1, 2))]
_PUBLIC_EXPONENT = 65537


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _int_bytes(value: int) -> bytes:
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


def _probably_prime(n: int, rounds: int = 40) -> bool:
    if any(n % p == 0 for p in _SMALL_PRIMES):
        return n in _SMALL_PRIMES
    d, r = n - 1, 0
    while d % 2 == 0:
        d //= 2
        r += 1
    for _ in range(rounds):
        x = pow(secrets.randbelow(n - 3) + 2, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(r - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def _prime(bits: int) -> int:
    while True:
        # The top two bits set (so p*q has all its bits), odd, and p-1 prime to the public exponent.
        candidate = secrets.randbits(bits) | (0b11 << (bits - 2)) | 1
        if candidate % _PUBLIC_EXPONENT != 1 and _probably_prime(candidate):
            return candidate


@dataclass(frozen=True)
class RsaKey:
    """An RSA key pair: the modulus, the public and private exponents."""

    kid: str
    n: int
    e: int
    d: int

    @staticmethod
    def generate(bits: int = 2048) -> "RsaKey":
        while True:
            p, q = _prime(bits // 2), _prime(bits // 2)
            if p != q and (p * q).bit_length() == bits:
                break
        d = pow(_PUBLIC_EXPONENT, -1, math.lcm(p - 1, q - 1))
        return RsaKey(kid=secrets.token_hex(8), n=p * q, e=_PUBLIC_EXPONENT, d=d)

    def jwk(self) -> Dict[str, str]:
        """The public half, as a key set publishes it."""
        return {"kty": "RSA", "kid": self.kid, "use": "sig", "alg": "RS256", "n": b64url(_int_bytes(self.n)), "e": b64url(_int_bytes(self.e))}

    def sign_rs256(self, message: bytes) -> bytes:
        """RSASSA-PKCS1-v1_5 with SHA-256: EM = 0x00 01 FF..FF 00 DigestInfo, signed as EM^d mod n."""
        k = (self.n.bit_length() + 7) // 8
        digest_info = _SHA256_DIGEST_INFO + hashlib.sha256(message).digest()
        encoded = b"\x00\x01" + b"\xff" * (k - len(digest_info) - 3) + b"\x00" + digest_info
        return pow(int.from_bytes(encoded, "big"), self.d, self.n).to_bytes(k, "big")


class LoopbackOidcIssuer:
    """Discovery, a key set and RS256 identity tokens on ``http://127.0.0.1:{port}``, and GitHub Actions' token endpoint.

    ``start()`` makes the key and listens; ``close()`` stops. ``reads`` counts the service's reads
    of the two documents; ``github_requests`` records each ask of the GitHub stand-in.
    """

    def __init__(self, now: Callable[[], float] = time.time) -> None:
        self._now = now
        self.key = RsaKey.generate()
        self.github_request_token = f"ghs_{secrets.token_urlsafe(24)}"
        self.github_requests: List[Tuple[Dict[str, List[str]], Optional[str]]] = []
        """(query, Authorization header) of each request to ``/_apis/idtoken``."""
        self.signed: List[str] = []
        """Every token signed (the log checks look for them)."""
        self.reads: Dict[str, int] = {"discovery": 0, "jwks": 0}
        self._server: Optional[ThreadingHTTPServer] = None

    @property
    def issuer(self) -> str:
        assert self._server is not None, "start() the issuer first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def github_request_url(self) -> str:
        """``ACTIONS_ID_TOKEN_REQUEST_URL`` as a job sees it (with its query, so the audience is appended with ``&``)."""
        return f"{self.issuer}/_apis/idtoken?api-version=2.0"

    def claims(self, **overrides: Any) -> Dict[str, Any]:
        """A good token's claims (iat and nbf now, exp in five minutes, a fresh jti); a value of None removes a claim."""
        now = int(self._now())
        claims: Dict[str, Any] = {
            "iss": self.issuer,
            "sub": "repo:acme/checkout:ref:refs/heads/main",
            "aud": "acme",
            "iat": now,
            "nbf": now,
            "exp": now + 300,
            "jti": secrets.token_hex(8),
            "repository_owner": "acme",
        }
        claims.update(overrides)
        return {name: value for name, value in claims.items() if value is not None}

    def sign(self, **overrides: Any) -> str:
        """A compact JWS (RS256, the key's ``kid``) of ``claims(**overrides)``."""
        header = {"alg": "RS256", "typ": "JWT", "kid": self.key.kid}
        signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(self.claims(**overrides)).encode())}"
        token = f"{signing_input}.{b64url(self.key.sign_rs256(signing_input.encode('ascii')))}"
        self.signed.append(token)
        return token

    def start(self) -> "LoopbackOidcIssuer":
        issuer = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                parts = urlsplit(self.path)
                if parts.path == "/.well-known/openid-configuration":
                    issuer.reads["discovery"] += 1
                    self.answer_json(200, issuer.discovery())
                elif parts.path == "/.well-known/jwks":
                    issuer.reads["jwks"] += 1
                    self.answer_json(200, {"keys": [issuer.key.jwk()]})
                elif parts.path == "/_apis/idtoken":
                    query = parse_qs(parts.query)
                    authorization = self.headers.get("Authorization")
                    issuer.github_requests.append((query, authorization))
                    audience = query.get("audience", [None])[0]
                    if authorization != f"bearer {issuer.github_request_token}" or audience is None:
                        self.answer_json(401, {"message": "Bad credentials"})
                    else:
                        self.answer_json(200, {"count": 1, "value": issuer.sign(aud=audience)})
                else:
                    self.answer_json(404, {})

            def answer_json(self, status: int, body: Mapping[str, Any]) -> None:
                self.answer(status, {"Content-Type": "application/json"}, json.dumps(body).encode())

        self._server = serve(Handler)
        return self

    def discovery(self) -> Dict[str, Any]:
        return {
            "issuer": self.issuer,
            "jwks_uri": f"{self.issuer}/.well-known/jwks",
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
        }

    def close(self) -> None:
        close(self._server)
