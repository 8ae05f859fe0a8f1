import type { AuditEvent, KeyEnvironment, KeyExposure, Plan } from '../domain';

/**
 * A federated access token as stored: its hash (never the token), whom it acts for, and the
 * version of the policy it was minted under. Written by the exchange, read by the door as a
 * lookup row (KeyRepository.findByHash: type `federated`, keyId = the policy's id).
 */
export interface FederatedTokenRecord {
  /** SHA-256 of the token's secret (hex): the lookup row's key. */
  secretHash: string;
  customerId: string;
  customerSlug: string;
  /** The customer's plan when the token was minted (its rate limit). */
  plan: Plan;
  trustPolicyId: string;
  trustPolicyLabel: string;
  application: string;
  environment: KeyEnvironment;
  /** When it stops working (ISO 8601, milliseconds). */
  expiresAt: string;
  /** The policy's `updatedAt` when the token was minted: a change to the policy stops the tokens of every other version. */
  policyVersion: string;
}

/** A policy's token as its index lists it. */
export interface FederatedTokenRef {
  secretHash: string;
  expiresAt: string;
  policyVersion: string;
}

/** A token's place in its rows: what finds its lookup row and its index row. */
export type FederatedTokenPlace = Pick<FederatedTokenRef, 'secretHash' | 'expiresAt'>;

/** A token found in public: whose it is and the policy it acted for. */
export interface TokenExposure {
  customerSlug: string;
  secretHash: string;
  trustPolicyId: string;
  trustPolicyLabel: string;
}

/** `known`: this report was recorded for this token before (nothing was written). */
export type TokenExposureOutcome = 'recorded' | 'known';

/**
 * Federated tokens, stored twice, like keys: a lookup row in the key lookup table (what the door
 * reads, one point read) and an index row under the customer, by policy and expiry (what finds a
 * policy's tokens to stop them, and its expired ones to clear away). Ordered so that a crash never
 * leaves a token that authenticates without being indexed:
 * - insert: index row, then lookup row;
 * - remove: lookup row, then index row.
 */
export interface FederatedTokenRepository {
  /** Writes the token's index row, then its lookup row. */
  insert(token: FederatedTokenRecord): Promise<void>;
  /**
   * The policy's indexed tokens, by expiry (earliest first): all of them, or (with `expiredAt`)
   * those expired at that time (their expiry at or before it), at most `limit`.
   */
  list(customerSlug: string, trustPolicyId: string, options?: { expiredAt?: string; limit?: number }): Promise<FederatedTokenRef[]>;
  /** Removes a token's lookup row, then its index row (idempotent). */
  remove(customerSlug: string, trustPolicyId: string, token: FederatedTokenPlace): Promise<void>;
  /**
   * Records that a token of the policy was found in public at the places one report names
   * (distinct, in the report's order), with one audit event, in one transaction: one exposure row
   * per token and report, named by the token's hash and the places, so the same report delivered
   * twice, or to two instances at once, records once (`known`).
   */
  recordExposure(exposure: TokenExposure, places: KeyExposure[], audit: AuditEvent): Promise<TokenExposureOutcome>;
  /**
   * The policy of the token with this hash if any report was recorded for it ({@link recordExposure});
   * exposure rows outlive the token's own, so a report that names a token already stopped still
   * finds it ours.
   */
  findExposed(customerSlug: string, secretHash: string): Promise<TokenExposure | undefined>;
}
