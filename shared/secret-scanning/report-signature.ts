import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import type { Clock } from '../clock';
import { DependencyUnavailableError } from '../errors';
import { describeError, type Logger } from '../logging';
import type { PublishedKeySource } from '../ports/signing-keys';

/** An unknown key id makes us read the key list again at most this often. */
export const UNKNOWN_KEY_REFRESH_MS = 60_000;
/** A key list older than this is read again (conditionally) on the next report; kept if that fails. */
export const KEY_LIST_MAX_AGE_MS = 3_600_000;

/** GitHub's key ids are hex SHA-256 digests; anything far from that shape is refused unread. */
const KEY_ID_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;
/** A DER ECDSA P-256 signature is at most 72 bytes: 96 base64 characters. */
const SIGNATURE_PATTERN = /^[A-Za-z0-9+/]{16,200}={0,2}$/;

export type SignatureVerdict = 'valid' | 'invalid';

/**
 * Checks the signature a secret scanner (GitHub) puts on a report: ECDSA P-256 with SHA-256 over
 * the raw body, by the key the report names, from the list the scanner publishes. The list is
 * read once and kept; a report naming a key id the list lacks makes us read it again (at most
 * once a minute, however many such reports come: a flood of made-up ids costs one read a minute),
 * and the list is read again once it is an hour old. When the list cannot be read and the key is
 * not known, the answer is "unavailable" (503: the scanner retries), never a guess.
 */
export class ReportSignatureVerifier {
  private keys = new Map<string, KeyObject>();
  private version: string | undefined;
  private loadedAt: number | undefined;
  private attemptedAt: number | undefined;
  private lastReadFailed = false;
  private reading: Promise<void> | undefined;

  constructor(
    private readonly source: PublishedKeySource,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  /** How many times the list was read (for tests and the health of the integration). */
  reads = 0;

  /**
   * Whether a report with these headers is refused whatever its body: a header far from the
   * format, or a key id the list (read less than a minute ago) does not hold. Its body is then
   * never read.
   */
  refusesUnread(keyId: string, signature: string): boolean {
    if (!KEY_ID_PATTERN.test(keyId) || !SIGNATURE_PATTERN.test(signature)) return true;
    if (this.keys.has(keyId) || this.reading || this.lastReadFailed || this.attemptedAt === undefined) return false;
    return this.clock.millis() - this.attemptedAt < UNKNOWN_KEY_REFRESH_MS;
  }

  async verify(keyId: string, signature: string, body: Uint8Array): Promise<SignatureVerdict> {
    if (!KEY_ID_PATTERN.test(keyId) || !SIGNATURE_PATTERN.test(signature)) return 'invalid';
    // A read under way (a cold start, a new key id) decides for every report that waits on it.
    if (this.reading) await this.reading.catch(() => undefined);
    let key = this.keys.get(keyId);
    const now = this.clock.millis();
    const mayRead = this.attemptedAt === undefined || now - this.attemptedAt >= UNKNOWN_KEY_REFRESH_MS;
    const old = this.loadedAt === undefined || now - this.loadedAt >= KEY_LIST_MAX_AGE_MS;
    if ((!key || old) && mayRead) {
      try {
        await this.read();
      } catch (error) {
        // A known key keeps working while the list cannot be read; an unknown one cannot be judged.
        if (!key) throw error;
      }
      key = this.keys.get(keyId);
    } else if (!key && this.lastReadFailed) {
      throw new DependencyUnavailableError('GitHub secret-scanning keys', new Error('the last read of the key list failed'));
    }
    if (!key) return 'invalid';
    try {
      return verify('sha256', body, key, Buffer.from(signature, 'base64')) ? 'valid' : 'invalid';
    } catch {
      // Not a DER signature at all.
      return 'invalid';
    }
  }

  /** One read at a time: reports arriving meanwhile wait for it rather than read again. */
  private read(): Promise<void> {
    this.reading ??= this.readNow().finally(() => {
      this.reading = undefined;
    });
    return this.reading;
  }

  private async readNow(): Promise<void> {
    this.attemptedAt = this.clock.millis();
    this.reads += 1;
    try {
      const result = await this.source.read(this.keys.size > 0 ? this.version : undefined);
      if (result.status === 'fetched') {
        const keys = new Map<string, KeyObject>();
        for (const published of result.keys) {
          const key = p256Key(published.pem);
          if (key) keys.set(published.id, key);
          else this.log.warn('secret-scanning key skipped: not an ECDSA P-256 public key', { keyId: published.id });
        }
        this.keys = keys;
        this.version = result.version;
      }
      this.loadedAt = this.clock.millis();
      this.lastReadFailed = false;
    } catch (error) {
      this.lastReadFailed = true;
      this.log.warn('secret-scanning keys could not be read', describeError(error));
      throw error instanceof DependencyUnavailableError ? error : new DependencyUnavailableError('GitHub secret-scanning keys', error);
    }
  }
}

function p256Key(pem: string): KeyObject | undefined {
  try {
    const key = createPublicKey(pem);
    return key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1' ? key : undefined;
  } catch {
    return undefined;
  }
}
