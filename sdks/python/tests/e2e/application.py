"""A customer's application that configures the SDK with the vendor docs' snippet, word for word.

The test writes the snippet between this prelude and the loop below, and runs the result with the
interpreter of a fresh virtual environment where only the built wheel (and the vault client the
snippet imports) is installed. Each line on stdin names a session: the application records two
spans in it (one from a tracer an instrumentation library took before configuration), flushes,
and answers ``done <session>``.
"""

PRELUDE = '''
import json, os, sys
from pathlib import Path
from opentelemetry import trace

# An instrumentation library takes its tracer at import time, before anything is configured.
library_tracer = trace.get_tracer("some.instrumentation")

from tests.support.key_vault import secret_client as _vault
secret_client = _vault(Path(os.environ["FAKE_VAULT_FILE"]))
'''

LOOP = '''
import veriproof_sdk

app_tracer = trace.get_tracer("loan-review")
for line in sys.stdin:
    session_id = line.strip()
    with veriproof_sdk.session(session_id):
        with app_tracer.start_as_current_span("review"):
            library_tracer.start_span("http.client").end()
    flushed = trace.get_tracer_provider().force_flush()
    print(f"done {session_id} {flushed}", flush=True)
'''

# The vendor docs' Python snippet ("Storing keys securely"), exactly as published.
VENDOR_SNIPPET = '''from veriproof_sdk import VeriproofClientOptions, configure_veriproof
from azure.keyvault.secrets import SecretClient
# Rotate keys without restarting — callable is invoked per export
def get_api_key() -> str:
    return secret_client.get_secret("veriproof-api-key").value
configure_veriproof(
    VeriproofClientOptions(
        api_key_provider=get_api_key,
        application_id="loan-review",
    ),
    service_name="loan-review",
    set_global=True,
)
'''


def source() -> str:
    return PRELUDE + VENDOR_SNIPPET + LOOP
