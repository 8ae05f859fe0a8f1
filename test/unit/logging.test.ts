import { describeError, redact } from '../../shared/logging';
import { formatCompoundKey, generateComponent, generateSecret, hashSecret } from '../../shared/keys/compound-key';

describe('log redaction', () => {
  it('removes compound keys and SHA-256 hashes from free text, keeping the slug', () => {
    const secret = generateSecret();
    const key = formatCompoundKey({ slug: 'acme', component: generateComponent(), secret });
    const text = redact(`failed for ${key} at keylookup(PartitionKey='ab12',RowKey='${hashSecret(secret)}')`);
    expect(text).not.toContain(secret);
    expect(text).not.toContain(hashSecret(secret));
    expect(text).toContain('vp_cust_acme.[redacted]');
    expect(text).toContain('[redacted-hash]');
  });

  it('describes errors by name, message, code and status, redacted, with causes', () => {
    const secret = generateSecret();
    const inner = Object.assign(new Error(`boom ${hashSecret(secret)}`), { code: 'ECONNREFUSED' });
    const outer = new Error('outer', { cause: inner });
    const described = describeError(outer);
    expect(described).toEqual({
      error: 'Error',
      message: 'outer',
      cause: { error: 'Error', message: 'boom [redacted-hash]', errorCode: 'ECONNREFUSED' },
    });
  });
});
