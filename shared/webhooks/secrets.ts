import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { WebhookEndpoint, WebhookSecret } from '../domain';
import type { SecretStore } from '../ports/secret-store';

/**
 * Webhook signing secrets: minted here, shown to the customer once, and stored only sealed
 * (AES-256-GCM) under a data key that lives in the secret store (Key Vault in Azure, the local
 * file store on a developer's machine), never in Table Storage. A secret is opened only to sign a
 * delivery (the signature itself is shared/webhooks/signature.ts).
 */

/** The Standard Webhooks prefix of a signing secret; what follows is base64 of the secret's bytes. */
export const WEBHOOK_SECRET_PREFIX = 'whsec_';
/** Random bytes in a signing secret (the issue asks 24 or more; Standard Webhooks allows 24 to 64). */
export const WEBHOOK_SECRET_BYTES = 32;
/** How a signing secret looks: `whsec_` and base64 of 32 bytes. */
export const WEBHOOK_SECRET_PATTERN = /^whsec_[A-Za-z0-9+/]{43}=$/;
/** The service secret (shared/ports/secret-store.ts) that holds the data keys signing secrets are sealed under. */
export const WEBHOOK_DATA_KEY_SECRET = 'webhook-secrets-data-key';
/** How long the previous secret keeps signing after a rotation. */
export const WEBHOOK_SECRET_OVERLAP_MS = 24 * 60 * 60 * 1000;

/** A fresh signing secret: `whsec_` + base64 of 32 random bytes. */
export function newWebhookSecret(): string {
  return `${WEBHOOK_SECRET_PREFIX}${randomBytes(WEBHOOK_SECRET_BYTES).toString('base64')}`;
}

/** Whose secret a sealed value is: sealed for one endpoint, it does not open for another (a row copied elsewhere). */
export interface SecretOwner {
  customerSlug: string;
  endpointId: string;
}

const FORMAT = 'v1';
const aad = (owner: SecretOwner): Buffer => Buffer.from(`webhook-secret:${owner.customerSlug}:${owner.endpointId}`, 'utf8');

/**
 * Seals and opens signing secrets under the data key in the secret store. The data key is made on
 * first use (32 random bytes, a new version of {@link WEBHOOK_DATA_KEY_SECRET}); a sealed value
 * names the data key version it was sealed under, so two instances that make one at once each
 * seal under their own and every value still opens. Data keys are cached for the process (a
 * version's value never changes): after the first, sealing and opening cost no store call.
 *
 * Sealed form: `v1.{data key version}.{base64url IV}.{base64url ciphertext and tag}`.
 */
export class WebhookSecretVault {
  private current: Promise<{ version: string; key: Buffer }> | undefined;
  private readonly keys = new Map<string, Promise<Buffer>>();

  constructor(private readonly store: SecretStore) {}

  /** The secret sealed for its endpoint. */
  async seal(secret: string, owner: SecretOwner): Promise<string> {
    const { version, key } = await this.currentKey();
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(aad(owner));
    const sealed = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return [FORMAT, version, iv.toString('base64url'), sealed.toString('base64url')].join('.');
  }

  /** The secret a sealed value holds; throws when it is not one this vault sealed for this endpoint. */
  async open(sealed: string, owner: SecretOwner): Promise<string> {
    const [format, version, iv, body, ...rest] = sealed.split('.');
    if (format !== FORMAT || !version || !iv || !body || rest.length > 0) throw new Error('Not a sealed webhook secret');
    const key = await this.keyOf(version);
    const bytes = Buffer.from(body, 'base64url');
    if (bytes.length < 17) throw new Error('Not a sealed webhook secret');
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
    decipher.setAAD(aad(owner));
    decipher.setAuthTag(bytes.subarray(bytes.length - 16));
    try {
      return Buffer.concat([decipher.update(bytes.subarray(0, bytes.length - 16)), decipher.final()]).toString('utf8');
    } catch {
      throw new Error(`A sealed webhook secret of ${owner.customerSlug}/${owner.endpointId} does not open`);
    }
  }

  /**
   * The secrets a delivery to `endpoint` is signed with at `now`, opened: the current one first,
   * then the previous one while its overlap lasts (Standard Webhooks: one signature each).
   */
  async signingSecrets(endpoint: Pick<WebhookEndpoint, 'customerSlug' | 'id' | 'secrets'>, now: Date): Promise<string[]> {
    const owner = { customerSlug: endpoint.customerSlug, endpointId: endpoint.id };
    return Promise.all(liveSecrets(endpoint.secrets, now).map((s) => this.open(s.encrypted, owner)));
  }

  private currentKey(): Promise<{ version: string; key: Buffer }> {
    this.current ??= (async () => {
      const found =
        (await this.store.getSecret(WEBHOOK_DATA_KEY_SECRET)) ??
        (await this.store.putSecret(WEBHOOK_DATA_KEY_SECRET, randomBytes(32).toString('base64')));
      const key = dataKey(found.value);
      this.keys.set(found.version, Promise.resolve(key));
      return { version: found.version, key };
    })();
    // A store that failed is asked again next time.
    this.current.catch(() => (this.current = undefined));
    return this.current;
  }

  private keyOf(version: string): Promise<Buffer> {
    let key = this.keys.get(version);
    if (!key) {
      key = this.store.getSecret(WEBHOOK_DATA_KEY_SECRET, version).then((found) => {
        if (!found) throw new Error(`The webhook secrets data key version ${version} is not in the secret store`);
        return dataKey(found.value);
      });
      this.keys.set(version, key);
      key.catch(() => this.keys.delete(version));
    }
    return key;
  }
}

function dataKey(value: string): Buffer {
  const key = Buffer.from(value, 'base64');
  if (key.length !== 32) throw new Error('The webhook secrets data key is not 32 bytes');
  return key;
}

/** The secrets that still sign at `now`: the current one, and a previous one until its `expiresAt`. */
export function liveSecrets(secrets: readonly WebhookSecret[], now: Date): WebhookSecret[] {
  return secrets.filter((s) => s.expiresAt === undefined || Date.parse(s.expiresAt) > now.getTime());
}

/**
 * The secrets after a rotation at `now`: the new one first, then the one that was current, which
 * keeps signing for {@link WEBHOOK_SECRET_OVERLAP_MS}; any older one is dropped (a second rotation
 * inside the overlap ends the first one's early).
 */
export function rotatedSecrets(secrets: readonly WebhookSecret[], fresh: string, now: Date): WebhookSecret[] {
  const current = secrets.find((s) => s.expiresAt === undefined) ?? secrets[0];
  const next: WebhookSecret[] = [{ encrypted: fresh, createdAt: now.toISOString() }];
  if (current) next.push({ ...current, expiresAt: new Date(now.getTime() + WEBHOOK_SECRET_OVERLAP_MS).toISOString() });
  return next;
}
