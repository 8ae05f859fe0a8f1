import { OidcTestIssuer } from '../../fixtures/oidc-issuer';
import { MemoryPublicDocumentFetch } from '../../shared/adapters/memory/memory-public-document-fetch';
import { hashSecret } from '../../shared/keys/compound-key';
import { memoryServices } from '../support/memory-services';
import { op } from '../support/portal';
import { trackSecret } from '../support/secrets';

/**
 * The exchange's and the policies' ordering, on the in-memory fakes: what must hold when a change
 * to a policy and an exchange under it overlap, and when a deletion stops part way. (The exchange
 * over HTTP, against Azurite and a loopback issuer, is test/integration/token-exchange.test.ts.)
 */
const ISSUER = 'https://issuer.example';

async function setup() {
  const documents = new MemoryPublicDocumentFetch();
  const env = memoryServices({}, { documents });
  const { services, clock } = env;
  const issuer = new OidcTestIssuer(ISSUER, undefined, () => clock.millis());
  issuer.addKey('ES256');
  documents.serve(issuer.discoveryUrl, () => issuer.answer(issuer.discoveryUrl)!);
  documents.serve(issuer.jwksUri, () => issuer.answer(issuer.jwksUri)!);
  await services.useCases.customers.create({ slug: 'acme', name: 'Acme', plan: 'pro' });
  const policy = await services.useCases.trustPolicies.create(
    'acme',
    {
      label: 'ci',
      issuer: ISSUER,
      audience: 'acme',
      subject: 'repo:acme/checkout:*',
      claims: {},
      application: 'checkout',
      environment: 'live',
      tokenLifetimeMinutes: 15,
    },
    op(),
  );
  const exchange = async () => {
    const outcome = await services.useCases.tokenExchange.exchange(
      { subjectToken: issuer.sign({ aud: 'acme' }), audience: 'acme' },
      'req-x',
    );
    if (outcome.ok) trackSecret(outcome.accessToken);
    return outcome;
  };
  const hashOf = (token: string) => hashSecret(token.split('.')[1]!);
  return { ...env, issuer, policy, exchange, hashOf };
}

describe('the exchange and a change to its policy, overlapping', () => {
  it.each([
    ['changed', 'update'],
    ['deleted', 'markDeleted'],
  ] as const)(
    'withdraws a token whose policy was %s while it was minted (the policy read again after the token was stored)',
    async (_what, change) => {
      const { services, repositories, policy, exchange, clock } = await setup();
      const stored: string[] = [];
      const get = repositories.trustPolicies.get.bind(repositories.trustPolicies);
      // The change lands between the token's storing and the exchange's second read of the policy,
      // written to the repository directly (the service's own stop is not what is tested here).
      repositories.trustPolicies.get = async (slug, id) => {
        stored.push(...[...repositories.keys.lookups.values()].filter((l) => l.keyType === 'federated').map((l) => l.secretHash));
        clock.advance(1);
        if (change === 'update') {
          await repositories.trustPolicies.update(
            slug,
            id,
            (p) => ({ ...p, subject: 'repo:acme/other:*', updatedAt: clock.now().toISOString() }),
            () => services.useCases.audit.event({ customerSlug: slug, type: 'trust_policy.updated', op: op() }),
          );
        } else {
          await repositories.trustPolicies.markDeleted(slug, id, {
            deletedBy: op().actor,
            deletedAt: clock.now().toISOString(),
            audit: () => services.useCases.audit.event({ customerSlug: slug, type: 'trust_policy.deleted', op: op() }),
          });
        }
        repositories.trustPolicies.get = get;
        return get(slug, id);
      };
      const outcome = await exchange();
      expect(outcome).toEqual({ ok: false, error: 'invalid_grant', reason: 'policy_changed' });
      expect(stored).toHaveLength(1);
      // Stopped everywhere (the feed), here at once, and its rows gone.
      expect(services.authenticator.cached(stored[0]!)).toBeNull();
      expect(repositories.keys.lookups.has(stored[0]!)).toBe(false);
      expect(await repositories.federatedTokens.list('acme', policy.id)).toEqual([]);
      expect((await repositories.feed.readSince(new Date(0))).map((e) => e.secretHash)).toEqual([stored[0]]);
      const audit = await services.useCases.audit.list('acme', { limit: 10 });
      expect(audit.items.find((e) => e.type === 'token.refused')?.details).toMatchObject({
        reason: 'policy_changed',
        trustPolicyId: policy.id,
      });
    },
  );

  it('keeps a token whose policy did not change meanwhile', async () => {
    const { exchange, repositories, hashOf } = await setup();
    const outcome = await exchange();
    if (!outcome.ok) throw new Error(outcome.reason);
    expect(repositories.keys.lookups.get(hashOf(outcome.accessToken))).toMatchObject({ keyType: 'federated' });
  });
});

describe('stopping a policy\u2019s tokens', () => {
  it('stops the tokens before the policy is marked deleted: a deletion cut short leaves the policy listed and its tokens refused', async () => {
    const { services, repositories, policy, exchange, hashOf } = await setup();
    const minted = await exchange();
    if (!minted.ok) throw new Error(minted.reason);
    repositories.trustPolicies.markDeleted = async () => {
      throw new Error('crash');
    };
    await expect(services.useCases.trustPolicies.delete('acme', policy.id, op())).rejects.toThrow('crash');
    expect(await services.useCases.trustPolicies.get('acme', policy.id)).toMatchObject({ status: 'active' });
    expect(services.authenticator.cached(hashOf(minted.accessToken))).toBeNull();
    expect((await repositories.feed.readSince(new Date(0))).map((e) => e.secretHash)).toEqual([hashOf(minted.accessToken)]);
  });

  it('keeps the tokens of the current version through a patch that changes nothing, stops the others through one that does', async () => {
    const { services, policy, exchange, hashOf, clock } = await setup();
    const before = await exchange();
    if (!before.ok) throw new Error(before.reason);
    await services.useCases.trustPolicies.update('acme', policy.id, { tokenLifetimeMinutes: 15 }, op());
    expect(services.authenticator.cached(hashOf(before.accessToken))).not.toBeNull();
    // A change stamped by a clock that went back still makes a later version.
    clock.advance(-60_000);
    const changed = await services.useCases.trustPolicies.update('acme', policy.id, { tokenLifetimeMinutes: 20 }, op());
    expect(changed.updatedAt > policy.updatedAt).toBe(true);
    expect(services.authenticator.cached(hashOf(before.accessToken))).toBeNull();
    const after = await exchange();
    if (!after.ok) throw new Error(after.reason);
    expect(after.expiresIn).toBe(1200);
  });
});
