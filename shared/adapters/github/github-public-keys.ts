import { z } from 'zod';
import { DependencyUnavailableError } from '../../errors';
import type { PublishedKeySource, PublishedKeysRead } from '../../ports/signing-keys';

/** How long a read of the key list may take before it counts as a failure. */
const READ_TIMEOUT_MS = 5_000;
/** A key list larger than this is not GitHub's (it holds a handful of PEM keys). */
const MAX_LIST_BYTES = 256 * 1024;

/** GitHub's documented format of `GET /meta/public_keys/secret_scanning`. */
const publicKeysDocument = z.object({
  public_keys: z
    .array(z.object({ key_identifier: z.string().min(1).max(256), key: z.string().min(1).max(8192), is_current: z.boolean().optional() }))
    .max(100),
});

/**
 * GitHub's secret-scanning public keys, read over HTTPS from the configured address
 * (GITHUB_SECRET_SCANNING_KEYS_URL) with a conditional request, so that an unchanged list is
 * a 304 (GitHub asks partners to read it that way to stay within its rate limits).
 */
export class GitHubPublicKeys implements PublishedKeySource {
  constructor(private readonly url: string) {}

  async read(version?: string): Promise<PublishedKeysRead> {
    let response: Response;
    try {
      response = await fetch(this.url, {
        headers: {
          accept: 'application/json',
          'user-agent': 'veriproof-keys-secret-scanning',
          ...(version ? { 'if-none-match': version } : {}),
        },
        redirect: 'error',
        signal: AbortSignal.timeout(READ_TIMEOUT_MS),
      });
    } catch (error) {
      throw new DependencyUnavailableError('GitHub secret-scanning keys', error);
    }
    if (response.status === 304) return { status: 'not_modified' };
    if (!response.ok) {
      await response.body?.cancel().catch(() => undefined);
      throw new DependencyUnavailableError('GitHub secret-scanning keys', new Error(`HTTP ${response.status} from the key list`));
    }
    let document: z.infer<typeof publicKeysDocument>;
    try {
      const text = await response.text();
      if (Buffer.byteLength(text) > MAX_LIST_BYTES) throw new Error('the key list is larger than any GitHub publishes');
      document = publicKeysDocument.parse(JSON.parse(text));
    } catch (error) {
      throw new DependencyUnavailableError('GitHub secret-scanning keys', error);
    }
    const etag = response.headers.get('etag') ?? undefined;
    return {
      status: 'fetched',
      keys: document.public_keys.map((k) => ({ id: k.key_identifier, pem: k.key })),
      ...(etag ? { version: etag } : {}),
    };
  }
}
