import { MemorySecretStore } from '../../shared/adapters/memory/memory-secret-store';
import {
  WEBHOOK_DATA_KEY_SECRET,
  WEBHOOK_SECRET_PATTERN,
  WebhookSecretVault,
  liveSecrets,
  newWebhookSecret,
  rotatedSecrets,
} from '../../shared/webhooks/secrets';

/**
 * Webhook signing secrets (shared/webhooks/secrets.ts): the form they are minted in, sealed under
 * a data key that lives in the secret store, opened only for the endpoint they were sealed for.
 */
const owner = { customerSlug: 'acme', endpointId: 'we_01HZZZZZZZZZZZZZZZZZZZZZZZ' };
const NOW = new Date('2026-03-01T12:00:00.000Z');
const plus = (hours: number) => new Date(NOW.getTime() + hours * 3_600_000);

describe('newWebhookSecret', () => {
  it('is whsec_ and base64 of 32 random bytes, a new one each time', () => {
    const secrets = Array.from({ length: 50 }, newWebhookSecret);
    for (const secret of secrets) {
      expect(secret).toMatch(WEBHOOK_SECRET_PATTERN);
      expect(Buffer.from(secret.slice('whsec_'.length), 'base64')).toHaveLength(32);
    }
    expect(new Set(secrets).size).toBe(50);
  });
});

describe('WebhookSecretVault', () => {
  it('seals a secret so that the sealed form does not hold it, and opens it again', async () => {
    const vault = new WebhookSecretVault(new MemorySecretStore());
    const secret = newWebhookSecret();
    const sealed = await vault.seal(secret, owner);
    expect(sealed).toMatch(/^v1\.[0-9a-f]+\.[\w-]+\.[\w-]+$/);
    expect(sealed).not.toContain(secret.slice(6, 20));
    expect(sealed).not.toContain(Buffer.from(secret.slice(6), 'base64').toString('base64url').slice(0, 12));
    expect(await vault.open(sealed, owner)).toBe(secret);
    // The same secret sealed twice reads differently (a fresh IV each time).
    expect(await vault.seal(secret, owner)).not.toBe(sealed);
  });

  it('makes the data key once, keeps it in the store, and then costs no store call', async () => {
    const store = new MemorySecretStore();
    const vault = new WebhookSecretVault(store);
    const sealed = await Promise.all(Array.from({ length: 5 }, () => vault.seal(newWebhookSecret(), owner)));
    const key = await store.getSecret(WEBHOOK_DATA_KEY_SECRET);
    expect(Buffer.from(key!.value, 'base64')).toHaveLength(32);
    const reads = store.reads;
    for (const s of sealed) await vault.open(s, owner);
    await vault.seal(newWebhookSecret(), owner);
    expect(store.reads).toBe(reads);
    // Every value names the one data key version.
    expect(new Set(sealed.map((s) => s.split('.')[1]))).toEqual(new Set([key!.version]));
  });

  it('opens in another process (a new vault over the same store) what one sealed', async () => {
    const store = new MemorySecretStore();
    const secret = newWebhookSecret();
    const sealed = await new WebhookSecretVault(store).seal(secret, owner);
    expect(await new WebhookSecretVault(store).open(sealed, owner)).toBe(secret);
  });

  it('opens what was sealed under any data key version, when two instances made one at once', async () => {
    const store = new MemorySecretStore();
    const [a, b] = [new WebhookSecretVault(store), new WebhookSecretVault(store)];
    const secrets = [newWebhookSecret(), newWebhookSecret()];
    // Both find no data key and each makes its own.
    const [sa, sb] = await Promise.all([a.seal(secrets[0]!, owner), b.seal(secrets[1]!, owner)]);
    expect(sa.split('.')[1]).not.toBe(sb.split('.')[1]);
    for (const vault of [a, b, new WebhookSecretVault(store)]) {
      expect(await vault.open(sa, owner)).toBe(secrets[0]);
      expect(await vault.open(sb, owner)).toBe(secrets[1]);
    }
  });

  it('does not open a value sealed for another endpoint or customer, nor a tampered one', async () => {
    const vault = new WebhookSecretVault(new MemorySecretStore());
    const sealed = await vault.seal(newWebhookSecret(), owner);
    await expect(vault.open(sealed, { ...owner, endpointId: 'we_01HYYYYYYYYYYYYYYYYYYYYYYY' })).rejects.toThrow(/does not open/);
    await expect(vault.open(sealed, { ...owner, customerSlug: 'globex' })).rejects.toThrow(/does not open/);
    const [format, version, iv, body] = sealed.split('.') as [string, string, string, string];
    const flipped = Buffer.from(body, 'base64url');
    flipped[0]! ^= 1;
    await expect(vault.open([format, version, iv, flipped.toString('base64url')].join('.'), owner)).rejects.toThrow(/does not open/);
    await expect(vault.open('whsec_plain', owner)).rejects.toThrow(/Not a sealed webhook secret/);
    await expect(vault.open(`v1.${version}.${iv}`, owner)).rejects.toThrow(/Not a sealed webhook secret/);
  });

  it('fails while the store is unreachable, and works once it is back', async () => {
    const store = new MemorySecretStore();
    const vault = new WebhookSecretVault(store);
    store.failWith = new Error('vault unreachable');
    await expect(vault.seal(newWebhookSecret(), owner)).rejects.toThrow('vault unreachable');
    store.failWith = undefined;
    const secret = newWebhookSecret();
    expect(await vault.open(await vault.seal(secret, owner), owner)).toBe(secret);
  });

  it('opens the secrets that sign at an instant: the current one first, the previous one until its overlap ends', async () => {
    const vault = new WebhookSecretVault(new MemorySecretStore());
    const [oldSecret, newSecret] = [newWebhookSecret(), newWebhookSecret()];
    const first = [{ encrypted: await vault.seal(oldSecret, owner), createdAt: NOW.toISOString() }];
    const secrets = rotatedSecrets(first, await vault.seal(newSecret, owner), plus(1));
    const endpoint = { customerSlug: owner.customerSlug, id: owner.endpointId, secrets };
    expect(await vault.signingSecrets({ ...endpoint, secrets: first }, NOW)).toEqual([oldSecret]);
    expect(await vault.signingSecrets(endpoint, plus(1))).toEqual([newSecret, oldSecret]);
    expect(await vault.signingSecrets(endpoint, plus(24.99))).toEqual([newSecret, oldSecret]);
    expect(await vault.signingSecrets(endpoint, plus(25))).toEqual([newSecret]);
  });
});

describe('rotatedSecrets and liveSecrets', () => {
  const sealed = (name: string, createdAt: Date, expiresAt?: Date) => ({
    encrypted: name,
    createdAt: createdAt.toISOString(),
    ...(expiresAt ? { expiresAt: expiresAt.toISOString() } : {}),
  });

  it('puts the new secret first and keeps the current one for 24 hours', () => {
    expect(rotatedSecrets([sealed('a', NOW)], 'b', plus(2))).toEqual([sealed('b', plus(2)), sealed('a', NOW, plus(26))]);
  });

  it('drops a secret still in its overlap when rotating again: two secrets at most', () => {
    const once = rotatedSecrets([sealed('a', NOW)], 'b', plus(1));
    expect(rotatedSecrets(once, 'c', plus(2))).toEqual([sealed('c', plus(2)), sealed('b', plus(1), plus(26))]);
  });

  it('keeps a secret live until its expiresAt, not at it', () => {
    const secrets = [sealed('b', plus(1)), sealed('a', NOW, plus(25))];
    expect(liveSecrets(secrets, plus(24))).toEqual(secrets);
    expect(liveSecrets(secrets, plus(25))).toEqual([secrets[0]]);
  });
});
