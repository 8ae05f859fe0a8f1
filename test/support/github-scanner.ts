import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One match of a GitHub secret-scanning report. */
export interface ReportMatch {
  token: string;
  type?: string;
  url?: string;
  source?: string;
}

/**
 * Stands in for GitHub's secret scanning: key pairs of its own (ECDSA P-256, like GitHub's),
 * the public halves served in GitHub's `public_keys` format (with an ETag, answering 304 to a
 * conditional read), and reports signed the way GitHub signs them. It can be taken down, and
 * counts the reads of its key list.
 */
export class FakeGitHubScanner {
  private readonly keys = new Map<string, { privateKey: KeyObject; publicPem: string }>();
  private published: string[] = [];
  /** Reads of the key list (304s included). */
  reads = 0;
  /** When true the key list answers 503. */
  down = false;
  currentKeyId: string;

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {
    this.currentKeyId = this.addKey();
  }

  static async start(): Promise<FakeGitHubScanner> {
    const holder: { scanner?: FakeGitHubScanner } = {};
    const server = createServer((request, response) => holder.scanner!.serve(request.headers['if-none-match'], response));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    holder.scanner = new FakeGitHubScanner(server, `http://127.0.0.1:${port}/meta/public_keys/secret_scanning`);
    return holder.scanner;
  }

  /** A new key pair; published at once unless told otherwise. Returns its key id. */
  addKey(options: { publish?: boolean } = {}): string {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const publicPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const id = createHash('sha256').update(publicPem).digest('hex');
    this.keys.set(id, { privateKey, publicPem });
    if (options.publish !== false) this.publish(id);
    return id;
  }

  publish(id: string): void {
    if (!this.published.includes(id)) this.published.push(id);
  }

  /** GitHub's signature over these bytes: DER ECDSA P-256 / SHA-256, base64. */
  sign(body: string | Buffer, keyId = this.currentKeyId): string {
    return sign('sha256', Buffer.from(body), this.keys.get(keyId)!.privateKey).toString('base64');
  }

  /** A report as GitHub sends it: the JSON body and its signature headers. */
  report(matches: ReportMatch[], keyId = this.currentKeyId): { body: string; headers: Record<string, string> } {
    const body = JSON.stringify(
      matches.map((m) => ({ token: m.token, type: m.type ?? 'veriproof_api_key', url: m.url ?? '', source: m.source ?? 'content' })),
    );
    return {
      body,
      headers: {
        'content-type': 'application/json',
        'Github-Public-Key-Identifier': keyId,
        'Github-Public-Key-Signature': this.sign(body, keyId),
      },
    };
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private serve(ifNoneMatch: string | undefined, response: ServerResponse): void {
    this.reads += 1;
    if (this.down) {
      response.writeHead(503).end();
      return;
    }
    const etag = `"${createHash('sha256').update(this.published.join(',')).digest('hex').slice(0, 16)}"`;
    if (ifNoneMatch === etag) {
      response.writeHead(304, { etag }).end();
      return;
    }
    const body = JSON.stringify({
      public_keys: this.published.map((id) => ({
        key_identifier: id,
        key: this.keys.get(id)!.publicPem,
        is_current: id === this.currentKeyId,
      })),
    });
    response.writeHead(200, { 'content-type': 'application/json', etag }).end(body);
  }
}
