import { request as httpRequest } from 'node:http';
import type { ServiceContext } from '../../app/context';
import { MAX_JSON_BODY_BYTES } from '../../shared/http/body';
import { serveApp } from '../support/http';
import { portalToken } from '../support/portal';
import { customerWithKey, testServices } from '../support/services';

/**
 * Nothing is read before the door: the host hands each function its body as a stream, the door
 * decides on the headers, and only a handler reads the body, with its route's bound. An
 * unauthenticated upload is answered at once and its connection closed, whatever it sends.
 */
describe('request bodies are read after authentication, within each route bound', () => {
  let services: ServiceContext;
  let app: Awaited<ReturnType<typeof serveApp>>;

  beforeAll(async () => {
    services = testServices();
    app = await serveApp(services);
  });
  afterAll(async () => {
    await app?.close();
    await services?.dispose();
  });

  /**
   * Streams `totalBytes` (from one reused 64 KiB chunk, so the client holds almost nothing) and
   * resolves with the answer and how much the client had managed to send when it came.
   */
  function upload(
    path: string,
    headers: Record<string, string>,
    totalBytes: number,
  ): Promise<{ status: number; code: string; sentWhenAnswered: number; connection: string | undefined }> {
    return new Promise((resolve, reject) => {
      const chunk = Buffer.alloc(64 * 1024, 0x61);
      let sent = 0;
      const req = httpRequest(`${app.url}${path}`, { method: 'POST', headers });
      req.on('response', (res) => {
        const sentWhenAnswered = sent;
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => {
          let code = '';
          try {
            code = (JSON.parse(body) as { code?: string }).code ?? '';
          } catch {
            // Not JSON (a connection cut mid-answer): no code to report.
          }
          resolve({ status: res.statusCode ?? 0, code, sentWhenAnswered, connection: res.headers.connection });
        });
      });
      req.on('error', (error: NodeJS.ErrnoException) => {
        // The host closing the connection on an unread upload is expected; the answer came first.
        if (error.code !== 'ECONNRESET' && error.code !== 'EPIPE') reject(error);
      });
      const pump = () => {
        while (sent < totalBytes) {
          sent += chunk.length;
          if (!req.write(chunk)) return void req.once('drain', pump);
        }
        req.end();
      };
      pump();
    });
  }

  it('answers an unauthenticated 64 MiB upload with 401 long before it is sent, and closes the connection', async () => {
    const answer = await upload('/v1/traces', { 'content-type': 'application/x-protobuf' }, 64 * 1024 * 1024);
    expect(answer).toMatchObject({ status: 401, code: 'api_key_missing', connection: 'close' });
    expect(answer.sentWhenAnswered).toBeLessThan(16 * 1024 * 1024);
  });

  it('holds no unauthenticated upload in memory: 16 parallel 32 MiB uploads leave the heap where it was', async () => {
    global.gc?.();
    const before = process.memoryUsage();
    const answers = await Promise.all(
      Array.from({ length: 16 }, () =>
        upload('/v1/traces', { 'content-type': 'application/json', 'x-api-key': 'vp_cust_nobody.x.y' }, 32 * 1024 * 1024),
      ),
    );
    const after = process.memoryUsage();
    expect(answers.every((a) => a.status === 401 && a.code === 'api_key_malformed')).toBe(true);
    // 512 MiB were offered; buffering even a tenth of it would show here.
    expect(after.arrayBuffers - before.arrayBuffers).toBeLessThan(48 * 1024 * 1024);
    expect(after.rss - before.rss).toBeLessThan(96 * 1024 * 1024);
  });

  it('stops reading an authenticated ingest body at its 4 MiB bound, declared or not', async () => {
    const { key } = await customerWithKey(services);
    const chunked = await upload('/v1/traces', { 'content-type': 'application/x-protobuf', 'x-api-key': key }, 12 * 1024 * 1024);
    expect(chunked).toMatchObject({ status: 413, code: 'payload_too_large' });
    expect(chunked.sentWhenAnswered).toBeLessThan(10 * 1024 * 1024);
    const declared = await upload(
      '/v1/traces',
      { 'content-type': 'application/x-protobuf', 'x-api-key': key, 'content-length': String(12 * 1024 * 1024) },
      12 * 1024 * 1024,
    );
    expect(declared).toMatchObject({ status: 413, code: 'payload_too_large' });
  });

  it(`stops reading a portal JSON body at ${MAX_JSON_BODY_BYTES / 1024} KiB`, async () => {
    const { customer } = await customerWithKey(services);
    const token = await portalToken(services, { customer: customer.slug, roles: ['CustomerAdmin'] });
    const answer = await upload(
      '/v1/customer-keys/issue',
      { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      8 * 1024 * 1024,
    );
    expect(answer).toMatchObject({ status: 413, code: 'payload_too_large' });
    // The same route without a token is refused on its headers, its body unread.
    const anonymous = await upload('/v1/customer-keys/issue', { 'content-type': 'application/json' }, 8 * 1024 * 1024);
    expect(anonymous).toMatchObject({ status: 401, code: 'unauthenticated', connection: 'close' });
  });
});
