/**
 * The service's Standard Webhooks signatures (shared/webhooks/signature.ts): the scheme's published
 * test vector, the rotation form (one signature per live secret), new secrets, and the verifier the
 * delivery tests use, against tampering.
 */
import { newWebhookSecret, secretKey, sign, signatureHeader, verifySignature, webhookHeaders } from '../../shared/webhooks/signature';

// The published test vector of the Standard Webhooks libraries (github.com/standard-webhooks/
// standard-webhooks, libraries/python/tests/test_webhooks.py `test_sign_function` and
// libraries/javascript/src/webhook.test.ts "sign function works"; the same in the Go, Java, C#,
// PHP and Ruby suites).
const VECTOR = {
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  msgId: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
  timestamp: 1614265330,
  payload: '{"test": 2432232314}',
  signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
};
// The same suites' decoy signature (`test_multi_sig_payload_is_valid`: never valid for the vector).
const DECOY = 'Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=';

const headersOf = (signature: string, timestamp = String(VECTOR.timestamp)) => ({
  'webhook-id': VECTOR.msgId,
  'webhook-timestamp': timestamp,
  'webhook-signature': signature,
});
const at = { nowSeconds: VECTOR.timestamp };

describe('sign', () => {
  it("reproduces the scheme's published test vector", () => {
    expect(sign(VECTOR.secret, VECTOR.msgId, VECTOR.timestamp, VECTOR.payload)).toBe(VECTOR.signature);
  });

  it('signs the bytes as given: a string and its UTF-8 bytes sign alike; any change of id, time, body or secret changes it', () => {
    expect(sign(VECTOR.secret, VECTOR.msgId, VECTOR.timestamp, Buffer.from(VECTOR.payload))).toBe(VECTOR.signature);
    expect(sign(VECTOR.secret, VECTOR.msgId, VECTOR.timestamp, new Uint8Array(Buffer.from(VECTOR.payload)))).toBe(VECTOR.signature);
    const others = [
      sign(VECTOR.secret, 'msg_p5jXN8AQM9LWM0D4loKWxJeK', VECTOR.timestamp, VECTOR.payload),
      sign(VECTOR.secret, VECTOR.msgId, VECTOR.timestamp + 1, VECTOR.payload),
      sign(VECTOR.secret, VECTOR.msgId, VECTOR.timestamp, '{"test":2432232314}'),
      sign('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSx', VECTOR.msgId, VECTOR.timestamp, VECTOR.payload),
    ];
    expect(new Set([VECTOR.signature, ...others]).size).toBe(5);
  });

  it('takes the secret with or without its whsec_ prefix, padded or not', () => {
    expect(sign(VECTOR.secret.slice('whsec_'.length), VECTOR.msgId, VECTOR.timestamp, VECTOR.payload)).toBe(VECTOR.signature);
    // 31 base64 characters (23 bytes): the unpadded and padded forms are the same key.
    expect(secretKey('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS')).toEqual(secretKey('MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS='));
  });

  it('refuses a secret that is not base64, an id with a full stop and a time that is not whole seconds', () => {
    for (const secret of ['', 'whsec_', 'whsec_not base64!', 'whsec_abcde', 'whsec_YWJj=YWJj']) {
      expect(() => sign(secret, VECTOR.msgId, VECTOR.timestamp, VECTOR.payload)).toThrow(TypeError);
    }
    expect(() => sign(VECTOR.secret, 'evt_1.2', VECTOR.timestamp, VECTOR.payload)).toThrow(TypeError);
    expect(() => sign(VECTOR.secret, '', VECTOR.timestamp, VECTOR.payload)).toThrow(TypeError);
    expect(() => sign(VECTOR.secret, VECTOR.msgId, 1614265330.5, VECTOR.payload)).toThrow(TypeError);
    expect(() => sign(VECTOR.secret, VECTOR.msgId, -1, VECTOR.payload)).toThrow(TypeError);
  });
});

describe('signatureHeader', () => {
  it('lists one signature per live secret, space-separated, in the order given', () => {
    const other = newWebhookSecret();
    const header = signatureHeader([other, VECTOR.secret], VECTOR.msgId, VECTOR.timestamp, VECTOR.payload);
    expect(header.split(' ')).toEqual([sign(other, VECTOR.msgId, VECTOR.timestamp, VECTOR.payload), VECTOR.signature]);
    expect(signatureHeader([VECTOR.secret], VECTOR.msgId, VECTOR.timestamp, VECTOR.payload)).toBe(VECTOR.signature);
    expect(() => signatureHeader([], VECTOR.msgId, VECTOR.timestamp, VECTOR.payload)).toThrow(TypeError);
  });

  it('webhookHeaders gives the three headers of a delivery', () => {
    expect(webhookHeaders([VECTOR.secret], VECTOR.msgId, VECTOR.timestamp, VECTOR.payload)).toEqual(headersOf(VECTOR.signature));
  });
});

describe('newWebhookSecret', () => {
  it('is whsec_ and the base64 of 32 random bytes, different every time', () => {
    const secrets = Array.from({ length: 20 }, () => newWebhookSecret());
    for (const secret of secrets) {
      expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
      expect(secretKey(secret)).toHaveLength(32);
    }
    expect(new Set(secrets).size).toBe(secrets.length);
  });
});

describe('verifySignature', () => {
  it('accepts the published vector, alone or among other signatures and versions', () => {
    expect(verifySignature(VECTOR.secret, headersOf(VECTOR.signature), VECTOR.payload, at)).toEqual({ valid: true });
    const several = [`v1,${DECOY}`, `v2,${DECOY}`, VECTOR.signature, `v1,${DECOY}`].join(' ');
    expect(verifySignature(VECTOR.secret, headersOf(several), Buffer.from(VECTOR.payload), at)).toEqual({ valid: true });
  });

  it('accepts a header signed by every live secret with any one of them', () => {
    const [oldSecret, newSecret] = [newWebhookSecret(), newWebhookSecret()];
    const headers = webhookHeaders([oldSecret, newSecret], 'evt_1', VECTOR.timestamp, VECTOR.payload);
    expect(verifySignature(oldSecret, headers, VECTOR.payload, at).valid).toBe(true);
    expect(verifySignature(newSecret, headers, VECTOR.payload, at).valid).toBe(true);
    expect(verifySignature(newWebhookSecret(), headers, VECTOR.payload, at)).toEqual({ valid: false, reason: 'no_matching_signature' });
  });

  it('refuses a tampered body, id, timestamp or signature', () => {
    const refused = { valid: false, reason: 'no_matching_signature' };
    expect(verifySignature(VECTOR.secret, headersOf(VECTOR.signature), '{"test": 2432232315}', at)).toEqual(refused);
    expect(verifySignature(VECTOR.secret, { ...headersOf(VECTOR.signature), 'webhook-id': 'msg_other' }, VECTOR.payload, at)).toEqual(
      refused,
    );
    expect(verifySignature(VECTOR.secret, headersOf(VECTOR.signature, String(VECTOR.timestamp + 1)), VECTOR.payload, at)).toEqual(refused);
    // The suites' invalid signatures: the vector with its last byte changed, garbage, a prefix, an empty one.
    for (const signature of [
      'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA=',
      'v1,dawfeoifkpqwoekfpqoekf',
      VECTOR.signature.slice(0, 8),
      'v1,',
      `v2,${VECTOR.signature.slice(3)}`,
      VECTOR.signature.slice(3),
    ]) {
      expect(verifySignature(VECTOR.secret, headersOf(signature), VECTOR.payload, at)).toEqual(refused);
    }
  });

  it('refuses missing headers and a timestamp that is not seconds, too old or too new', () => {
    for (const name of ['webhook-id', 'webhook-timestamp', 'webhook-signature'] as const) {
      const headers: Record<string, string | undefined> = headersOf(VECTOR.signature);
      delete headers[name];
      expect(verifySignature(VECTOR.secret, headers, VECTOR.payload, at)).toEqual({ valid: false, reason: 'missing_headers' });
    }
    for (const timestamp of ['hello', '1614265330.0', '-1614265330']) {
      expect(verifySignature(VECTOR.secret, headersOf(VECTOR.signature, timestamp), VECTOR.payload, at)).toEqual({
        valid: false,
        reason: 'invalid_timestamp',
      });
    }
    const check = (nowSeconds: number) => verifySignature(VECTOR.secret, headersOf(VECTOR.signature), VECTOR.payload, { nowSeconds });
    expect(check(VECTOR.timestamp + 300).valid).toBe(true);
    expect(check(VECTOR.timestamp - 300).valid).toBe(true);
    expect(check(VECTOR.timestamp + 301)).toEqual({ valid: false, reason: 'timestamp_too_old' });
    expect(check(VECTOR.timestamp - 301)).toEqual({ valid: false, reason: 'timestamp_too_new' });
  });
});
