import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import { createServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import type { TokenCredential } from '@azure/identity';
import { startAzureMonitor } from '../../app/azure-monitor';
import { METRICS } from '../../shared/telemetry/metrics';
import { testConfig, testEnv } from '../support/services';

const ROOT = resolve(__dirname, '..', '..');

/**
 * The Azure wiring without Azure: the distro started as the entry point starts it, exporting to
 * a local stand-in for Application Insights' ingestion endpoint, authenticated with a token from
 * the (here fake) managed identity. The service's metrics arrive there by name.
 */
describe('Azure Monitor export (functions/index.ts start-up)', () => {
  /** The probe process and the stand-in endpoint, ended after the test even if it times out waiting for an upload. */
  const cleanup: Array<() => void> = [];
  afterEach(() => cleanup.splice(0).forEach((step) => step()));

  it('sends the veriproof metrics and spans to the ingestion endpoint with an Entra ID token, and stays off in local mode', async () => {
    const received: Array<{ headers: IncomingHttpHeaders; body: string }> = [];
    // What must arrive at the endpoint (each upload is checked as it comes): then the probe may stop.
    const expected = [
      METRICS.authOutcomes,
      METRICS.storageOperations,
      'throttled',
      // The request's span and its storage call, through the API the distro registered its tracer with.
      'GET /v1/whoami',
      'storage read keyLookup',
      'probe-request',
    ];
    const complete = () =>
      expected.every((text) => received.some((r) => r.body.includes(text))) &&
      received.some((r) => r.headers.authorization === 'Bearer managed-identity-token');
    let arrived = (): void => undefined;
    const allArrived = new Promise<void>((resolve) => (arrived = resolve));
    // The exporter speaks HTTPS only: a throwaway self-signed certificate, trusted for this test alone.
    const dir = mkdtempSync(join(tmpdir(), 'vp-ingestion-'));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    const tls = { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) };
    const server = createServer(tls, (request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (c: Buffer) => chunks.push(c));
      request.on('end', () => {
        const raw = Buffer.concat(chunks);
        received.push({
          headers: request.headers,
          body: (request.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw).toString(),
        });
        response.writeHead(200, { 'content-type': 'application/json' }).end('{"itemsReceived":1,"itemsAccepted":1,"errors":[]}');
        if (complete()) arrived();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanup.push(() => server.closeAllConnections());
    const { port } = server.address() as AddressInfo;
    const credential: TokenCredential = { getToken: async () => ({ token: 'unused', expiresOnTimestamp: Date.now() + 3_600_000 }) };
    const env = {
      APPLICATIONINSIGHTS_CONNECTION_STRING: `InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://127.0.0.1:${port}/`,
    };
    try {
      expect(startAzureMonitor(testConfig(), env, () => credential)).toBeUndefined(); // local mode: nothing starts
      // In Azure: run as the entry point runs it, in a process of its own (the certificate is
      // trusted there through the environment, which a running process cannot change for itself).
      const script = `
        const { startAzureMonitor } = require('./dist/app/azure-monitor');
        const { Telemetry } = require('./dist/shared/telemetry/telemetry');
        const { loadConfig } = require('./dist/shared/config');
        const config = { ...loadConfig(JSON.parse(process.env.PROBE_ENV)), runtime: 'azure' };
        const credential = { getToken: async () => ({ token: 'managed-identity-token', expiresOnTimestamp: Date.now() + 3600000 }) };
        const { shutdownAzureMonitor } = require('@azure/monitor-opentelemetry');
        const { reader, tracing } = startAzureMonitor(config, process.env, () => credential);
        const telemetry = new Telemetry({ readers: [reader] });
        telemetry.metrics.auth('ok', { customerSlug: 'acme', plan: 'pro' });
        telemetry.metrics.storageOperation('keyLookup', 'read', 'throttled');
        tracing.request(tracing.requestSpan('GET', 'v1/whoami'), 'probe-request', async () => {
            tracing.annotate({ 'veriproof.customer': 'acme' });
            await tracing.child('storage read keyLookup', {}, async () => 1);
            return { status: 200 };
          })
          .then(() => telemetry.flush())
          .then(() => telemetry.shutdown())
          .then(() => shutdownAzureMonitor())
          // The distro's shutdown resolves before its last upload has been answered: the test
          // ends this process once everything has arrived (it closes stdin).
          .then(() => { process.stdin.on('end', () => process.exit(0)).resume(); }, (e) => { console.error(e); process.exit(1); });`;
      // Asynchronously: the stand-in endpoint answers from this process's event loop.
      const child = spawn(process.execPath, ['-e', script], {
        cwd: ROOT,
        env: {
          ...process.env,
          ...env,
          NODE_TLS_REJECT_UNAUTHORIZED: '0',
          PROBE_ENV: JSON.stringify(testEnv()),
          // The distro's default sampler lets at most 5 traces a second through, a budget that builds
          // up from its start: sample everything, so the probe's one trace goes out without waiting.
          OTEL_TRACES_SAMPLER: 'always_on',
        },
        stdio: ['pipe', 'ignore', 'pipe'],
      });
      cleanup.push(() => child.kill());
      let errors = '';
      child.stderr.on('data', (chunk: Buffer) => (errors += chunk.toString()));
      const closed = new Promise<number | null>((done) => child.on('close', done));
      // Everything expected arrives (the probe keeps running until told), or the probe fails first.
      const early = await Promise.race([allArrived.then(() => undefined), closed]);
      child.stdin.end();
      const code = await closed;
      expect({ early, code, errors: code === 0 ? '' : errors }).toEqual({ early: undefined, code: 0, errors: '' });
      const bodies = received.map((r) => r.body).join('\n');
      for (const text of expected) expect(bodies).toContain(text);
      expect(received.some((r) => r.headers.authorization === 'Bearer managed-identity-token')).toBe(true);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }, 30_000);
});
