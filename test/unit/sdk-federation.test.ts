/**
 * The TypeScript SDK without a key: the identity token exchanged for ingest tokens, against a stub
 * token endpoint and stub ingest on loopback. The exchange's form, the cache, the refresh ahead of
 * expiry on an injected clock, one exchange for concurrent callers, one re-exchange and one retry
 * on a 401 (no loop), the errors, the ready providers (GitHub Actions against a stub of its token
 * endpoint, Azure with a fake credential, Google against a stub metadata server, a token file
 * rewritten between exchanges), and never a token in what the SDK logs or throws.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import {
  azureIdentityToken,
  configureVeriproof,
  fileIdentityToken,
  githubActionsIdentityToken,
  googleIdentityToken,
  IdentityTokenError,
  TokenExchangeError,
  type AzureTokenCredential,
  type VeriproofHandle,
} from '../../sdks/typescript/src/index';
import { VeriproofSpanExporter } from '../../sdks/typescript/src/exporter';
import { FederatedCredential, refreshAfterMillis, type IdentityTokenProvider } from '../../sdks/typescript/src/federation';
import { googleMetadataBase, loadDefaultAzureCredential } from '../../sdks/typescript/src/providers';
import { trackSecret } from '../support/secrets';

type Answer = { status: number; headers?: Record<string, string>; body?: string };

/** The service's token exchange and ingest, GitHub Actions' token endpoint and Google's metadata server, on one loopback server. */
class StubService {
  server!: Server;
  url = '';
  exchanges: Array<{ form: Record<string, string>; headers: IncomingHttpHeaders }> = [];
  traces: Array<{ headers: IncomingHttpHeaders; body: Buffer }> = [];
  issued: string[] = [];
  tokenAnswers: Answer[] = [];
  expiresIn = 900;
  refuse = new Set<string>();
  refuseAll = false;
  /** When set, exchanges are held until it resolves. */
  gate: Promise<void> | undefined;
  githubRequestToken = trackSecret(`ghs_${randomBytes(18).toString('base64url')}`);
  githubToken = trackSecret(`eyJ.github-${randomBytes(24).toString('base64url')}.sig`);
  githubRequests: Array<{ query: URLSearchParams; headers: IncomingHttpHeaders }> = [];
  googleToken = trackSecret(`eyJ.google-${randomBytes(24).toString('base64url')}.sig`);
  googleRequests: Array<{ query: URLSearchParams; headers: IncomingHttpHeaders }> = [];
  /** What the metadata server answers instead of the token (a status, a body, its own headers). */
  googleAnswer: Answer | undefined;
  otherRequests: string[] = [];

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => void this.handle(req.method ?? '', req.url ?? '', req.headers, Buffer.concat(chunks), res));
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  private async handle(method: string, path: string, headers: IncomingHttpHeaders, body: Buffer, res: ServerResponse): Promise<void> {
    const send = ({ status, headers: h = {}, body: b = '' }: Answer) => {
      res.writeHead(status, h);
      res.end(b);
    };
    const url = new URL(path, this.url);
    if (method === 'POST' && url.pathname === '/v1/oauth/token') {
      this.exchanges.push({ form: Object.fromEntries(new URLSearchParams(body.toString())), headers });
      if (this.gate) await this.gate;
      send(this.tokenAnswers.shift() ?? this.newToken());
    } else if (method === 'POST' && url.pathname === '/v1/traces') {
      this.traces.push({ headers, body });
      const token = (headers.authorization ?? '').replace(/^Bearer /, '');
      if (this.refuseAll || this.refuse.has(token)) {
        send({ status: 401, headers: { 'content-type': 'application/problem+json' }, body: '{"code":"token_invalid","status":401}' });
      } else send({ status: 200, headers: { 'content-type': 'application/x-protobuf' } });
    } else if (method === 'GET' && url.pathname === '/github/idtoken') {
      this.githubRequests.push({ query: url.searchParams, headers });
      if (headers.authorization !== `bearer ${this.githubRequestToken}`) send({ status: 401, body: '{"message":"no"}' });
      else
        send({ status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ count: 1, value: this.githubToken }) });
    } else if (method === 'GET' && url.pathname === '/computeMetadata/v1/instance/service-accounts/default/identity') {
      this.googleRequests.push({ query: url.searchParams, headers });
      if (headers['metadata-flavor'] !== 'Google') send({ status: 403, body: 'Missing Metadata-Flavor:Google header.' });
      else
        send(
          this.googleAnswer ?? {
            status: 200,
            headers: { 'content-type': 'text/html', 'metadata-flavor': 'Google' },
            body: `${this.googleToken}\n`,
          },
        );
    } else {
      this.otherRequests.push(path);
      send({ status: 404 });
    }
  }

  newToken(expiresIn = this.expiresIn): Answer {
    const token = trackSecret(`vpat_${randomBytes(32).toString('base64url')}`);
    this.issued.push(token);
    return {
      status: 200,
      headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
      body: JSON.stringify({
        access_token: token,
        issued_token_type: 'urn:ietf:params:oauth:token-type:access_token',
        token_type: 'Bearer',
        expires_in: expiresIn,
      }),
    };
  }

  bearerTokens(): string[] {
    return this.traces.map((t) => (t.headers.authorization ?? '').replace(/^Bearer /, ''));
  }

  close(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }
}

const errorAnswer = (error: string, status = 400): Answer => ({
  status,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ error, error_description: 'refused' }),
});

/** A JWT-shaped identity token (the stub does not verify it; the service does), registered with the log capture. */
const identityToken = () =>
  trackSecret(`eyJhbGciOiJSUzI1NiJ9.${randomBytes(36).toString('base64url')}.${randomBytes(36).toString('base64url')}`);

function counting(token: string) {
  const provider = Object.assign(
    (context?: { customer: string }) => {
      provider.calls += 1;
      provider.contexts.push(context);
      return token;
    },
    { calls: 0, contexts: [] as Array<{ customer: string } | undefined> },
  );
  return provider;
}

/** Collects what the SDK logs; the tests check no token is in it (and the global capture checks console). */
function recordingLogger() {
  const lines: string[] = [];
  return { lines, warn: (line: string) => void lines.push(line) };
}

class FakeClock {
  millis = 1_000_000;
  now = () => this.millis;
}

function spans(...names: string[]): ReadableSpan[] {
  const memory = new InMemorySpanExporter();
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter: memory })] });
  for (const name of names) provider.getTracer('test').startSpan(name).end();
  const finished = memory.getFinishedSpans();
  expect(finished.map((s) => s.name)).toEqual(names);
  return finished;
}

let stub: StubService;
const handles: VeriproofHandle[] = [];
const exporters: VeriproofSpanExporter[] = [];
beforeEach(async () => {
  stub = await new StubService().start();
});
afterEach(async () => {
  await Promise.all(handles.splice(0).map((h) => h.shutdown()));
  await Promise.all(exporters.splice(0).map((e) => e.shutdown()));
  await stub.close();
});

const credential = (provider: IdentityTokenProvider, clock: FakeClock, pauseMillis = 60_000) =>
  new FederatedCredential({
    tokenUrl: `${stub.url}/v1/oauth/token`,
    customer: 'acme',
    identityTokenProvider: provider,
    timeoutMillis: 5_000,
    pauseMillis,
    now: clock.now,
  });

function exporterFor(source: FederatedCredential, clock: FakeClock, logger = recordingLogger()) {
  const exporter = new VeriproofSpanExporter({
    url: `${stub.url}/v1/traces`,
    resolveKey: () => source.key(),
    forgetKey: (key) => source.forget(key),
    pauseMillis: 60_000,
    timeoutMillis: 10_000,
    logger,
    now: clock.now,
  });
  exporters.push(exporter);
  return { exporter, logger, send: (...names: string[]) => new Promise<ExportResult>((r) => exporter.export(spans(...names), r)) };
}

/** Every token made in a test: none may be in a log line or an error's text. */
function expectNoTokenIn(text: string, ...extra: string[]) {
  for (const token of [...stub.issued, stub.githubToken, stub.githubRequestToken, stub.googleToken, ...extra])
    expect(text).not.toContain(token);
}

/** What a promise (or a provider's answer) rejects with. */
const errorOf = async (promise: unknown): Promise<TokenExchangeError> => {
  try {
    await promise;
  } catch (error) {
    return error as TokenExchangeError;
  }
  throw new Error('expected a rejection');
};

describe('the exchange, end to end through configureVeriproof', () => {
  it('exchanges once, at the first export, and sends the ingest token as Bearer and nothing else', async () => {
    const token = identityToken();
    const provider = counting(token);
    const logger = recordingLogger();
    const sdk = configureVeriproof({
      applicationId: 'checkout',
      serviceName: 'checkout-deploy',
      endpoint: `${stub.url}/`,
      customer: 'acme',
      identityTokenProvider: provider,
      logger,
    });
    handles.push(sdk);
    expect(stub.exchanges).toEqual([]); // lazily
    for (const name of ['one', 'two', 'three']) {
      sdk.tracer().startSpan(name).end();
      await sdk.forceFlush();
    }
    expect(stub.exchanges).toHaveLength(1);
    const [exchange] = stub.exchanges;
    expect(exchange!.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(exchange!.headers.authorization).toBeUndefined();
    expect(exchange!.form).toEqual({
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      subject_token: token,
      subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
      audience: 'acme',
    });
    expect(provider.calls).toBe(1);
    expect(provider.contexts).toEqual([{ customer: 'acme' }]);
    expect(stub.traces).toHaveLength(3);
    for (const request of stub.traces) {
      expect(request.headers.authorization).toBe(`Bearer ${stub.issued[0]}`);
      expect(request.headers['x-api-key']).toBeUndefined();
      expect(request.headers['x-functions-key']).toBeUndefined();
      expect(request.body.toString('latin1')).not.toContain(token);
    }
    expect(logger.lines).toEqual([]);
  });

  it('shares one exchange among concurrent exports', async () => {
    let release!: () => void;
    stub.gate = new Promise((r) => (release = r));
    const provider = counting(identityToken());
    const { send } = exporterFor(credential(provider, new FakeClock()), new FakeClock());
    const results = Promise.all([send('a'), send('b'), send('c'), send('d')]);
    await new Promise((r) => setImmediate(r));
    release();
    expect((await results).map((r) => r.code)).toEqual(Array(4).fill(ExportResultCode.SUCCESS));
    expect(stub.exchanges).toHaveLength(1);
    expect(provider.calls).toBe(1);
    expect(new Set(stub.bearerTokens())).toEqual(new Set([stub.issued[0]]));
  });
});

describe('cache and refresh, on an injected clock', () => {
  it.each([
    [900, 720],
    [300, 240],
    [3600, 2880],
    [100, 50],
  ])('a token of %i s is refreshed after %i s (80 %% or 60 s before the end, whichever is earlier)', async (expiresIn, due) => {
    expect(refreshAfterMillis(expiresIn)).toBe(due * 1000);
    stub.expiresIn = expiresIn;
    const clock = new FakeClock();
    const provider = counting(identityToken());
    const source = credential(provider, clock);
    const first = await source.key();
    clock.millis += due * 1000 - 1;
    expect(await source.key()).toBe(first);
    expect(stub.exchanges).toHaveLength(1);
    clock.millis += 1;
    const second = await source.key();
    expect(second).not.toEqual(first);
    expect(second.headers).toEqual({ Authorization: `Bearer ${stub.issued[1]}` });
    expect(stub.exchanges).toHaveLength(2);
    expect(provider.calls).toBe(2);
  });

  it('keeps a token that still serves when its refresh fails, and tries again soon', async () => {
    const clock = new FakeClock();
    const source = credential(counting(identityToken()), clock);
    const first = await source.key();
    clock.millis += 720_000; // refresh due; 180 s of life left
    stub.tokenAnswers.push({ status: 503 });
    expect(await source.key()).toBe(first);
    clock.millis += 29_999;
    expect(await source.key()).toBe(first);
    expect(stub.exchanges).toHaveLength(2); // not asked again at every export
    clock.millis += 1;
    expect(await source.key()).not.toEqual(first);
    expect(stub.exchanges).toHaveLength(3);
  });

  it('does not use a token past its end', async () => {
    const clock = new FakeClock();
    const source = credential(counting(identityToken()), clock);
    await source.key();
    clock.millis += 900_000;
    stub.tokenAnswers.push({ status: 503 });
    expect((await errorOf(source.key())).message).toMatch(/\(503\): the service is unavailable/);
  });

  it('shares one exchange among concurrent callers, and one failure', async () => {
    const clock = new FakeClock();
    const provider = counting(identityToken());
    const source = credential(provider, clock);
    const keys = await Promise.all(Array.from({ length: 8 }, () => source.key()));
    expect(stub.exchanges).toHaveLength(1);
    expect(provider.calls).toBe(1);
    expect(keys.every((k) => k === keys[0])).toBe(true);

    const refusing = credential(counting(identityToken()), clock);
    stub.tokenAnswers.push(errorAnswer('invalid_grant'));
    const outcomes = await Promise.allSettled(Array.from({ length: 4 }, () => refusing.key()));
    expect(stub.exchanges).toHaveLength(2);
    expect(outcomes.map((o) => o.status === 'rejected' && (o.reason as TokenExchangeError).error)).toEqual(Array(4).fill('invalid_grant'));
  });
});

describe('a 401 from ingest', () => {
  it('exchanges again once and sends that export again with the new token', async () => {
    const clock = new FakeClock();
    const { send, logger } = exporterFor(credential(counting(identityToken()), clock), clock);
    expect((await send('first')).code).toBe(ExportResultCode.SUCCESS);
    stub.refuse.add(stub.issued[0]!); // the service no longer takes the first ingest token
    expect((await send('second')).code).toBe(ExportResultCode.SUCCESS);
    expect(stub.exchanges).toHaveLength(2);
    expect(stub.bearerTokens()).toEqual([stub.issued[0], stub.issued[0], stub.issued[1]]);
    expect(stub.traces[2]!.body.equals(stub.traces[1]!.body)).toBe(true); // the same spans, sent again
    expect((await send('third')).code).toBe(ExportResultCode.SUCCESS);
    expect(stub.bearerTokens().at(-1)).toBe(stub.issued[1]);
    expect(stub.exchanges).toHaveLength(2);
    expect(logger.lines).toEqual([]);
  });

  it('does not loop on a second 401: one warning without a token, then a pause', async () => {
    stub.refuseAll = true; // say, the trust policy was deleted
    const clock = new FakeClock();
    const { send, logger } = exporterFor(credential(counting(identityToken()), clock), clock);
    expect((await send('refused')).code).toBe(ExportResultCode.FAILED);
    expect(stub.exchanges).toHaveLength(2); // one re-exchange
    expect(stub.traces).toHaveLength(2); // one retry
    for (let i = 0; i < 3; i++) expect((await send('paused')).code).toBe(ExportResultCode.FAILED);
    expect(stub.exchanges).toHaveLength(2);
    expect(stub.traces).toHaveLength(2);
    expect(logger.lines).toHaveLength(1);
    expect(logger.lines[0]).toMatch(
      /^\[veriproof\] The service refused the ingest token of vp_cust_acme \(401 token_invalid\), also one exchanged just now: .* paused for 60 s/,
    );
    expectNoTokenIn(logger.lines.join('\n'));
    clock.millis += 61_000; // the pause is over: the token is tried, refused, exchanged once more
    expect((await send('later')).code).toBe(ExportResultCode.FAILED);
    expect(stub.exchanges).toHaveLength(3);
    expect(stub.traces).toHaveLength(4);
  });
});

describe('exchange errors', () => {
  it('invalid_grant is a clear error without a token, not asked again until the pause ends', async () => {
    const token = identityToken();
    const clock = new FakeClock();
    stub.tokenAnswers.push(errorAnswer('invalid_grant'));
    const source = credential(counting(token), clock);
    const error = await errorOf(source.key());
    expect(error).toBeInstanceOf(TokenExchangeError);
    expect([error.status, error.error, error.retryInMillis]).toEqual([400, 'invalid_grant', 60_000]);
    expect(error.message).toMatch(
      /^The token exchange for customer acme failed \(400 invalid_grant\): no trust policy of acme accepts this identity token/,
    );
    expectNoTokenIn(`${error.message}\n${error.stack ?? ''}`, token);
    clock.millis += 59_000;
    expect((await errorOf(source.key())).error).toBe('invalid_grant');
    expect(stub.exchanges).toHaveLength(1); // the audit log is not filled at every export
    clock.millis += 1_000;
    expect((await source.key()).headers).toEqual({ Authorization: `Bearer ${stub.issued[0]}` });
    expect(stub.exchanges).toHaveLength(2);
  });

  it.each<[string, Answer, string, boolean]>([
    [
      'invalid_target',
      errorAnswer('invalid_target'),
      '(400 invalid_target): the service has no customer acme; check the customer option',
      true,
    ],
    ['invalid_request', errorAnswer('invalid_request'), '(400 invalid_request): the service did not take the request', true],
    ['429', { status: 429, headers: { 'retry-after': '3' } }, '(429): too many exchanges', false],
    ['503', { status: 503, body: '<html>down</html>' }, '(503): the service is unavailable', false],
    ['not bearer', { status: 200, body: '{"access_token":"x","token_type":"mac","expires_in":900}' }, 'not a bearer token', false],
    [
      'a space in the token',
      { status: 200, body: '{"access_token":"a b","token_type":"Bearer","expires_in":900}' },
      'not a bearer token',
      false,
    ],
    [
      'expires_in a string',
      { status: 200, body: '{"access_token":"x","token_type":"Bearer","expires_in":"900"}' },
      'not a bearer token',
      false,
    ],
    ['a redirect', { status: 307, headers: { location: '/elsewhere' } }, 'failed (307)', false],
  ])('%s: says what happened', async (_name, answer, says, paused) => {
    const token = identityToken();
    stub.tokenAnswers.push(answer);
    const source = credential(counting(token), new FakeClock());
    const error = await errorOf(source.key());
    expect(error.message).toContain(says);
    expectNoTokenIn(error.message, token);
    expect(error.retryInMillis !== undefined).toBe(paused);
    if (!paused) await source.key(); // a transient failure is tried again at the next call
    expect(stub.exchanges).toHaveLength(paused ? 1 : 2);
    expect(stub.otherRequests).toEqual([]); // a redirect is not followed: the identity token went nowhere else
  });

  it('an unreachable token endpoint is an error naming the customer', async () => {
    const dead = await new StubService().start();
    await dead.close();
    const source = new FederatedCredential({
      tokenUrl: `${dead.url}/v1/oauth/token`,
      customer: 'acme',
      identityTokenProvider: () => identityToken(),
      timeoutMillis: 2_000,
      pauseMillis: 60_000,
    });
    expect((await errorOf(source.key())).message).toBe('The token exchange for customer acme could not reach the service (TypeError).');
  });

  it('the exporter warns once for a refused exchange and drops only those spans', async () => {
    stub.tokenAnswers.push(errorAnswer('invalid_grant'));
    const clock = new FakeClock();
    const { send, logger } = exporterFor(credential(counting(identityToken()), clock), clock);
    for (let i = 0; i < 3; i++) expect((await send('lost')).code).toBe(ExportResultCode.FAILED);
    expect(logger.lines).toEqual([
      "[veriproof] The token exchange for customer acme failed (400 invalid_grant): no trust policy of acme accepts this identity token; check the policy's issuer, audience, subject and claims against the token (the customer's audit log has the reason). The spans of this export are dropped; the exchange is tried again in 60 s.",
    ]);
    expect(stub.exchanges).toHaveLength(1);
    expect(stub.traces).toEqual([]);
    clock.millis += 60_000;
    expect((await send('kept')).code).toBe(ExportResultCode.SUCCESS);
    expect(stub.traces).toHaveLength(1);
  });
});

describe('the identity-token provider failing', () => {
  it('a throwing provider fails the exchange naming only the error type', async () => {
    const token = identityToken();
    const error = await errorOf(
      credential(() => {
        throw new RangeError(`could not read ${token}`); // a message that must not travel
      }, new FakeClock()).key(),
    );
    expect(error.message).toBe('The identityTokenProvider failed (RangeError).');
    expect(`${error.stack}`).not.toContain(token);
    expect(stub.exchanges).toEqual([]);
  });

  it.each<[string, unknown, string]>([
    ['an empty string', '', 'an empty string'],
    ['undefined', undefined, 'undefined'],
    ['null', null, 'null'],
    ['a number', 42, 'number'],
  ])('a provider that returns %s is refused', async (_name, returned, says) => {
    const error = await errorOf(credential(() => returned as string, new FakeClock()).key());
    expect(error.message).toBe(`The identityTokenProvider returned no token (a non-empty string is needed; it returned ${says}).`);
    expect(stub.exchanges).toEqual([]);
  });

  it('an async provider is awaited', async () => {
    const token = identityToken();
    await credential(async () => token, new FakeClock()).key();
    expect(stub.exchanges.map((e) => e.form.subject_token)).toEqual([token]);
  });
});

describe('options', () => {
  const base = { applicationId: 'app', serviceName: 'svc', endpoint: 'http://127.0.0.1:1' };
  it.each<[string, Record<string, unknown>, RegExp]>([
    ['a key and a provider', { identityTokenProvider: () => 't', customer: 'acme', apiKey: 'k' }, /either a key/],
    ['a key provider and a provider', { identityTokenProvider: () => 't', customer: 'acme', apiKeyProvider: () => 'k' }, /either a key/],
    ['no customer', { identityTokenProvider: () => 't' }, /needs customer/],
    ['a customer alone', { customer: 'acme' }, /goes with identityTokenProvider/],
    ['a customer that is not a slug', { identityTokenProvider: () => 't', customer: 'Acme' }, /slug/],
    ['a customer too short', { identityTokenProvider: () => 't', customer: 'a' }, /slug/],
    ['a provider that is not a function', { identityTokenProvider: 'token', customer: 'acme' }, /function/],
  ])('refuses %s', (_name, options, message) => {
    expect(() => configureVeriproof({ ...base, ...options })).toThrow(message);
  });

  it('without a key or an identity-token provider, the error names both', () => {
    const saved = process.env.VERIPROOF_API_KEY;
    delete process.env.VERIPROOF_API_KEY;
    try {
      expect(() => configureVeriproof(base)).toThrow(/or identityTokenProvider and customer to send without a key/);
    } finally {
      if (saved !== undefined) process.env.VERIPROOF_API_KEY = saved;
    }
  });

  it('warns about the tokens for plain HTTP beyond this machine', async () => {
    const logger = recordingLogger();
    handles.push(
      configureVeriproof({ ...base, endpoint: 'http://ingest.example.com', customer: 'acme', identityTokenProvider: () => 't', logger }),
    );
    expect(logger.lines).toEqual([
      '[veriproof] The endpoint http://ingest.example.com is plain HTTP: your identity token and ingest tokens would cross the network unencrypted. Use https.',
    ]);
  });
});

describe('GitHub Actions', () => {
  const saved = { url: process.env.ACTIONS_ID_TOKEN_REQUEST_URL, token: process.env.ACTIONS_ID_TOKEN_REQUEST_TOKEN };
  const restore = (name: string, value: string | undefined) =>
    value === undefined ? delete process.env[name] : (process.env[name] = value);
  beforeEach(() => {
    // The job's environment with `permissions: id-token: write`, pointing at the stub.
    process.env.ACTIONS_ID_TOKEN_REQUEST_URL = `${stub.url}/github/idtoken?api-version=2.0`;
    process.env.ACTIONS_ID_TOKEN_REQUEST_TOKEN = stub.githubRequestToken;
  });
  afterEach(() => {
    restore('ACTIONS_ID_TOKEN_REQUEST_URL', saved.url);
    restore('ACTIONS_ID_TOKEN_REQUEST_TOKEN', saved.token);
  });

  it('asks for the customer as audience and exchanges that token', async () => {
    const sdk = configureVeriproof({
      applicationId: 'checkout',
      serviceName: 'checkout-deploy',
      endpoint: stub.url,
      customer: 'acme',
      identityTokenProvider: githubActionsIdentityToken(),
    });
    handles.push(sdk);
    sdk.tracer().startSpan('deployed').end();
    await sdk.forceFlush();
    expect(stub.githubRequests).toHaveLength(1);
    expect([...stub.githubRequests[0]!.query]).toEqual([
      ['api-version', '2.0'],
      ['audience', 'acme'],
    ]);
    expect(stub.githubRequests[0]!.headers.authorization).toBe(`bearer ${stub.githubRequestToken}`);
    expect(stub.exchanges.map((e) => [e.form.subject_token, e.form.audience])).toEqual([[stub.githubToken, 'acme']]);
    expect(stub.bearerTokens()).toEqual(stub.issued);
  });

  it('takes an audience of its own', async () => {
    expect(await githubActionsIdentityToken({ audience: 'https://github.com/acme' })({ customer: 'acme' })).toBe(stub.githubToken);
    expect(stub.githubRequests[0]!.query.get('audience')).toBe('https://github.com/acme');
  });

  it('says what to fix without id-token permission, and never shows its tokens', async () => {
    delete process.env.ACTIONS_ID_TOKEN_REQUEST_URL;
    const missing = await errorOf(githubActionsIdentityToken()({ customer: 'acme' }));
    expect(missing).toBeInstanceOf(IdentityTokenError);
    expect(missing.message).toMatch(/ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN are not set.*id-token: write/);
    // Through the exchange, the provider's own message is kept (it is the SDK's, and holds no token).
    expect((await errorOf(credential(githubActionsIdentityToken(), new FakeClock()).key())).message).toMatch(
      /^No identity token for customer acme: ACTIONS_ID_TOKEN_REQUEST_URL/,
    );

    process.env.ACTIONS_ID_TOKEN_REQUEST_URL = `${stub.url}/github/idtoken?api-version=2.0`;
    process.env.ACTIONS_ID_TOKEN_REQUEST_TOKEN = 'ghs_wrong';
    const refused = await errorOf(githubActionsIdentityToken()({ customer: 'acme' }));
    expect(refused.message).toBe("GitHub Actions' token endpoint answered 401; check the job's `permissions: id-token: write`.");
    expectNoTokenIn(refused.message);
  });
});

describe('Azure', () => {
  class FakeCredential implements AzureTokenCredential {
    scopes: Array<string | string[]> = [];
    constructor(
      private readonly token: string | undefined,
      private readonly error?: Error,
    ) {}
    async getToken(scopes: string | string[]) {
      this.scopes.push(scopes);
      if (this.error) throw this.error;
      return this.token === undefined ? null : { token: this.token, expiresOnTimestamp: 0 };
    }
  }

  it('gets a token for the scope from the credential given and exchanges it', async () => {
    const token = identityToken();
    const fake = new FakeCredential(token);
    const sdk = configureVeriproof({
      applicationId: 'checkout',
      serviceName: 'checkout-api',
      endpoint: stub.url,
      customer: 'acme',
      identityTokenProvider: azureIdentityToken({ scope: 'api://0b1c2d3e-aaaa-bbbb-cccc-123456789abc/.default', credential: fake }),
    });
    handles.push(sdk);
    sdk.tracer().startSpan('x').end();
    await sdk.forceFlush();
    expect(fake.scopes).toEqual(['api://0b1c2d3e-aaaa-bbbb-cccc-123456789abc/.default']);
    expect(stub.exchanges.map((e) => e.form.subject_token)).toEqual([token]);
    expect(stub.bearerTokens()).toEqual(stub.issued);
  });

  it("loads @azure/identity's DefaultAzureCredential only when asked, with a clear error when it is missing", async () => {
    const requested: string[] = [];
    const made = await loadDefaultAzureCredential(async (specifier) => {
      requested.push(specifier);
      return {
        DefaultAzureCredential: class extends FakeCredential {
          constructor() {
            super('t');
          }
        },
      };
    });
    expect(requested).toEqual(['@azure/identity']);
    expect(await made.getToken('api://app/.default')).toMatchObject({ token: 't' });

    const missing = await errorOf(
      loadDefaultAzureCredential(() =>
        Promise.reject(Object.assign(new Error("Cannot find module '@azure/identity'"), { code: 'MODULE_NOT_FOUND' })),
      ),
    );
    expect(missing).toBeInstanceOf(IdentityTokenError);
    expect(missing.message).toBe(
      'azureIdentityToken needs the @azure/identity package: npm install @azure/identity (or give it a credential of your own).',
    );
    // Installed here (the service uses it): the real import finds it, and makes a credential without a network call.
    expect(typeof (await loadDefaultAzureCredential()).getToken).toBe('function');
  });

  it('a failing credential is an error naming the scope, not the failure text', async () => {
    const token = identityToken();
    const failing = await errorOf(
      azureIdentityToken({ scope: 'api://app/.default', credential: new FakeCredential(undefined, new RangeError(`secret ${token}`)) })(),
    );
    expect(failing).toBeInstanceOf(IdentityTokenError);
    expect(failing.message).toMatch(/^The Azure credential could not get a token for api:\/\/app\/\.default \(RangeError\)/);
    expect(`${failing.stack}`).not.toContain(token);
    expect((await errorOf(azureIdentityToken({ scope: 'api://app/.default', credential: new FakeCredential(undefined) })())).message).toBe(
      'The Azure credential returned no token for api://app/.default.',
    );
    expect(() => azureIdentityToken({ scope: ' ' })).toThrow(/needs a scope/);
  });
});

describe('Google (the metadata server)', () => {
  const saved = process.env.GCE_METADATA_HOST;
  beforeEach(() => {
    process.env.GCE_METADATA_HOST = new URL(stub.url).host; // host:port, as Google's libraries read it
  });
  afterEach(() => (saved === undefined ? delete process.env.GCE_METADATA_HOST : (process.env.GCE_METADATA_HOST = saved)));

  it('asks for an identity token for the customer, in full format, and exchanges it', async () => {
    const sdk = configureVeriproof({
      applicationId: 'checkout',
      serviceName: 'checkout-api',
      endpoint: stub.url,
      customer: 'acme',
      identityTokenProvider: googleIdentityToken(),
    });
    handles.push(sdk);
    sdk.tracer().startSpan('x').end();
    await sdk.forceFlush();
    expect(stub.googleRequests).toHaveLength(1);
    expect([...stub.googleRequests[0]!.query]).toEqual([
      ['audience', 'acme'],
      ['format', 'full'],
    ]);
    expect(stub.googleRequests[0]!.headers['metadata-flavor']).toBe('Google');
    expect(stub.exchanges.map((e) => [e.form.subject_token, e.form.audience])).toEqual([[stub.googleToken, 'acme']]);
    expect(stub.bearerTokens()).toEqual(stub.issued);
  });

  it('takes an audience of its own, and GCE_METADATA_HOST with a scheme', async () => {
    process.env.GCE_METADATA_HOST = `${stub.url}/`;
    expect(await googleIdentityToken({ audience: 'https://ingest.example/acme' })({ customer: 'acme' })).toBe(stub.googleToken);
    expect(stub.googleRequests[0]!.query.get('audience')).toBe('https://ingest.example/acme');
    expect(() => googleIdentityToken({ audience: ' ' })).toThrow(/audience must be a non-empty string/);
  });

  it('asks metadata.google.internal without GCE_METADATA_HOST', () => {
    expect(googleMetadataBase({})).toBe('http://metadata.google.internal');
    expect(googleMetadataBase({ GCE_METADATA_HOST: ' ' })).toBe('http://metadata.google.internal');
    expect(googleMetadataBase({ GCE_METADATA_HOST: '169.254.169.254' })).toBe('http://169.254.169.254');
  });

  it('says what went wrong, never with a token', async () => {
    const ask = () => errorOf(googleIdentityToken()({ customer: 'acme' }));
    stub.googleAnswer = { status: 404, body: 'not found' };
    expect((await ask()).message).toBe(
      'The metadata server answered 404 for an identity token; check that the workload runs as a service account.',
    );
    // A server that is not the metadata server (no Metadata-Flavor in its answer) is not believed.
    stub.googleAnswer = { status: 200, body: stub.googleToken };
    const impostor = await ask();
    expect(impostor).toBeInstanceOf(IdentityTokenError);
    expect(impostor.message).toBe(`The server at ${stub.url} is not a metadata server (no \`Metadata-Flavor: Google\` in its answer).`);
    stub.googleAnswer = { status: 200, headers: { 'metadata-flavor': 'Google' }, body: ' ' };
    expect((await ask()).message).toBe('The metadata server answered without a token.');
    expectNoTokenIn(impostor.message);

    const closed = await new StubService().start();
    await closed.close();
    process.env.GCE_METADATA_HOST = new URL(closed.url).host;
    const unreachable = await errorOf(credential(googleIdentityToken(), new FakeClock()).key());
    expect(unreachable.message).toBe(
      `No identity token for customer acme: The metadata server at ${closed.url} could not be reached (TypeError): run on Google Cloud, or set GCE_METADATA_HOST.`,
    );
  });
});

describe('a token file (Kubernetes projected service-account tokens)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'vp-token-file-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('reads the file again at every exchange, so a token the kubelet rotated is the one sent', async () => {
    const path = join(dir, 'token');
    const [first, second] = [identityToken(), identityToken()];
    writeFileSync(path, `${first}\n`);
    const clock = new FakeClock();
    const source = credential(fileIdentityToken(path), clock);
    const key = await source.key();
    writeFileSync(path, second); // rotated
    expect(await source.key()).toBe(key); // read only to exchange: the ingest token serves on
    expect(stub.exchanges).toHaveLength(1);
    clock.millis += 720_000; // the ingest token's refresh is due
    expect((await source.key()).headers).toEqual({ Authorization: `Bearer ${stub.issued[1]}` });
    expect(stub.exchanges.map((e) => e.form.subject_token)).toEqual([first, second]);
  });

  it('says what is wrong with the file, never its content', async () => {
    const ask = (path: string) => errorOf(fileIdentityToken(path)());
    const token = identityToken();
    expect((await ask(join(dir, 'missing'))).message).toBe(
      `The identity token file ${join(dir, 'missing')} does not exist: check the volume that projects it (its mountPath and path).`,
    );
    mkdirSync(join(dir, 'folder'));
    expect((await ask(join(dir, 'folder'))).message).toBe(`The identity token file ${join(dir, 'folder')} could not be read (EISDIR).`);
    writeFileSync(join(dir, 'empty'), ' \n');
    expect((await ask(join(dir, 'empty'))).message).toBe(`The identity token file ${join(dir, 'empty')} is empty.`);
    writeFileSync(join(dir, 'two'), `${token}\n${token}\n`);
    const two = await ask(join(dir, 'two'));
    expect(two).toBeInstanceOf(IdentityTokenError);
    expect(two.message).toBe(`The identity token file ${join(dir, 'two')} holds more than one token (it has whitespace inside).`);
    expect(`${two.stack}`).not.toContain(token);
    writeFileSync(join(dir, 'large'), 'x'.repeat(64 * 1024 + 1));
    expect((await ask(join(dir, 'large'))).message).toBe(
      `The identity token file ${join(dir, 'large')} is larger than 64 KiB: not a token.`,
    );
    writeFileSync(join(dir, 'exact'), 'x'.repeat(64 * 1024));
    expect(await fileIdentityToken(join(dir, 'exact'))()).toHaveLength(64 * 1024);
    expect(() => fileIdentityToken(' ')).toThrow(/needs the path/);
  });
});
