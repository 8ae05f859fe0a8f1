"""The vendor docs' snippet, as written, in a customer's application built from the wheel, against
the real service: sessions arrive under the key that sent them, through key rotation in the vault,
a revoked key and a rate limit, while the application keeps running."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Callable, Iterator, List, Tuple

import pytest

from tests.e2e.application import source
from tests.e2e.conftest import Built
from tests.support.service import Service

PACKAGE = Path(__file__).resolve().parents[2]


class Application:
    """The application process; the vault is a file the test rewrites to rotate the key."""

    def __init__(self, built: Built, service: Service, folder: Path, key: str) -> None:
        self.vault = folder / "vault.json"
        self.store(key)
        script = folder / "app.py"
        script.write_text(source(), encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VERIPROOF_", "OTEL_"))}
        env.update({"VERIPROOF_ENDPOINT": service.url, "FAKE_VAULT_FILE": str(self.vault), "PYTHONPATH": str(PACKAGE)})
        self.process = subprocess.Popen([str(built.python), str(script)], env=env, cwd=folder, text=True, bufsize=1,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def store(self, key: str) -> None:
        self.vault.write_text(json.dumps({"veriproof-api-key": key}))

    def session(self, session_id: str) -> str:
        """Records a session's spans and flushes; returns the application's answer."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(session_id + "\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline().strip()
        assert answer.startswith(f"done {session_id}"), f"the application stopped: {answer!r}\n{self.finish()[1]}"
        return answer

    def finish(self) -> Tuple[int, str]:
        """Closes stdin (the application exits normally); returns its exit code and stderr."""
        if self.process.stdin is not None and not self.process.stdin.closed:
            self.process.stdin.close()
        code = self.process.wait(60)
        assert self.process.stderr is not None
        return code, self.process.stderr.read()


@pytest.fixture
def start_app(built: Built, service: Service, tmp_path: Path) -> Iterator[Callable[[str], "Application"]]:
    started: List[Application] = []

    def start(key: str) -> Application:
        app = Application(built, service, tmp_path, key)
        started.append(app)
        return app

    yield start
    for app in started:
        if app.process.poll() is None:
            app.process.kill()


def assert_no_key_in(text: str, *keys: str) -> None:
    for key in keys:
        for part in [key, *key.split(".")[1:]]:  # the slug is meant to be seen
            assert part not in text, "a key or a part of one reached the application's output"


def test_the_snippet_as_written_delivers_sessions_under_the_key_that_sent_them(service: Service, start_app: Callable[[str], Application]) -> None:
    slug = service.create_customer()
    key, _ = service.issue_key(slug, "loan-review-prod")
    app = start_app(key)
    app.session("application-7731")
    app.session("application-7732")
    code, stderr = app.finish()
    assert code == 0, stderr
    found = service.wait_for_sessions(slug, "loan-review-prod", ["application-7731", "application-7732"])
    assert found["application-7731"]["spanCount"] == 2  # the application's span and the library's
    assert found["application-7731"]["serviceName"] == "loan-review"
    assert found["application-7731"]["sessionIdSource"] == "attribute"
    assert "application-7732" in found
    assert_no_key_in(stderr, key)


def test_a_key_rotated_in_the_vault_is_used_from_the_next_export_without_a_restart(service: Service, start_app: Callable[[str], Application]) -> None:
    slug = service.create_customer()
    old, old_id = service.issue_key(slug, "before-rotation")
    new, _ = service.issue_key(slug, "after-rotation")
    app = start_app(old)
    app.session("rotation-before")
    app.store(new)  # the admin puts the new key in the vault...
    service.revoke_key(slug, old_id)  # ...and revokes the old one
    app.session("rotation-after")
    code, stderr = app.finish()
    assert code == 0, stderr
    assert "rotation-before" in service.wait_for_sessions(slug, "before-rotation", ["rotation-before"])
    assert "rotation-after" in service.wait_for_sessions(slug, "after-rotation", ["rotation-after"])
    assert "rejected" not in stderr  # the new key was in use before the old one stopped working
    assert_no_key_in(stderr, old, new)


def test_a_revoked_key_gets_one_warning_and_a_pause_while_the_application_keeps_running(service: Service, start_app: Callable[[str], Application]) -> None:
    slug = service.create_customer()
    revoked, revoked_id = service.issue_key(slug, "revoked")
    replacement, _ = service.issue_key(slug, "replacement")
    service.revoke_key(slug, revoked_id)
    app = start_app(revoked)
    app.session("lost-1")  # the export fails; the application does not
    app.session("lost-2")  # paused: not sent again
    app.store(replacement)
    app.session("kept")  # a new key resumes at once
    code, stderr = app.finish()
    assert code == 0, stderr
    warnings = [line for line in stderr.splitlines() if "rejected the API key" in line]
    assert len(warnings) == 1, stderr
    assert f"vp_cust_{slug} (401 api_key_invalid)" in warnings[0]
    assert "Traceback" not in stderr
    assert "kept" in service.wait_for_sessions(slug, "replacement", ["kept"])
    assert service.sessions(slug, "revoked") == {}
    assert_no_key_in(stderr, revoked, replacement)


def test_a_rate_limited_key_backs_off_after_retry_after_and_its_spans_still_arrive(service: Service, start_app: Callable[[str], Application]) -> None:
    slug = service.create_customer()
    key, key_id = service.issue_key(slug, "limited")
    service.limit_key(slug, key_id, per_second=1, burst=1)
    app = start_app(key)
    started = time.monotonic()
    for n in range(4):
        assert app.session(f"limited-{n}").endswith("True")
    elapsed = time.monotonic() - started
    code, stderr = app.finish()
    assert code == 0, stderr
    found = service.wait_for_sessions(slug, "limited", [f"limited-{n}" for n in range(4)])
    assert all(found[f"limited-{n}"]["spanCount"] == 2 for n in range(4))
    assert elapsed > 2, "four exports at one per second cannot all go through at once"
    # The service counted the 429s it answered (usage is written every second in this test).
    deadline = time.monotonic() + 10
    while True:
        usage = service.expect(200, "GET", f"/v1/customer-keys/{key_id}/usage?granularity=hour", service.token("CustomerAdmin", slug))
        if (usage["totals"]["accepted"] >= 4 and usage["totals"]["rateLimited"] >= 2) or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert usage["totals"]["rateLimited"] >= 2
    assert usage["totals"]["accepted"] >= 4
    assert_no_key_in(stderr, key)
