/**
 * The TypeScript SDK's webhook verifier (sdks/typescript/src/webhooks.ts): the Standard Webhooks
 * scheme's published test vector, what the service signs (shared/webhooks/signature.ts) including
 * the rotation form, the header shapes receivers have (plain objects in any case, fetch `Headers`,
 * Node's `req.headers` from a real request), and every way a request fails: tampering, replays,
 * missing headers, a parsed body.
 */
import { createServer, request, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHmac } from 'node:crypto';
import {
  verifyWebhook,
  WebhookVerificationError,
  type WebhookEvent,
  type WebhookVerificationReason,
} from '../../sdks/typescript/src/index';
import { newWebhookSecret, webhookHeaders } from '../../shared/webhooks/signature';

// The published test vector of the Standard Webhooks libraries (github.com/standard-webhooks/
// standard-webhooks, libraries/javascript/src/webhook.test.ts "sign function works" and
// libraries/python/tests/test_webhooks.py `test_sign_function`; the same in the Go, Java, C#,
// PHP and Ruby suites).
const VECTOR = {
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  msgId: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
  timestamp: 1614265330,
  payload: '{"test": 2432232314}',
  signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
};
// The same suites' decoy (`multi sig payload is valid`) and invalid signatures.
const DECOY = 'Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=';
const INVALID = ['v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA=', 'v1,dawfeoifkpqwoekfpqoekf', 'v1,g0hM9', 'v1,'];

const vectorHeaders = (signature = VECTOR.signature, timestamp = String(VECTOR.timestamp)): Record<string, string> => ({
  'webhook-id': VECTOR.msgId,
  'webhook-timestamp': timestamp,
  'webhook-signature': signature,
});
const atVector = { now: new Date(VECTOR.timestamp * 1000) };

/** The reason verifyWebhook refused with (fails the test when it did not throw that error). */
function refusal(run: () => unknown): WebhookVerificationReason {
  try {
    run();
  } catch (error) {
    if (error instanceof WebhookVerificationError) return error.reason;
    throw error;
  }
  throw new Error('verifyWebhook accepted the request');
}

/** An event as the service sends it, signed by the service's code with the given secrets, at `seconds`. */
function delivery(secrets: string[], seconds = VECTOR.timestamp) {
  const event = {
    id: 'evt_01JZ0000000000000000000000',
    type: 'key.revoked',
    createdAt: '2026-01-01T00:00:00.000Z',
    customer: { slug: 'acme' },
    data: { keyId: 'key_1', label: 'ci', reason: 'admin', note: 'é ✓' },
  };
  const body = JSON.stringify(event);
  return { event, body, headers: webhookHeaders(secrets, event.id, seconds, body) };
}

describe('verifyWebhook: what verifies', () => {
  it("accepts the scheme's published test vector and returns the parsed body", () => {
    expect(verifyWebhook(VECTOR.payload, vectorHeaders(), VECTOR.secret, atVector)).toEqual({ test: 2432232314 });
  });

  it('takes the secret without its whsec_ prefix, and unpadded secrets, as the standard libraries do', () => {
    expect(verifyWebhook(VECTOR.payload, vectorHeaders(), VECTOR.secret.slice('whsec_'.length), atVector)).toEqual({ test: 2432232314 });
    // The libraries' unpadded-secret cases (needs one `=`, needs two), signed as their suites sign them.
    for (const unpadded of ['MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS', 'MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwBr']) {
      const key = Buffer.from(unpadded, 'base64');
      const signature = createHmac('sha256', key).update(`${VECTOR.msgId}.${VECTOR.timestamp}.${VECTOR.payload}`).digest('base64');
      for (const secret of [unpadded, `whsec_${unpadded}`]) {
        expect(verifyWebhook(VECTOR.payload, vectorHeaders(`v1,${signature}`), secret, atVector)).toEqual({ test: 2432232314 });
      }
    }
  });

  it('accepts one matching signature among several, skipping versions other than v1', () => {
    const several = [`v1,${DECOY}`, `v2,${DECOY}`, `v1a,${DECOY}`, VECTOR.signature, `v1,${DECOY}`].join(' ');
    expect(verifyWebhook(VECTOR.payload, vectorHeaders(several), VECTOR.secret, atVector)).toEqual({ test: 2432232314 });
  });

  it('verifies what the service sends, during a rotation with either secret, as a typed event', () => {
    const [oldSecret, newSecret] = [newWebhookSecret(), newWebhookSecret()];
    const { event, body, headers } = delivery([newSecret, oldSecret]);
    for (const secret of [oldSecret, newSecret]) {
      const verified: WebhookEvent<{ keyId: string }> = verifyWebhook(body, headers, secret, atVector);
      expect(verified).toEqual(event);
      expect(verified.data.keyId).toBe('key_1');
    }
    expect(refusal(() => verifyWebhook(body, headers, newWebhookSecret(), atVector))).toBe('no_matching_signature');
  });

  it('takes the body as a string, a Buffer, a Uint8Array view or an ArrayBuffer: the same bytes verify', () => {
    const secret = newWebhookSecret();
    const { event, body, headers } = delivery([secret]);
    const bytes = Buffer.from(body, 'utf8');
    const padded = new Uint8Array(bytes.length + 6);
    padded.set(bytes, 3);
    for (const raw of [
      body,
      bytes,
      new Uint8Array(bytes),
      padded.subarray(3, 3 + bytes.length),
      padded.slice(3, 3 + bytes.length).buffer,
    ]) {
      expect(verifyWebhook(raw, headers, secret, atVector)).toEqual(event);
    }
  });

  it('finds the headers in a plain object in any case, in fetch Headers, and in arrays of one value', () => {
    const upper = Object.fromEntries(Object.entries(vectorHeaders()).map(([name, value]) => [name.toUpperCase(), value]));
    const title = { 'Webhook-Id': VECTOR.msgId, 'Webhook-Timestamp': String(VECTOR.timestamp), 'Webhook-Signature': VECTOR.signature };
    const arrays = {
      'webhook-id': [VECTOR.msgId],
      'webhook-timestamp': [String(VECTOR.timestamp)],
      'webhook-signature': [VECTOR.signature],
    };
    for (const headers of [upper, title, arrays, new Headers(title)]) {
      expect(verifyWebhook(VECTOR.payload, headers, VECTOR.secret, atVector)).toEqual({ test: 2432232314 });
    }
  });

  it("verifies a real request's raw bytes and Node's req.headers", async () => {
    const secret = newWebhookSecret();
    const seconds = Math.floor(Date.now() / 1000);
    const { event, body, headers } = delivery([secret], seconds);
    const received = new Promise<{ raw: Buffer; headers: IncomingHttpHeaders }>((resolve) => {
      const server = createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (chunk: Buffer) => chunks.push(chunk));
        req.on('end', () => {
          res.end();
          server.close();
          resolve({ raw: Buffer.concat(chunks), headers: req.headers });
        });
      });
      server.listen(0, '127.0.0.1', () => {
        const { port } = server.address() as AddressInfo;
        const title = { 'Webhook-Id': headers['webhook-id'], 'Webhook-Timestamp': headers['webhook-timestamp'] };
        const req = request({
          port,
          host: '127.0.0.1',
          method: 'POST',
          headers: { ...title, 'webhook-signature': headers['webhook-signature'] },
        });
        req.end(body);
      });
    });
    const { raw, headers: incoming } = await received;
    expect(verifyWebhook(raw, incoming, secret, { now: seconds * 1000 })).toEqual(event);
  });
});

describe('verifyWebhook: what is refused', () => {
  it('a changed body, id, timestamp or signature', () => {
    expect(refusal(() => verifyWebhook('{"test": 2432232315}', vectorHeaders(), VECTOR.secret, atVector))).toBe('no_matching_signature');
    expect(refusal(() => verifyWebhook(VECTOR.payload, { ...vectorHeaders(), 'webhook-id': 'msg_other' }, VECTOR.secret, atVector))).toBe(
      'no_matching_signature',
    );
    const oneSecondLater = vectorHeaders(VECTOR.signature, String(VECTOR.timestamp + 1));
    expect(refusal(() => verifyWebhook(VECTOR.payload, oneSecondLater, VECTOR.secret, atVector))).toBe('no_matching_signature');
    for (const signature of [...INVALID, `v2,${VECTOR.signature.slice(3)}`, VECTOR.signature.slice(3), `v1,${DECOY} v2,${DECOY}`]) {
      expect(refusal(() => verifyWebhook(VECTOR.payload, vectorHeaders(signature), VECTOR.secret, atVector))).toBe('no_matching_signature');
    }
  });

  it('the right signature under another secret', () => {
    expect(refusal(() => verifyWebhook(VECTOR.payload, vectorHeaders(), newWebhookSecret(), atVector))).toBe('no_matching_signature');
  });

  it('JSON parsed and stringified again (the common mistake)', () => {
    const restringified = JSON.stringify(JSON.parse(VECTOR.payload));
    expect(restringified).not.toBe(VECTOR.payload);
    expect(refusal(() => verifyWebhook(restringified, vectorHeaders(), VECTOR.secret, atVector))).toBe('no_matching_signature');
    expect(() => verifyWebhook(JSON.parse(VECTOR.payload) as string, vectorHeaders(), VECTOR.secret, atVector)).toThrow(/raw body/);
  });

  it('a missing header, named in the message', () => {
    for (const name of ['webhook-id', 'webhook-timestamp', 'webhook-signature']) {
      const headers = vectorHeaders();
      delete headers[name];
      let message = '';
      expect(
        refusal(() => {
          try {
            verifyWebhook(VECTOR.payload, headers, VECTOR.secret, atVector);
          } catch (error) {
            message = (error as Error).message;
            throw error;
          }
        }),
      ).toBe('missing_headers');
      expect(message).toContain(name);
      expect(refusal(() => verifyWebhook(VECTOR.payload, { ...vectorHeaders(), [name]: '' }, VECTOR.secret, atVector))).toBe(
        'missing_headers',
      );
    }
    expect(refusal(() => verifyWebhook(VECTOR.payload, new Headers(), VECTOR.secret, atVector))).toBe('missing_headers');
  });

  it('a timestamp that is not whole seconds', () => {
    for (const timestamp of ['hello', '1614265330.0', '-1614265330', '1614265330000000000', ' 1614265330']) {
      expect(refusal(() => verifyWebhook(VECTOR.payload, vectorHeaders(VECTOR.signature, timestamp), VECTOR.secret, atVector))).toBe(
        'invalid_timestamp',
      );
    }
  });

  it('a timestamp outside the tolerance either way (300 s unless told), on the injected clock', () => {
    const at = (seconds: number, tolerance?: number) => () =>
      verifyWebhook(VECTOR.payload, vectorHeaders(), VECTOR.secret, { now: (VECTOR.timestamp + seconds) * 1000, tolerance });
    expect(at(300)()).toEqual({ test: 2432232314 });
    expect(at(-300)()).toEqual({ test: 2432232314 });
    expect(at(300.999)()).toEqual({ test: 2432232314 }); // whole seconds, as the header has them
    expect(refusal(at(301))).toBe('timestamp_too_old');
    expect(refusal(at(-301))).toBe('timestamp_too_new');
    expect(refusal(at(61, 60))).toBe('timestamp_too_old');
    expect(at(60, 60)()).toEqual({ test: 2432232314 });
    expect(refusal(at(1, 0))).toBe('timestamp_too_old');
  });

  it('a body that verifies but is not JSON', () => {
    const secret = newWebhookSecret();
    const headers = webhookHeaders([secret], 'evt_1', VECTOR.timestamp, 'not json');
    expect(refusal(() => verifyWebhook('not json', headers, secret, atVector))).toBe('invalid_body');
  });

  it('a secret that is not a signing secret is a TypeError that does not show it', () => {
    for (const secret of ['', 'whsec_', 'whsec_not base64!', 'whsec_abcde', 'vp_cust_acme.0123456789abcdef0123456789abcdef.x']) {
      let error: unknown;
      try {
        verifyWebhook(VECTOR.payload, vectorHeaders(), secret, atVector);
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(TypeError);
      if (secret.length > 'whsec_'.length) expect((error as Error).message).not.toContain(secret.slice('whsec_'.length));
    }
  });

  it('never puts the secret into a refusal', () => {
    const secret = newWebhookSecret();
    const { body, headers } = delivery([secret]);
    const attempts = [
      () => verifyWebhook(`${body} `, headers, secret, atVector),
      () => verifyWebhook(body, headers, secret, { now: 0 }),
      () => verifyWebhook(body, { ...headers, 'webhook-id': '' }, secret, atVector),
    ];
    for (const attempt of attempts) {
      try {
        attempt();
        throw new Error('accepted');
      } catch (error) {
        expect(error).toBeInstanceOf(WebhookVerificationError);
        expect(`${(error as Error).message} ${(error as Error).stack}`).not.toContain(secret.slice('whsec_'.length, 20));
      }
    }
  });
});
