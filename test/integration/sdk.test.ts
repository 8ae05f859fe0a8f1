import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SpanStatusCode } from '@opentelemetry/api';
import { ManualClock } from '../../shared/clock';
import { generateSecret } from '../../shared/keys/compound-key';
import { InvalidApiKeyError, configureVeriproof, currentSession, withSession, type VeriproofHandle } from '../../sdks/typescript/src/index';
import { TableSessionRepository } from '../../shared/adapters/table/table-session-repository';
import type { ServiceContext } from '../../app/context';
import { answersMovingClockOn429, serveApp } from '../support/http';
import { op } from '../support/portal';
import { trackSecret } from '../support/secrets';
import { customerWithKey, testServices } from '../support/services';

/** Collects what the SDK logs (and fails the test if a key shows up, via the global log capture). */
function recordingLogger() {
  const lines: string[] = [];
  return { lines, warn: (line: string) => (lines.push(line), console.warn(line)) };
}

describe('the TypeScript ingest SDK, end to end against the local host', () => {
  let services: ServiceContext;
  let app: Awaited<ReturnType<typeof serveApp>>;
  let sessions: TableSessionRepository;
  const handles: VeriproofHandle[] = [];
  const closing: Array<() => Promise<void>> = [];
  /** Requests that reached the host (to see the SDK stop calling with a rejected key). */
  let hostRequests = 0;
  const requests = () => hostRequests;

  beforeAll(async () => {
    services = testServices();
    await services.revocations.poll();
    app = await serveApp(services);
    app.server.on('request', () => (hostRequests += 1));
    sessions = new TableSessionRepository([services.storage]);
  });
  afterAll(async () => {
    await Promise.all(handles.map((h) => h.shutdown().catch(() => undefined)));
    for (const close of closing) await close();
    await app.close();
    await services.dispose();
  });

  /** Another instance of the service on the same tables, on a clock moved by hand (closed after the suite); its customers are its own. */
  const movedByHand = async (clock: ManualClock) => {
    const moved = testServices({ TABLES_PREFIX: services.useCases.config.tables.prefix }, { clock });
    const movedApp = await serveApp(moved, { timers: false });
    closing.push(async () => {
      await movedApp.close();
      await moved.dispose();
    });
    return { services: moved, app: movedApp };
  };

  const configure = (options: Partial<Parameters<typeof configureVeriproof>[0]>) => {
    const handle = configureVeriproof({ applicationId: 'loan-review', serviceName: 'loan-review', endpoint: app.url, ...options });
    handles.push(handle);
    return handle;
  };

  it('exports spans that arrive as sessions with the right key label, and shutdown flushes them', async () => {
    const { customer, key } = await customerWithKey(services, { label: 'loan-review-prod' });
    const logger = recordingLogger();
    const sdk = configure({ apiKey: key, logger });
    const tracer = sdk.tracer();
    await withSession('application-7731', async () => {
      expect(currentSession()).toBe('application-7731');
      const root = tracer.startSpan('review');
      await new Promise((r) => setImmediate(r)); // the session carries across an await
      tracer.startSpan('score', { attributes: { model: 'v3' } }).end();
      root.setStatus({ code: SpanStatusCode.OK });
      root.end();
    });
    await sdk.shutdown();
    expect(await sessions.get(customer.slug, 'application-7731')).toMatchObject({
      keyLabel: 'loan-review-prod',
      spanCount: 2,
      serviceName: 'loan-review',
      sessionIdSource: 'attribute',
    });
    expect(logger.lines).toEqual([]);
  });

  it('calls apiKeyProvider on each export, so a key switched mid-run keeps exporting', async () => {
    const { customer, key: first } = await customerWithKey(services, { label: 'before-rotation' });
    const second = await services.useCases.keys.issue(customer.slug, { label: 'after-rotation', application: 'loan-review' }, op());
    trackSecret(second.key);
    let current = first;
    let calls = 0;
    const sdk = configure({ apiKeyProvider: async () => (calls++, current) });
    const tracer = sdk.tracer();
    withSession('s-before', () => tracer.startSpan('one').end());
    await sdk.forceFlush();
    current = second.key; // rotated in the secret manager
    await services.useCases.keys.revoke(
      customer.slug,
      (await services.useCases.keys.list(customer.slug)).find((k) => k.label === 'before-rotation')!.id,
      op(),
    );
    withSession('s-after', () => tracer.startSpan('two').end());
    await sdk.forceFlush();
    expect(calls).toBeGreaterThanOrEqual(2);
    expect(await sessions.get(customer.slug, 's-before')).toMatchObject({ keyLabel: 'before-rotation' });
    expect(await sessions.get(customer.slug, 's-after')).toMatchObject({ keyLabel: 'after-rotation' });
  });

  it('handles a revoked key: one clear log line without the key, then pauses instead of hammering', async () => {
    const { customer, key, keyId } = await customerWithKey(services);
    await services.useCases.keys.revoke(customer.slug, keyId, op(), { force: true });
    const logger = recordingLogger();
    const sdk = configure({ apiKey: key, logger, rejectedKeyPauseMillis: 60_000 });
    const tracer = sdk.tracer();
    const before = requests();
    for (let i = 0; i < 5; i++) {
      tracer.startSpan(`rejected-${i}`).end();
      await sdk.forceFlush();
    }
    expect(requests() - before).toBe(1); // the first export reached the service; the rest were paused
    expect(logger.lines).toHaveLength(1);
    expect(logger.lines[0]).toMatch(new RegExp(`rejected the API key of vp_cust_${customer.slug} \\(401 api_key_invalid\\)`));
    expect(logger.lines[0]).toMatch(/paused for 60 s/);
    for (const part of key.split('.').slice(1)) expect(logger.lines[0]).not.toContain(part);
  });

  it('says why when the key expired or the address is not on its allowlist', async () => {
    const { customer, key, keyId } = await customerWithKey(services);
    await services.useCases.keys.updateAccess(customer.slug, keyId, { allowedIps: ['203.0.113.0/24'] }, op());
    const outside = recordingLogger();
    const first = configure({ apiKey: key, logger: outside });
    first.tracer().startSpan('from-outside').end();
    await first.forceFlush();
    expect(outside.lines).toEqual([
      expect.stringMatching(/\(403 ip_not_allowed\): this machine's address is not on the key's IP allowlist/),
    ]);

    // A key that expires: reached on an instance whose clock is moved past its expiry.
    const clock = new ManualClock(new Date());
    const later = await movedByHand(clock);
    const elsewhere = await customerWithKey(later.services);
    const expiring = await later.services.useCases.keys.issue(
      elsewhere.customer.slug,
      { label: 'short', application: 'sdk', expiresAt: new Date(clock.millis() + 60_000).toISOString() },
      op(),
    );
    trackSecret(expiring.key);
    clock.advance(60_000);
    const expired = recordingLogger();
    const second = configure({ apiKey: expiring.key, logger: expired, endpoint: later.app.url });
    second.tracer().startSpan('too-late').end();
    await second.forceFlush();
    expect(expired.lines).toEqual([expect.stringMatching(/\(401 api_key_expired\): it has expired/)]);
    for (const part of [...key.split('.').slice(1), ...expiring.key.split('.').slice(1)]) {
      expect([...outside.lines, ...expired.lines].join('\n')).not.toContain(part);
    }
  });

  it('backs off on 429 and retries, and the spans still arrive', async () => {
    // The limiter's clock moves only by what the SDK waits after a 429: one second, the key's Retry-After.
    const clock = new ManualClock(new Date());
    const limited = await movedByHand(clock);
    const { customer, key, keyId } = await customerWithKey(limited.services);
    await limited.services.useCases.keys.setRateLimit(customer.slug, keyId, { requestsPerSecond: 1, burst: 1 }, op());
    const statuses = answersMovingClockOn429(limited.app, '/v1/traces', clock, 1000);
    const sdk = configure({ apiKey: key, exportTimeoutMillis: 15_000, endpoint: limited.app.url });
    const tracer = sdk.tracer();
    for (let i = 0; i < 3; i++) {
      withSession(`limited-${i}`, () => tracer.startSpan('step').end());
      await sdk.forceFlush();
    }
    expect(statuses).toEqual([200, 429, 200, 429, 200]); // the second and third refused once each, then sent again
    const stored = new TableSessionRepository([limited.services.storage]);
    for (let i = 0; i < 3; i++) expect(await stored.get(customer.slug, `limited-${i}`)).toMatchObject({ spanCount: 1 });
  }, 30_000);

  it('fails one export, not the application, when the provider throws or returns a bad key', async () => {
    const { customer, key } = await customerWithKey(services);
    let mode: 'throw' | 'junk' | 'good' = 'throw';
    const logger = recordingLogger();
    const sdk = configure({
      logger,
      apiKeyProvider: () => {
        if (mode === 'throw') throw new Error('vault unreachable');
        return mode === 'junk' ? 'not-a-key' : key;
      },
    });
    const tracer = sdk.tracer();
    withSession('lost', () => tracer.startSpan('lost').end());
    await expect(sdk.forceFlush()).resolves.toBeUndefined();
    mode = 'junk';
    withSession('lost-too', () => tracer.startSpan('lost').end());
    await sdk.forceFlush();
    mode = 'good';
    withSession('kept', () => tracer.startSpan('kept').end());
    await sdk.forceFlush();
    expect(await sessions.get(customer.slug, 'kept')).toMatchObject({ spanCount: 1 });
    expect(await sessions.get(customer.slug, 'lost')).toBeUndefined();
    // Whole sentences, the provider's failure then what happens to the export.
    expect(logger.lines.join('\n')).toContain(
      '[veriproof] The apiKeyProvider failed (Error). The spans of this export are dropped; the next export asks again.',
    );
    expect(logger.lines.join('\n')).not.toContain('not-a-key');
  });

  it('reads VERIPROOF_API_KEY and VERIPROOF_ENDPOINT when the options are absent', async () => {
    const { customer, key } = await customerWithKey(services, { label: 'from-env' });
    process.env.VERIPROOF_API_KEY = key;
    process.env.VERIPROOF_ENDPOINT = app.url;
    try {
      const sdk = configureVeriproof({ applicationId: 'env-app', serviceName: 'env-service' });
      handles.push(sdk);
      withSession('from-env', () => sdk.tracer().startSpan('x').end());
      await sdk.shutdown();
      expect(await sessions.get(customer.slug, 'from-env')).toMatchObject({ keyLabel: 'from-env', serviceName: 'env-service' });
    } finally {
      delete process.env.VERIPROOF_API_KEY;
      delete process.env.VERIPROOF_ENDPOINT;
    }
  });
});

describe('the SDK at configuration and on the wire', () => {
  let server: Server;
  let seen: IncomingHttpHeaders[] = [];
  let url: string;
  beforeAll(async () => {
    server = createServer((req, res) => {
      seen.push(req.headers);
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/x-protobuf' });
        res.end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  // Made-up keys of the right form (with their checksum): this server is not the service.
  const secret = generateSecret();
  const bareSecret = generateSecret();
  const key = `vp_cust_acme.${'C'.repeat(32)}.${secret}`;

  it('puts the secret in X-API-Key and the component in x-functions-key, and the key nowhere else', async () => {
    seen = [];
    const sdk = configureVeriproof({ apiKey: key, applicationId: 'a', serviceName: 'svc', endpoint: `${url}/base/` });
    sdk.tracer().startSpan('x').end();
    await sdk.shutdown();
    expect(seen).toHaveLength(1);
    expect(seen[0]!['x-api-key']).toBe(secret);
    expect(seen[0]!['x-functions-key']).toBe('C'.repeat(32));
    expect(seen[0]!['content-type']).toBe('application/x-protobuf');
    const otherHeaders = Object.entries(seen[0]!).filter(([name]) => name !== 'x-api-key' && name !== 'x-functions-key');
    expect(JSON.stringify(otherHeaders)).not.toContain(secret.slice(0, 20));
    expect(JSON.stringify(otherHeaders)).not.toContain('C'.repeat(20));
  });

  it('sends a bare secret in X-API-Key alone', async () => {
    seen = [];
    const sdk = configureVeriproof({ apiKey: bareSecret, applicationId: 'a', serviceName: 'svc', endpoint: url });
    sdk.tracer().startSpan('x').end();
    await sdk.shutdown();
    expect(seen[0]!['x-api-key']).toBe(bareSecret);
    expect(seen[0]!['x-functions-key']).toBeUndefined();
  });

  it.each([
    ['a truncated key', key.slice(0, -3)],
    ['a key of another service', 'sk_live_51H8abcdefghijklmnopqrstuvwxyz'],
    ['an upper-case slug', key.replace('acme', 'ACME')],
    ['a key with a one-character typo', `${key.slice(0, -10)}${key.at(-10) === 'A' ? 'B' : 'A'}${key.slice(-9)}`],
    ['a made-up secret of the right shape', `${'s'.repeat(42)}A`],
  ])('refuses %s at configuration, with a message that never contains the key', (_name, bad) => {
    let error: unknown;
    try {
      configureVeriproof({ apiKey: bad, applicationId: 'a', serviceName: 'svc', endpoint: url });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidApiKeyError);
    const text = `${(error as Error).message} ${(error as Error).stack ?? ''}`;
    expect(text).not.toContain(bad);
    for (const part of bad.split('.')) if (part.length > 8) expect(text).not.toContain(part);
  });

  it('warns once, without the key, when the endpoint is plain HTTP beyond this machine', async () => {
    const lines: string[] = [];
    const logger = { warn: (line: string) => lines.push(line) };
    const handles = [
      configureVeriproof({ apiKey: key, applicationId: 'a', serviceName: 'svc', endpoint: 'http://ingest.example.com', logger }),
      ...[
        'http://localhost:7071',
        'http://127.0.0.1:7071',
        'http://[::1]:7071',
        'http://portal.localhost',
        'https://ingest.example.com',
      ].map((endpoint) => configureVeriproof({ apiKey: key, applicationId: 'a', serviceName: 'svc', endpoint, logger })),
    ];
    await Promise.all(handles.map((h) => h.shutdown()));
    expect(lines).toEqual([
      '[veriproof] The endpoint http://ingest.example.com is plain HTTP: your API key would cross the network unencrypted. Use https.',
    ]);
    expect(() => configureVeriproof({ apiKey: key, applicationId: 'a', serviceName: 'svc', endpoint: 'ftp://ingest.example.com' })).toThrow(
      /http\(s\)/,
    );
    expect(() =>
      configureVeriproof({ apiKey: key, applicationId: 'a', serviceName: 'svc', endpoint: 'https://user:pw@ingest.example.com' }),
    ).toThrow(/credentials/);
  });

  it('refuses to configure without an endpoint, a key, an application or a service name', () => {
    expect(() => configureVeriproof({ apiKey: key, applicationId: 'a', serviceName: 'svc' })).toThrow(/VERIPROOF_ENDPOINT/);
    expect(() => configureVeriproof({ applicationId: 'a', serviceName: 'svc', endpoint: url })).toThrow(/VERIPROOF_API_KEY/);
    expect(() => configureVeriproof({ apiKey: key, applicationId: '', serviceName: 'svc', endpoint: url })).toThrow(/applicationId/);
    expect(() => configureVeriproof({ apiKey: key, applicationId: 'a', serviceName: ' ', endpoint: url })).toThrow(/serviceName/);
  });
});
