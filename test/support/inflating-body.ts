import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';

/**
 * A valid OTLP/JSON export of one small span (a session of its own) padded with whitespace to
 * `inflatedBytes`, gzipped: about 4 KB on the wire that inflates to 4 MiB. What it costs an
 * instance is almost all in its bytes (the inflated body and its text), not in what it stores,
 * so many of them at once measure how ingest's memory holds up under concurrency alone.
 * Shared by test/integration/hostile-ingest-concurrency.test.ts and bench figure 3e.
 */
export function inflatingBody(inflatedBytes = 4 * 1024 * 1024 - 1024): { body: Buffer; inflatedBytes: number } {
  const nanos = String(BigInt(Date.now()) * 1_000_000n);
  const request = JSON.stringify({
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'inflating' } }] },
        scopeSpans: [
          {
            scope: { name: 'inflating' },
            spans: [
              {
                traceId: randomBytes(16).toString('hex'),
                spanId: randomBytes(8).toString('hex'),
                name: 'padded',
                startTimeUnixNano: nanos,
                endTimeUnixNano: nanos,
                attributes: [{ key: 'session.id', value: { stringValue: `inflating-${randomBytes(6).toString('hex')}` } }],
              },
            ],
          },
        ],
      },
    ],
  });
  const padded = Buffer.alloc(inflatedBytes, 0x20);
  padded.write(request.slice(0, -1), 0, 'utf8');
  padded.write('}', inflatedBytes - 1, 'utf8');
  return { body: gzipSync(padded, { level: 9 }), inflatedBytes };
}
