import { masterComponentState, type Customer } from '../../shared/domain';
import { isId } from '../../shared/ids';
import { displayForm, generateSecret, hashSecret, parseCompoundKey } from '../../shared/keys/compound-key';
import { mintKey } from '../../shared/keys/mint';

const customer: Customer = {
  id: 'cus_01',
  slug: 'acme',
  name: 'Acme',
  plan: 'pro',
  componentVersion: 'v2',
  previousComponentVersion: 'v1',
  graceEndsAt: '2026-03-08T12:00:00.000Z',
  componentRotatedAt: '2026-03-01T12:00:00.000Z',
  requireComponent: true,
  autoRevokeStaleKeys: false,
  leakedKeyPolicy: 'revoke',
  keyReview: undefined,
  createdAt: '2026-01-01T00:00:00.000Z',
  activeKeyCount: 1,
  keyLimitOverride: undefined,
};
const now = new Date('2026-03-01T12:00:00.000Z');
const createdBy = { type: 'user' as const, id: 'u1', name: 'Ada' };
const component = 'c'.repeat(32);

describe('mintKey (a new key, without I/O)', () => {
  it('makes the compound key from the slug, the component and the secret, and keeps only its hash and display form', () => {
    const secret = generateSecret();
    const minted = mintKey({
      customer,
      component,
      shape: { label: 'ci', application: 'web', type: 'secondary', environment: 'live' },
      createdBy,
      now,
      secret,
    });
    expect(minted.key).toBe(`vp_cust_acme.${component}.${secret}`);
    expect(parseCompoundKey(minted.key).ok).toBe(true);
    expect(minted.record.secretHash).toBe(hashSecret(secret));
    expect(minted.record.displayPrefix).toBe(displayForm('acme', secret));
    expect(JSON.stringify([minted.record, minted.lookup])).not.toContain(secret);
    expect(isId('key', minted.record.id)).toBe(true);
    expect(minted.record).toMatchObject({
      status: 'active',
      createdAt: now.toISOString(),
      createdBy,
      customerId: 'cus_01',
      customerSlug: 'acme',
    });
  });

  it("gives the lookup row what the door reads: the key's identity, the plan and the master-component state", () => {
    const shape = {
      label: 'ci',
      application: 'web',
      type: 'management' as const,
      environment: 'test' as const,
      rateLimit: { requestsPerSecond: 5, burst: 10 },
      expiresAt: '2026-04-01T00:00:00.000Z',
      allowedIps: ['10.0.0.0/8'],
    };
    const { record, lookup } = mintKey({ customer, component, shape, createdBy, now });
    expect(lookup).toEqual({
      secretHash: record.secretHash,
      status: 'active',
      customerId: 'cus_01',
      customerSlug: 'acme',
      plan: 'pro',
      keyId: record.id,
      keyLabel: 'ci',
      application: 'web',
      environment: 'test',
      keyType: 'management',
      masterComponent: masterComponentState(customer),
      rateLimit: shape.rateLimit,
      expiresAt: shape.expiresAt,
      allowedIps: ['10.0.0.0/8'],
    });
    expect(record.allowedIps).not.toBe(shape.allowedIps); // a copy: the record does not share the caller's list
  });

  it('leaves out what the shape does not set: no rate limit, expiry or allowlist (an empty allowlist is none)', () => {
    const { record, lookup } = mintKey({
      customer,
      component,
      shape: { label: 'ci', application: 'web', type: 'secondary', environment: 'live', allowedIps: [] },
      createdBy,
      now,
    });
    for (const field of ['rateLimit', 'expiresAt', 'allowedIps']) {
      expect(record).not.toHaveProperty(field);
      expect(lookup).not.toHaveProperty(field);
    }
  });

  it('makes a different secret each time it is not given one', () => {
    const shape = { label: 'ci', application: 'web', type: 'secondary' as const, environment: 'live' as const };
    const a = mintKey({ customer, component, shape, createdBy, now });
    const b = mintKey({ customer, component, shape, createdBy, now });
    expect(a.record.secretHash).not.toBe(b.record.secretHash);
    expect(a.record.id).not.toBe(b.record.id);
  });
});
