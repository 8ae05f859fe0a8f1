import { SecretClient } from '@azure/keyvault-secrets';
import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';
import { KeyVaultSecretStore, componentSecretName } from '../../shared/adapters/keyvault/key-vault-secret-store';
import { DependencyUnavailableError } from '../../shared/errors';
import { FAKE_VAULT_URL, FakeCredential, FakeKeyVault } from '../support/key-vault-fake';

/** The Key Vault adapter through the real SecretClient, over the in-process fake of the REST API. */
describe('KeyVaultSecretStore (real SecretClient, fake vault)', () => {
  function setup() {
    const vault = new FakeKeyVault();
    const credential = new FakeCredential();
    const client = new SecretClient(FAKE_VAULT_URL, credential, { httpClient: vault, retryOptions: { maxRetries: 0 } });
    return { vault, credential, store: new KeyVaultSecretStore(client, 2000) };
  }

  it('stores one secret per customer and one version per component, after a challenge', async () => {
    const { vault, credential, store } = setup();
    const first = await store.putComponent('acme', 'A'.repeat(32));
    const second = await store.putComponent('acme', 'B'.repeat(32));
    expect(vault.challenges).toBeGreaterThanOrEqual(1);
    expect(credential.scopes).toContain('https://vault.azure.net/.default');
    expect(vault.versionCount(componentSecretName('acme'))).toBe(2);
    expect(first.version).not.toBe(second.version);
    expect(await store.getComponent('acme', first.version)).toEqual({ version: first.version, value: 'A'.repeat(32) });
    expect(await store.getComponent('acme')).toEqual({ version: second.version, value: 'B'.repeat(32) });
  });

  it('disables a version (idempotently); a disabled or missing version reads as undefined', async () => {
    const { vault, store } = setup();
    const v = await store.putComponent('acme', 'C'.repeat(32));
    await store.disableComponent('acme', v.version);
    await store.disableComponent('acme', v.version);
    expect(vault.isEnabled(componentSecretName('acme'), v.version)).toBe(false);
    expect(await store.getComponent('acme', v.version)).toBeUndefined();
    expect(await store.getComponent('nobody')).toBeUndefined();
  });

  it.each([
    ['unreachable', 'network' as const],
    ['answering 503', 503],
    ['refusing the app identity (403, role not assigned yet)', 403],
  ])('turns a vault that is %s into DependencyUnavailableError', async (_name, failure) => {
    const { vault, store } = setup();
    await store.putComponent('acme', 'D'.repeat(32));
    vault.failure = failure;
    await expect(store.getComponent('acme')).rejects.toBeInstanceOf(DependencyUnavailableError);
    await expect(store.putComponent('acme', 'E'.repeat(32))).rejects.toBeInstanceOf(DependencyUnavailableError);
  });

  it('turns a credential that cannot get a token into DependencyUnavailableError', async () => {
    const credential = {
      getToken: () =>
        Promise.reject(Object.assign(new Error('ManagedIdentityCredential: no endpoint'), { name: 'CredentialUnavailableError' })),
    };
    const client = new SecretClient(FAKE_VAULT_URL, credential, { httpClient: new FakeKeyVault(), retryOptions: { maxRetries: 0 } });
    await expect(new KeyVaultSecretStore(client, 2000).getComponent('acme')).rejects.toBeInstanceOf(DependencyUnavailableError);
  });

  it('gives up on a vault that does not answer, at its own timeout, as DependencyUnavailableError', async () => {
    // Accepts the connection and never answers: not even the TLS handshake completes, and the
    // connection stays open, so only the store's own time bound ends the call (without it, the
    // call would wait for ever and the test would fail at Jest's timeout).
    const held: Socket[] = [];
    const silent = createServer((socket) => void held.push(socket)).listen(0, '127.0.0.1');
    await once(silent, 'listening');
    try {
      const { port } = silent.address() as { port: number };
      const client = new SecretClient(`https://127.0.0.1:${port}`, new FakeCredential(), { retryOptions: { maxRetries: 0 } });
      const error = await new KeyVaultSecretStore(client, 200).getComponent('acme').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DependencyUnavailableError);
      expect((error as Error).cause).toMatchObject({ name: 'AbortError' }); // the time bound, not a refused connection
      expect(held.length).toBeGreaterThan(0); // the call did reach the silent vault
    } finally {
      held.forEach((socket) => socket.destroy());
      silent.close();
    }
  });

  // A programming error must surface as itself (a 500 with its stack logged), not as "retry later".
  it('passes a request the vault refuses as malformed (400) through unchanged', async () => {
    const { vault, store } = setup();
    vault.failure = 400;
    const error = await store.getComponent('acme').catch((e: unknown) => e);
    expect(error).not.toBeInstanceOf(DependencyUnavailableError);
    expect(error).toMatchObject({ name: 'RestError', statusCode: 400 });
  });

  it('passes a TypeError raised under the client through unchanged', async () => {
    const bug = new TypeError("Cannot read properties of undefined (reading 'token')");
    const client = new SecretClient(
      FAKE_VAULT_URL,
      { getToken: () => Promise.reject(bug) },
      { httpClient: new FakeKeyVault(), retryOptions: { maxRetries: 0 } },
    );
    await expect(new KeyVaultSecretStore(client, 2000).getComponent('acme')).rejects.toBe(bug);
  });
});
