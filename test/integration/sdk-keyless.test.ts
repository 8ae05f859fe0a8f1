/**
 * The TypeScript SDK without a key, end to end: a customer's admin trusts a loopback OpenID issuer,
 * the SDK is given only an identity-token provider and the customer's slug, and its spans arrive
 * through the real token exchange and the real ingest door (the app served over HTTP, Azurite).
 * Ingest under the trust policy, whoami as `federated`, the refresh ahead of expiry on the injected
 * clock, a deleted policy (one more exchange, one warning, then silence), and the GitHub Actions
 * provider against a loopback stand-in for GitHub's token endpoint.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { BatchSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import type { ServiceContext } from '../../app/context';
import { LoopbackOidcIssuer } from '../../fixtures/oidc-issuer';
import { ManualClock } from '../../shared/clock';
import {
  configureVeriproof,
  githubActionsIdentityToken,
  withSession,
  type IdentityTokenContext,
  type VeriproofHandle,
} from '../../sdks/typescript/src/index';
import { VeriproofSpanExporter } from '../../sdks/typescript/src/exporter';
import { FederatedCredential, refreshAfterMillis, TOKEN_PATH } from '../../sdks/typescript/src/federation';
import { SessionSpanProcessor } from '../../sdks/typescript/src/session';
import { caller, serveApp, type AnswerBody } from '../support/http';
import { portalToken } from '../support/portal';
import { trackSecret } from '../support/secrets';
import { testServices } from '../support/services';

/** One request the host answered: what the SDK sent where, and the status it got. */
interface Seen {
  method: string;
  path: string;
  status: number;
  authorization: string | undefined;
}

/** Collects what the SDK logs (the global log capture also checks it for tokens). */
function recordingLogger() {
  const lines: string[] = [];
  return { lines, warn: (line: string) => void lines.push(line) };
}

const SUBJECT = 'repo:acme/checkout:ref:refs/heads/main';

describe('the TypeScript SDK without a key, end to end: identity token, token exchange, ingest', () => {
  let clock: ManualClock;
  let issuer: LoopbackOidcIssuer;
  let services: ServiceContext;
  let app: Awaited<ReturnType<typeof serveApp>>;
  let call: ReturnType<typeof caller>;
  let staffToken: string;
  const seen: Seen[] = [];
  const handles: VeriproofHandle[] = [];
  const closing: Array<() => Promise<void>> = [];

  beforeAll(async () => {
    // The service, the issuer and (where the SDK takes one) the SDK share a clock that moves only by hand.
    clock = new ManualClock(new Date());
    issuer = await LoopbackOidcIssuer.start({ now: () => clock.millis() });
    issuer.addKey('ES256');
    services = testServices({}, { clock });
    await services.revocations.poll();
    app = await serveApp(services, { timers: false });
    app.server.on('request', (req, res) => {
      const entry = {
        method: req.method ?? '',
        path: new URL(req.url ?? '/', 'http://host').pathname,
        authorization: req.headers.authorization,
      };
      res.once('finish', () => seen.push({ ...entry, status: res.statusCode }));
    });
    call = caller(app);
    staffToken = await portalToken(services, { roles: ['Staff'], sub: 'staff-1', name: 'Sam Staff' });
  });
  afterAll(async () => {
    await Promise.all(handles.map((h) => h.shutdown()));
    for (const close of closing) await close();
    await app.close();
    await services.dispose();
    await issuer.close();
  });

  /** A customer made by staff, its admin's portal token, and a trust policy the admin created for the issuer's `main` of acme/checkout. */
  async function customerTrustingIssuer(policy: AnswerBody = {}) {
    const slug = `sk${randomBytes(4).toString('hex')}`;
    expect(
      (await call('POST', '/v1/staff/customers', { token: staffToken, body: { slug, name: `Customer ${slug}`, plan: 'pro' } })).status,
    ).toBe(201);
    const admin = await portalToken(services, { customer: slug, roles: ['CustomerAdmin'], sub: `admin-${slug}`, name: 'Ada Admin' });
    const made = await call('POST', '/v1/trust-policies', {
      token: admin,
      body: {
        label: 'checkout-deploy',
        issuer: issuer.issuer,
        audience: slug,
        subject: SUBJECT,
        claims: { repository_owner: 'acme' },
        application: 'checkout',
        environment: 'live',
        ...policy,
      },
    });
    expect(made.status).toBe(201);
    return { slug, admin, policy: made.body! as { id: string; label: string } };
  }

  /** The workload's identity-token provider: a fresh token of the issuer for the customer at each call, each tracked by the log check. */
  function identityTokens(slug: string) {
    const contexts: Array<IdentityTokenContext | undefined> = [];
    const provider = (context?: IdentityTokenContext) => {
      contexts.push(context);
      return trackSecret(issuer.sign({ aud: slug, repository_owner: 'acme' }));
    };
    return { provider, contexts };
  }

  /** What the host answered since `from`, by path; the ingest tokens sent are tracked by the log check. */
  function since(from: number) {
    const entries = seen.slice(from);
    const exchanges = entries.filter((e) => e.path === TOKEN_PATH);
    const traces = entries.filter((e) => e.path === '/v1/traces');
    const bearers = traces.map((e) => trackSecret((e.authorization ?? '').replace(/^Bearer /, '')));
    return { exchanges, traces, bearers, statuses: traces.map((e) => e.status) };
  }

  const sessionsOf = async (admin: string) =>
    ((await call('GET', '/v1/sessions?keyLabel=checkout-deploy', { token: admin })).body!.sessions as AnswerBody[]).map((s) => ({
      sessionId: s.sessionId,
      keyId: s.keyId,
      keyLabel: s.keyLabel,
      application: s.application,
      spanCount: s.spanCount,
    }));

  /** The customer's token events (types sorted: events of one instant on the standing clock have no order), and the refusals' reasons. */
  const tokenAudit = async (admin: string) => {
    const events = ((await call('GET', '/v1/customer-keys/audit?limit=200', { token: admin })).body!.events as AnswerBody[]).filter((e) =>
      (e.type as string).startsWith('token.'),
    );
    return {
      types: events.map((e) => e.type as string).sort(),
      refusals: events.filter((e) => e.type === 'token.refused').map((e) => e.details.reason as string),
    };
  };

  const configure = (slug: string, provider: (context?: IdentityTokenContext) => string, logger = recordingLogger()) => {
    const handle = configureVeriproof({
      identityTokenProvider: provider,
      customer: slug,
      applicationId: 'checkout',
      serviceName: 'checkout-api',
      endpoint: app.url,
      logger,
      // Long enough that no test outlives it: a refused identity token is not exchanged again during the test.
      rejectedKeyPauseMillis: 3_600_000,
    });
    handles.push(handle);
    return { sdk: handle, logger };
  };

  it('exchanges once at the first export, ingests under the trust policy, and the token it sends is federated in whoami', async () => {
    const { slug, admin, policy } = await customerTrustingIssuer();
    const identity = identityTokens(slug);
    const { sdk, logger } = configure(slug, identity.provider);
    const from = seen.length;
    const tracer = sdk.tracer();
    withSession('keyless-1', () => {
      const root = tracer.startSpan('deploy');
      tracer.startSpan('migrate').end();
      root.end();
    });
    await sdk.forceFlush();
    withSession('keyless-2', () => tracer.startSpan('smoke-test').end());
    await sdk.forceFlush();

    const { exchanges, statuses, bearers } = since(from);
    expect(exchanges.map((e) => e.status)).toEqual([200]); // once, for both exports
    expect(identity.contexts).toEqual([{ customer: slug }]);
    expect(statuses).toEqual([200, 200]);
    expect(bearers[0]).toMatch(new RegExp(`^vp_fed_${slug}\\.`));
    expect(bearers[1]).toBe(bearers[0]);

    expect((await sessionsOf(admin)).sort((a, b) => a.sessionId.localeCompare(b.sessionId))).toEqual([
      { sessionId: 'keyless-1', keyId: policy.id, keyLabel: 'checkout-deploy', application: 'checkout', spanCount: 2 },
      { sessionId: 'keyless-2', keyId: policy.id, keyLabel: 'checkout-deploy', application: 'checkout', spanCount: 1 },
    ]);
    const whoami = await call('GET', '/v1/whoami', { token: bearers[0] });
    expect(whoami.status).toBe(200);
    expect(whoami.body).toMatchObject({
      customer: { slug },
      key: { id: policy.id, type: 'federated', label: 'checkout-deploy' },
      trustPolicy: { id: policy.id, label: 'checkout-deploy' },
    });
    expect((await tokenAudit(admin)).types).toEqual(['token.exchanged']);
    expect(logger.lines).toEqual([]);
  });

  it('exchanges again ahead of expiry, on the injected clock: the ingest token never lapses and never draws a 401', async () => {
    // The SDK's own parts wired as configureVeriproof wires them, with the suite's clock (configureVeriproof reads Date.now).
    const { slug, admin, policy } = await customerTrustingIssuer({ tokenLifetimeMinutes: 5 });
    const identity = identityTokens(slug);
    const logger = recordingLogger();
    const credential = new FederatedCredential({
      tokenUrl: `${app.url}${TOKEN_PATH}`,
      customer: slug,
      identityTokenProvider: identity.provider,
      timeoutMillis: 10_000,
      pauseMillis: 60_000,
      now: () => clock.millis(),
    });
    const exporter = new VeriproofSpanExporter({
      url: `${app.url}/v1/traces`,
      resolveKey: () => credential.key(),
      forgetKey: (key) => credential.forget(key),
      pauseMillis: 60_000,
      timeoutMillis: 10_000,
      logger,
      now: () => clock.millis(),
    });
    const provider = new TracerProvider({ spanProcessors: [new SessionSpanProcessor(), new BatchSpanProcessor({ exporter })] });
    closing.push(() => provider.shutdown());
    const tracer = provider.getTracer('checkout-api');
    const exportAt = async (sessionId: string) => {
      withSession(sessionId, () => tracer.startSpan('step').end());
      await provider.forceFlush();
    };

    const refreshAt = refreshAfterMillis(300); // four minutes into a five-minute token
    expect(refreshAt).toBe(240_000);
    const from = seen.length;
    const start = clock.millis();
    await exportAt('refresh-0');
    clock.set(new Date(start + refreshAt - 1));
    await exportAt('refresh-1'); // not yet due: the same token
    expect(since(from).exchanges).toHaveLength(1);
    clock.set(new Date(start + refreshAt));
    await exportAt('refresh-2'); // due: exchanged before this export is sent
    clock.set(new Date(start + 300_001)); // the first token has expired at the service; the second serves
    await exportAt('refresh-3');

    const { exchanges, statuses, bearers } = since(from);
    expect(exchanges.map((e) => e.status)).toEqual([200, 200]);
    expect(statuses).toEqual([200, 200, 200, 200]);
    expect(bearers[1]).toBe(bearers[0]);
    expect(bearers[2]).not.toBe(bearers[0]);
    expect(bearers[3]).toBe(bearers[2]);
    // Not a courtesy: the first token has indeed stopped, the second has not.
    expect((await call('GET', '/v1/whoami', { token: bearers[0] })).body).toMatchObject({ status: 401, code: 'api_key_expired' });
    expect((await call('GET', '/v1/whoami', { token: bearers[2] })).body).toMatchObject({ key: { type: 'federated', id: policy.id } });
    expect((await sessionsOf(admin)).map((s) => s.sessionId).sort()).toEqual(['refresh-0', 'refresh-1', 'refresh-2', 'refresh-3']);
    expect(identity.contexts).toHaveLength(2);
    expect(logger.lines).toEqual([]);
  });

  it('after the policy is deleted: the next export is refused, the SDK exchanges once more, says why once, and stops asking', async () => {
    const { slug, admin, policy } = await customerTrustingIssuer();
    const identity = identityTokens(slug);
    const { sdk, logger } = configure(slug, identity.provider);
    const tracer = sdk.tracer();
    const first = seen.length;
    withSession('before-delete', () => tracer.startSpan('deploy').end());
    await sdk.forceFlush();
    expect(since(first).statuses).toEqual([200]);

    expect((await call('DELETE', `/v1/trust-policies/${policy.id}`, { token: admin })).status).toBe(204);
    const from = seen.length;
    withSession('after-delete', () => tracer.startSpan('deploy').end());
    await sdk.forceFlush();
    const refused = since(from);
    expect(refused.statuses).toEqual([401]); // the old token, stopped with its policy
    expect(refused.exchanges.map((e) => e.status)).toEqual([400]); // one more exchange: invalid_grant
    expect(logger.lines).toEqual([
      `[veriproof] The token exchange for customer ${slug} failed (400 invalid_grant): no trust policy of ${slug} accepts this identity token; ` +
        "check the policy's issuer, audience, subject and claims against the token (the customer's audit log has the reason). " +
        'The spans of this export are dropped; the exchange is tried again in 3600 s.',
    ]);

    // No loop: later exports ask nothing of the service (nor of the provider) until the pause ends.
    const quiet = seen.length;
    for (let i = 0; i < 3; i++) {
      withSession(`still-deleted-${i}`, () => tracer.startSpan('deploy').end());
      await sdk.forceFlush();
    }
    expect(seen.slice(quiet)).toEqual([]);
    expect(identity.contexts).toHaveLength(2);
    expect(logger.lines).toHaveLength(1);
    expect((await sessionsOf(admin)).map((s) => s.sessionId)).toEqual(['before-delete']);
    expect(await tokenAudit(admin)).toEqual({ types: ['token.exchanged', 'token.refused'], refusals: ['no_trust_policy'] });
  });

  describe('the GitHub Actions provider, with a loopback stand-in for GitHub token endpoint', () => {
    let github: Server;
    let githubUrl: string;
    const requestToken = trackSecret(`ghs_${randomBytes(18).toString('base64url')}`);
    const asked: Array<{ query: URLSearchParams; authorization: string | undefined }> = [];

    beforeAll(async () => {
      // As GitHub's endpoint: GET {ACTIONS_ID_TOKEN_REQUEST_URL}&audience=..., bearer the request token -> { value }.
      github = createServer((req, res) => {
        const url = new URL(req.url ?? '/', 'http://github');
        asked.push({ query: url.searchParams, authorization: req.headers.authorization });
        if (url.pathname !== '/_apis/idtoken' || req.headers.authorization !== `bearer ${requestToken}`) {
          res.writeHead(401, { 'content-type': 'application/json' }).end('{"message":"Bad credentials"}');
          return;
        }
        const value = trackSecret(issuer.sign({ aud: url.searchParams.get('audience'), sub: SUBJECT, repository_owner: 'acme' }));
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ count: 1, value }));
      });
      await new Promise<void>((r) => github.listen(0, '127.0.0.1', r));
      githubUrl = `http://127.0.0.1:${(github.address() as AddressInfo).port}`;
    });
    afterAll(() => new Promise<void>((r) => github.close(() => r())));

    it("reads ACTIONS_ID_TOKEN_REQUEST_URL and _TOKEN, asks for the customer as audience, and the job's token ingests", async () => {
      const { slug, admin, policy } = await customerTrustingIssuer();
      process.env.ACTIONS_ID_TOKEN_REQUEST_URL = `${githubUrl}/_apis/idtoken?api-version=2.0`;
      process.env.ACTIONS_ID_TOKEN_REQUEST_TOKEN = requestToken;
      try {
        const logger = recordingLogger();
        const handle = configureVeriproof({
          identityTokenProvider: githubActionsIdentityToken(),
          customer: slug,
          applicationId: 'checkout',
          serviceName: 'checkout-ci',
          endpoint: app.url,
          logger,
        });
        handles.push(handle);
        const from = seen.length;
        withSession('ci-run-1', () => handle.tracer().startSpan('build').end());
        await handle.shutdown();
        expect(asked).toHaveLength(1);
        expect(asked[0]!.query.get('api-version')).toBe('2.0');
        expect(asked[0]!.query.get('audience')).toBe(slug);
        expect(since(from).exchanges.map((e) => e.status)).toEqual([200]);
        expect(since(from).statuses).toEqual([200]);
        expect(await sessionsOf(admin)).toEqual([
          { sessionId: 'ci-run-1', keyId: policy.id, keyLabel: 'checkout-deploy', application: 'checkout', spanCount: 1 },
        ]);
        expect(logger.lines).toEqual([]);
      } finally {
        delete process.env.ACTIONS_ID_TOKEN_REQUEST_URL;
        delete process.env.ACTIONS_ID_TOKEN_REQUEST_TOKEN;
      }
    });
  });
});
