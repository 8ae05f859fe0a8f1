import { SecretClient } from '@azure/keyvault-secrets';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KeyVaultSecretStore } from '../../shared/adapters/keyvault/key-vault-secret-store';
import { FileSecretStore } from '../../shared/adapters/local/file-secret-store';
import { MemorySecretStore } from '../../shared/adapters/memory/memory-secret-store';
import type { SecretStore } from '../../shared/ports/secret-store';
import { FAKE_VAULT_URL, FakeCredential, FakeKeyVault } from '../support/key-vault-fake';

/**
 * The SecretStore port (shared/ports/secret-store.ts), as its doc comments promise, run against
 * the in-memory fake, the local file store and the Key Vault store (the real SecretClient over
 * the in-process fake of the REST API, as test/integration/key-vault-store.test.ts builds it;
 * failures and time bounds stay there).
 */

const folders: string[] = [];
afterAll(() => folders.forEach((folder) => rmSync(folder, { recursive: true, force: true })));

const adapters: Array<[string, () => Promise<SecretStore>]> = [
  ['memory', async () => new MemorySecretStore()],
  [
    'file',
    async () => {
      const folder = mkdtempSync(join(tmpdir(), 'vp-secrets-contract-'));
      folders.push(folder);
      return new FileSecretStore(folder);
    },
  ],
  [
    'key vault (real SecretClient, fake vault)',
    async () =>
      new KeyVaultSecretStore(
        new SecretClient(FAKE_VAULT_URL, new FakeCredential(), { httpClient: new FakeKeyVault(), retryOptions: { maxRetries: 0 } }),
        5000,
      ),
  ],
];

/** A component's value, as minted ones look (base64url). */
const component = () => randomBytes(32).toString('base64url');
/** A version no store handed out (Key Vault's form: 32 hex digits). */
const unknownVersion = () => randomBytes(16).toString('hex');

describe.each(adapters)('SecretStore contract: %s', (_name, make) => {
  let store: SecretStore;
  beforeEach(async () => {
    store = await make();
  });

  it('stores a component as a new version and reads it back, by its version and as the latest', async () => {
    const value = component();
    const stored = await store.putComponent('acme', value);
    expect(stored).toEqual({ version: expect.any(String), value });
    expect(await store.getComponent('acme', stored.version)).toEqual(stored);
    expect(await store.getComponent('acme')).toEqual(stored);
  });

  it('keeps every version: the latest is the newest, each older one still reads by its version, unchanged', async () => {
    const stored = [];
    for (let i = 0; i < 3; i++) stored.push(await store.putComponent('acme', component()));
    expect(new Set(stored.map((s) => s.version)).size).toBe(3);
    expect(await store.getComponent('acme')).toEqual(stored[2]);
    for (const s of stored) expect(await store.getComponent('acme', s.version)).toEqual(s);
  });

  it('answers undefined for a customer without components and for a version it does not hold', async () => {
    const acme = await store.putComponent('acme', component());
    expect(await store.getComponent('nobody')).toBeUndefined();
    expect(await store.getComponent('nobody', acme.version)).toBeUndefined();
    expect(await store.getComponent('acme', unknownVersion())).toBeUndefined();
  });

  it("keeps customers' components apart", async () => {
    const acme = await store.putComponent('acme', component());
    const globex = await store.putComponent('globex', component());
    expect(await store.getComponent('acme')).toEqual(acme);
    expect(await store.getComponent('globex')).toEqual(globex);
    expect(await store.getComponent('globex', acme.version)).toBeUndefined();
    await store.disableComponent('globex', acme.version); // not globex's to disable
    expect(await store.getComponent('acme', acme.version)).toEqual(acme);
  });

  it('disables a version, which then reads as undefined, and leaves the others alone', async () => {
    const old = await store.putComponent('acme', component());
    const current = await store.putComponent('acme', component());
    await store.disableComponent('acme', old.version);
    expect(await store.getComponent('acme', old.version)).toBeUndefined();
    expect(await store.getComponent('acme', current.version)).toEqual(current);
    expect(await store.getComponent('acme')).toEqual(current);
  });

  it('reads a disabled latest version as no latest, while an older one still reads by its version', async () => {
    const old = await store.putComponent('acme', component());
    const latest = await store.putComponent('acme', component());
    await store.disableComponent('acme', latest.version);
    expect(await store.getComponent('acme')).toBeUndefined();
    expect(await store.getComponent('acme', old.version)).toEqual(old);
  });

  it('disables idempotently, and takes a version or customer it does not hold calmly', async () => {
    const stored = await store.putComponent('acme', component());
    await store.disableComponent('acme', stored.version);
    await store.disableComponent('acme', stored.version);
    await store.disableComponent('acme', unknownVersion());
    await store.disableComponent('nobody', unknownVersion());
    expect(await store.getComponent('acme', stored.version)).toBeUndefined();
  });

  it('stores components put at once each as a version of its own', async () => {
    const values = Array.from({ length: 5 }, component);
    const stored = await Promise.all(values.map((value) => store.putComponent('acme', value)));
    expect(stored.map((s) => s.value)).toEqual(values);
    expect(new Set(stored.map((s) => s.version)).size).toBe(5);
    for (const s of stored) expect(await store.getComponent('acme', s.version)).toEqual(s);
    expect(stored).toContainEqual(await store.getComponent('acme'));
  });

  describe('service secrets by name', () => {
    it('stores a secret as a new version and reads it back, by its version and as the latest', async () => {
      const value = component();
      const stored = await store.putSecret('webhook-data-key', value);
      expect(stored).toEqual({ version: expect.any(String), value });
      expect(await store.getSecret('webhook-data-key', stored.version)).toEqual(stored);
      expect(await store.getSecret('webhook-data-key')).toEqual(stored);
    });

    it('keeps every version: the latest is the newest, each older one still reads by its version', async () => {
      const stored = [];
      for (let i = 0; i < 3; i++) stored.push(await store.putSecret('webhook-data-key', component()));
      expect(new Set(stored.map((s) => s.version)).size).toBe(3);
      expect(await store.getSecret('webhook-data-key')).toEqual(stored[2]);
      for (const s of stored) expect(await store.getSecret('webhook-data-key', s.version)).toEqual(s);
    });

    it('answers undefined for a name never stored and a version it does not hold', async () => {
      const stored = await store.putSecret('webhook-data-key', component());
      expect(await store.getSecret('other-key')).toBeUndefined();
      expect(await store.getSecret('other-key', stored.version)).toBeUndefined();
      expect(await store.getSecret('webhook-data-key', unknownVersion())).toBeUndefined();
    });

    it("keeps service secrets apart from customers' components, even under a customer slug of the same name", async () => {
      const secret = await store.putSecret('acme', component());
      const acme = await store.putComponent('acme', component());
      expect(await store.getSecret('acme')).toEqual(secret);
      expect(await store.getComponent('acme')).toEqual(acme);
      expect(await store.getComponent('acme', secret.version)).toBeUndefined();
      expect(await store.getSecret('acme', acme.version)).toBeUndefined();
    });

    it('stores secrets put at once each as a version of its own', async () => {
      const values = Array.from({ length: 5 }, component);
      const stored = await Promise.all(values.map((value) => store.putSecret('webhook-data-key', value)));
      expect(new Set(stored.map((s) => s.version)).size).toBe(5);
      for (const s of stored) expect(await store.getSecret('webhook-data-key', s.version)).toEqual(s);
    });

    it('refuses a name that is not lower-case words joined by dashes', async () => {
      for (const name of ['', 'Upper', 'a_b', '../x', 'a--b', '-a', 'x'.repeat(65)]) {
        await expect(store.putSecret(name, component())).rejects.toThrow(/Not a service secret name/);
        await expect(store.getSecret(name)).rejects.toThrow(/Not a service secret name/);
      }
    });
  });
});
