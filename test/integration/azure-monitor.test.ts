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
  it('sends the veriproof metrics and spans to the ingestion endpoint with an Entra ID token, and stays off in local mode', async () => {
    const received: Array<{ headers: IncomingHttpHeaders; body: string }> = [];
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
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
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
        // The distro samples at most 5 traces a second, a budget that builds up from its start.
        new Promise((r) => setTimeout(r, 1000))
          .then(() => tracing.request('GET /v1/whoami', { 'veriproof.request_id': 'probe-request' }, async () => {
            tracing.annotate({ 'veriproof.customer': 'acme' });
            await tracing.child('storage read keyLookup', {}, async () => 1);
            return { status: 200 };
          }))
          .then(() => telemetry.flush())
          .then(() => telemetry.shutdown())
          .then(() => shutdownAzureMonitor())
          // The distro's shutdown resolves before its last upload has been answered: let it land.
          .then(() => new Promise((r) => setTimeout(r, 1000)))
          .then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });`;
      // Asynchronously: the stand-in endpoint answers from this process's event loop.
      const child = spawn(process.execPath, ['-e', script], {
        cwd: ROOT,
        env: { ...process.env, ...env, NODE_TLS_REJECT_UNAUTHORIZED: '0', PROBE_ENV: JSON.stringify(testEnv()) },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let errors = '';
      child.stderr.on('data', (chunk: Buffer) => (errors += chunk.toString()));
      const code = await new Promise<number | null>((done) => child.on('close', done));
      expect({ code, errors: code === 0 ? '' : errors }).toEqual({ code: 0, errors: '' });
      const bodies = received.map((r) => r.body).join('\n');
      expect(bodies).toContain(METRICS.authOutcomes);
      expect(bodies).toContain(METRICS.storageOperations);
      expect(bodies).toContain('throttled');
      // The request's span and its storage call, through the API the distro registered its tracer with.
      expect(bodies).toContain('GET /v1/whoami');
      expect(bodies).toContain('storage read keyLookup');
      expect(bodies).toContain('probe-request');
      expect(received.some((r) => r.headers.authorization === 'Bearer managed-identity-token')).toBe(true);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }, 30_000);
});
