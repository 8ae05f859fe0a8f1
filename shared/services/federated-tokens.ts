import type { KeyAuthenticator } from '../auth/key-authenticator';
import type { Clock } from '../clock';
import type { Customer, Operation, TrustPolicy } from '../domain';
import { hashSecret } from '../keys/compound-key';
import { formatFederatedToken, generateFederatedSecret } from '../keys/federated-token';
import type { Logger } from '../logging';
import type {
  FederatedTokenPlace,
  FederatedTokenRecord,
  FederatedTokenRef,
  FederatedTokenRepository,
} from '../ports/federated-token-repository';
import type { RevocationFeed } from '../ports/revocation-feed';

/** Expired tokens of a policy cleared away after each exchange under it, at most (the steady state clears one or two). */
export const SWEEP_PER_EXCHANGE = 20;

/** What a FederatedTokens is built from. */
export interface FederatedTokensDeps {
  tokens: FederatedTokenRepository;
  /** This instance's auth cache: a stopped token is refused here at once. */
  authenticator: KeyAuthenticator;
  feed: RevocationFeed;
  clock: Clock;
  log: Logger;
}

/** A token just minted: the token itself (shown once, never stored) and what was stored for it. */
export interface MintedToken {
  token: string;
  record: FederatedTokenRecord;
}

/**
 * Federated access tokens' life: minted under a trust policy (stored hashed: a lookup row the door
 * reads, an index row that finds it again), stopped when their policy changes or goes (through the
 * revocation feed, in the order key revocation follows), and cleared away once expired.
 */
export class FederatedTokens {
  private readonly tokens: FederatedTokenRepository;
  private readonly authenticator: KeyAuthenticator;
  private readonly feed: RevocationFeed;
  private readonly clock: Clock;
  private readonly log: Logger;

  constructor(deps: FederatedTokensDeps) {
    this.tokens = deps.tokens;
    this.authenticator = deps.authenticator;
    this.feed = deps.feed;
    this.clock = deps.clock;
    this.log = deps.log;
  }

  /**
   * A new token acting for `policy` (its application, environment, label) for the policy's
   * lifetime from now, to the millisecond: `expires_in` is that lifetime in whole seconds, and the
   * door refuses the token from `expiresAt` on, on every instance.
   */
  async mint(customer: Customer, policy: TrustPolicy): Promise<MintedToken> {
    const secret = generateFederatedSecret();
    const expiresAt = new Date(this.clock.millis() + policy.tokenLifetimeMinutes * 60_000).toISOString();
    const record: FederatedTokenRecord = {
      secretHash: hashSecret(secret),
      customerId: customer.id,
      customerSlug: customer.slug,
      plan: customer.plan,
      trustPolicyId: policy.id,
      trustPolicyLabel: policy.label,
      application: policy.application,
      environment: policy.environment,
      expiresAt,
      policyVersion: policy.updatedAt,
    };
    await this.tokens.insert(record);
    return { token: formatFederatedToken({ slug: customer.slug, secret }), record };
  }

  /** Takes one token away at once (an exchange that found its policy changed as it minted): here, and everywhere through the feed. */
  async withdraw(record: FederatedTokenRecord, op: Operation): Promise<void> {
    await this.stopTokens(record.customerSlug, record.trustPolicyId, [record], op);
  }

  /**
   * Stops one token found by its hash (a leak report names it), in the order that survives a crash
   * at any step: on the revocation feed first (from then on this instance refuses it, every other
   * one within a feed read), then `record` (what the caller keeps of it), then its lookup row and
   * its index row. While the lookup row stands, a report retried after a crash finds the token
   * again and finishes the work. Returns what `record` returned.
   */
  async stopFound<T>(
    customerSlug: string,
    trustPolicyId: string,
    token: FederatedTokenPlace,
    op: Operation,
    record: () => Promise<T>,
  ): Promise<T> {
    await this.halt(customerSlug, trustPolicyId, [token], op);
    const recorded = await record();
    await this.tokens.remove(customerSlug, trustPolicyId, token);
    return recorded;
  }

  /**
   * Stops the policy's tokens that have not expired (all, or all but those minted under the policy
   * version `keepVersion`), and clears its expired ones away. In the order of key revocation, which
   * survives a crash at any step: the revocation feed first (from then on this instance refuses
   * them, every other one within a feed read, whatever their lookup rows say), then each token's
   * lookup row, then its index row. Idempotent. Returns how many it stopped.
   */
  async stop(customerSlug: string, trustPolicyId: string, op: Operation, options: { keepVersion?: string } = {}): Promise<number> {
    const now = this.clock.now().toISOString();
    const listed = await this.tokens.list(customerSlug, trustPolicyId);
    const live = listed.filter((t) => t.expiresAt > now && t.policyVersion !== options.keepVersion);
    const expired = listed.filter((t) => t.expiresAt <= now);
    await this.stopTokens(customerSlug, trustPolicyId, live, op);
    for (const token of expired) await this.tokens.remove(customerSlug, trustPolicyId, token);
    if (live.length > 0) this.log.info('federated tokens stopped', { customer: customerSlug, trustPolicyId, count: live.length });
    return live.length;
  }

  /** Clears away up to `limit` of the policy's expired tokens (their rows; the door refuses them anyway). Returns how many. */
  async sweepExpired(customerSlug: string, trustPolicyId: string, limit = SWEEP_PER_EXCHANGE): Promise<number> {
    const expired = await this.tokens.list(customerSlug, trustPolicyId, { expiredAt: this.clock.now().toISOString(), limit });
    for (const token of expired) await this.tokens.remove(customerSlug, trustPolicyId, token);
    return expired.length;
  }

  private async stopTokens(customerSlug: string, trustPolicyId: string, tokens: FederatedTokenRef[], op: Operation): Promise<void> {
    if (tokens.length === 0) return;
    await this.halt(customerSlug, trustPolicyId, tokens, op);
    for (const token of tokens) await this.tokens.remove(customerSlug, trustPolicyId, token);
  }

  /** The feed first, then this instance's cache: from here every instance refuses these tokens within a feed read. */
  private async halt(customerSlug: string, trustPolicyId: string, tokens: FederatedTokenPlace[], op: Operation): Promise<void> {
    await this.feed.publish(
      tokens.map((t) => ({
        secretHash: t.secretHash,
        keyId: trustPolicyId,
        customerSlug,
        reason: 'revoked' as const,
        actor: op.actor,
        requestId: op.requestId,
      })),
    );
    for (const token of tokens) this.authenticator.revoke(token.secretHash, customerSlug);
  }
}
