import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { MemoryHostResolver } from '../../shared/adapters/memory/memory-host-resolver';
import { GuardedHttpClient } from '../../shared/adapters/net/guarded-http-client';
import { OutboundGuard } from '../../shared/net/outbound-guard';
import type { OutboundRequest } from '../../shared/ports/outbound-http';

/**
 * The guarded HTTP client over real sockets on this machine. The servers listen on 127.0.0.2 only,
 * and the names asked for (`localhost`, `pinned.example`) resolve there through the in-memory
 * resolver alone: the system resolver would send `localhost` to 127.0.0.1 (nothing listens
 * there) and knows no `pinned.example`, so an answer proves the connection went to the address
 * the guard checked. The HTTPS server's certificate names `pinned.example`, so an answer proves
 * too that the name, not the address, was the TLS server name and what the certificate was
 * checked against.
 */
const HOST = '127.0.0.2';

interface Seen {
  path: string;
  method: string;
  headers: IncomingMessage['headers'];
  body: string;
  servername?: string | false | null;
}

function handler(seen: Seen[]) {
  return (request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const path = request.url ?? '';
      seen.push({
        path,
        method: request.method ?? '',
        headers: request.headers,
        body: Buffer.concat(chunks).toString(),
        servername: (request.socket as TLSSocket).servername,
      });
      if (path === '/hello')
        response.writeHead(200, { 'content-type': 'application/json', 'x-twice': ['a', 'b'] }).end('{"hello":"world"}');
      else if (path === '/redirect') response.writeHead(302, { location: `http://localhost:${portOf(plain)}/hello` }).end();
      else if (path === '/exactly-4096') response.writeHead(200).end('x'.repeat(4096));
      else if (path === '/endless') {
        // An answer that never ends, written as fast as it is read: only the client's bound stops it.
        response.writeHead(200, { 'content-type': 'text/plain' });
        const more = () => {
          while (!response.destroyed && response.write(Buffer.alloc(64 * 1024, 'y')));
        };
        response.on('drain', more);
        more();
      } else if (path === '/headers-only')
        response.writeHead(200, { 'content-length': '100' }).write('partial'); // and nothing more
      else if (path === '/cut') {
        response.writeHead(200, { 'content-length': '100' }).write('partial', () => request.socket.destroy());
      } else if (path === '/hang') {
        // Never answered.
      } else response.writeHead(404).end();
    });
  };
}

let plain: Server;
let tls: Server;
let ca: Buffer;
const seen: Seen[] = [];
const connections: Socket[] = [];

const portOf = (server: Server) => (server.address() as AddressInfo).port;

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vp-outbound-'));
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=pinned.example',
      '-addext',
      'subjectAltName=DNS:pinned.example',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
    ],
    { stdio: 'ignore' },
  );
  ca = readFileSync(join(dir, 'cert.pem'));
  plain = createServer(handler(seen));
  tls = createTlsServer({ key: readFileSync(join(dir, 'key.pem')), cert: ca }, handler(seen));
  for (const server of [plain, tls]) {
    server.on('connection', (socket: Socket) => connections.push(socket));
    await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  }
});

afterAll(async () => {
  for (const server of [plain, tls]) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

function client(localMode: boolean, names: Record<string, string | string[]>) {
  const resolver = new MemoryHostResolver(names);
  return { resolver, client: new GuardedHttpClient(new OutboundGuard(resolver, { localMode }), { ca }) };
}

const get = (url: string, bounds: Partial<OutboundRequest> = {}): OutboundRequest => ({
  url,
  method: 'GET',
  timeoutMs: 5_000,
  maxResponseBytes: 4096,
  ...bounds,
});

describe('the guarded HTTP client', () => {
  describe('happy path', () => {
    it('connects to the checked address while the Host header keeps the name', async () => {
      const { client: http, resolver } = client(true, { localhost: HOST });
      const before = seen.length;
      const result = await http.send(get(`http://localhost:${portOf(plain)}/hello`));
      expect(result).toEqual({
        ok: true,
        response: {
          status: 200,
          headers: expect.objectContaining({ 'content-type': 'application/json', 'x-twice': 'a, b' }),
          body: Buffer.from('{"hello":"world"}'),
          truncated: false,
          address: HOST,
        },
      });
      expect(seen.slice(before)).toEqual([
        expect.objectContaining({
          path: '/hello',
          headers: expect.objectContaining({ host: `localhost:${portOf(plain)}`, 'user-agent': 'veriproof-keys' }),
        }),
      ]);
      expect(resolver.lookups).toEqual(['localhost']);
    });

    it('speaks TLS to the checked address with the name as server name, the certificate checked against the name', async () => {
      const { client: http } = client(true, { 'pinned.example': HOST, 'other.example': HOST });
      const before = seen.length;
      const result = await http.send(get(`https://pinned.example:${portOf(tls)}/hello`));
      expect(result).toMatchObject({ ok: true, response: { status: 200, address: HOST } });
      expect(seen.slice(before)).toEqual([
        expect.objectContaining({
          servername: 'pinned.example',
          headers: expect.objectContaining({ host: `pinned.example:${portOf(tls)}` }),
        }),
      ]);
      // The same server, reached under a name its certificate does not hold: refused by TLS, nothing sent.
      const wrong = await http.send(get(`https://other.example:${portOf(tls)}/hello`));
      expect(wrong).toEqual({
        ok: false,
        failure: 'unreachable',
        detail: expect.stringMatching(/^other\.example: .*(altnames|ERR_TLS_CERT_ALTNAME_INVALID)/),
      });
      expect(seen.length).toBe(before + 1);
    });

    it('sends a POST with its body and headers as given, but never another Host', async () => {
      const { client: http } = client(true, { localhost: HOST });
      const before = seen.length;
      const body = JSON.stringify({ type: 'key.revoked' });
      const result = await http.send({
        url: `http://localhost:${portOf(plain)}/hook?attempt=1`,
        method: 'POST',
        headers: { 'content-type': 'application/json', 'webhook-id': 'msg_1', host: 'evil.example', 'user-agent': 'veriproof-webhooks' },
        body,
        timeoutMs: 5_000,
        maxResponseBytes: 4096,
      });
      expect(result).toMatchObject({ ok: true, response: { status: 404 } });
      expect(seen.slice(before)).toEqual([
        expect.objectContaining({
          path: '/hook?attempt=1',
          method: 'POST',
          body,
          headers: expect.objectContaining({
            host: `localhost:${portOf(plain)}`,
            'content-type': 'application/json',
            'content-length': String(body.length),
            'webhook-id': 'msg_1',
            'user-agent': 'veriproof-webhooks',
          }),
        }),
      ]);
    });

    it('tries the next checked address when one does not answer, and no other', async () => {
      // 127.0.0.3 has no listener: the connection falls back to 127.0.0.2, both checked.
      const { client: http } = client(true, { localhost: ['127.0.0.3', HOST] });
      expect(await http.send(get(`http://localhost:${portOf(plain)}/hello`))).toMatchObject({ ok: true, response: { address: HOST } });
      const { client: nowhere } = client(true, { localhost: ['127.0.0.3'] });
      expect(await nowhere.send(get(`http://localhost:${portOf(plain)}/hello`))).toMatchObject({
        ok: false,
        failure: 'unreachable',
        detail: expect.stringMatching(/ECONNREFUSED/),
      });
    });
  });

  describe('security path', () => {
    it.each([
      ['127.0.0.2', HOST],
      ['the cloud metadata address', '169.254.169.254'],
    ])('refuses, in production, a name that resolves to %s, without connecting', async (_name, address) => {
      const { client: http } = client(false, { 'hooks.example': address });
      const before = connections.length;
      const result = await http.send(get(`https://hooks.example:${portOf(tls)}/hello`));
      expect(result).toEqual({
        ok: false,
        failure: 'not_allowed',
        detail: expect.stringContaining(`hooks.example resolves to ${address} (`),
      });
      expect(connections.length).toBe(before);
    });

    it('follows no redirect: the 3xx is the answer', async () => {
      const { client: http } = client(true, { localhost: HOST });
      const before = seen.length;
      const result = await http.send(get(`http://localhost:${portOf(plain)}/redirect`));
      expect(result).toMatchObject({
        ok: true,
        response: { status: 302, headers: { location: `http://localhost:${portOf(plain)}/hello` } },
      });
      expect(seen.slice(before).map((s) => s.path)).toEqual(['/redirect']);
    });

    it('reads an endless body up to its bound, then closes the connection; takes a body of exactly the bound whole', async () => {
      const { client: http } = client(true, { localhost: HOST });
      const endless = await http.send(get(`http://localhost:${portOf(plain)}/endless`, { maxResponseBytes: 4096 }));
      expect(endless).toMatchObject({ ok: true, response: { status: 200, truncated: true } });
      expect(endless.ok && endless.response.body).toEqual(Buffer.alloc(4096, 'y'));
      const exact = await http.send(get(`http://localhost:${portOf(plain)}/exactly-4096`, { maxResponseBytes: 4096 }));
      expect(exact).toMatchObject({ ok: true, response: { truncated: false } });
      expect(exact.ok && exact.response.body.length).toBe(4096);
    });

    it('gives up at the deadline on an endpoint that never answers, or never finishes its answer', async () => {
      const { client: http } = client(true, { localhost: HOST });
      for (const path of ['/hang', '/headers-only']) {
        expect({ path, result: await http.send(get(`http://localhost:${portOf(plain)}${path}`, { timeoutMs: 300 })) }).toEqual({
          path,
          result: { ok: false, failure: 'timeout', detail: 'no complete answer from localhost in 300 ms' },
        });
      }
    });

    it('gives up at the deadline on a resolver that never answers, connecting nowhere', async () => {
      const { client: http, resolver } = client(false, { 'slow.example': '8.8.8.8' });
      resolver.gate = new Promise(() => undefined);
      const before = connections.length;
      expect(await http.send(get('https://slow.example/', { timeoutMs: 200 }))).toEqual({
        ok: false,
        failure: 'timeout',
        detail: 'slow.example did not resolve in time',
      });
      expect(connections.length).toBe(before);
    });

    it('answers a connection cut mid-body as unreachable, not as a short body', async () => {
      const { client: http } = client(true, { localhost: HOST });
      expect(await http.send(get(`http://localhost:${portOf(plain)}/cut`))).toEqual({
        ok: false,
        failure: 'unreachable',
        detail: expect.stringMatching(/^localhost: .*(aborted|cut short|ECONNRESET)/),
      });
    });

    it('refuses headers Node would not send, sending nothing', async () => {
      const { client: http } = client(true, { localhost: HOST });
      const before = connections.length;
      const result = await http.send({ ...get(`http://localhost:${portOf(plain)}/hello`), headers: { 'x-bad': 'a\r\nb' } });
      expect(result).toMatchObject({ ok: false, failure: 'unreachable', detail: expect.stringMatching(/^the request could not be made/) });
      expect(connections.length).toBe(before);
    });
  });
});
