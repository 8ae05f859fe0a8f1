import type { KeyEnvironment, TrustPolicy } from '../../domain';
import { labelDigest } from './key-rows';
import { CorruptRowError, actorFromText, actorToText, withoutUndefined } from './rows';

/**
 * The rows of trust policies (the repository is table-trust-policy-repository.ts), and how each
 * maps to and from the domain. In the customer's partition of the `customers` table, beside its
 * keys, so that a change and its audit event are one entity-group transaction:
 *
 * - `trustpolicy_{policy id}`            the policy (TrustPolicyEntity), deleted ones too
 * - `trustpolicylabel_{hash of label}`   the active policy that holds a label (as keys' labels compare)
 * - `trustpolicies`                      how many active policies the customer has (what the cap is held to)
 */

export const POLICY_ROW_PREFIX = 'trustpolicy_';
/** The first character after `trustpolicy_` in ASCII order: the exclusive upper bound of a policy-row range query. */
export const POLICY_ROW_END = 'trustpolicy`';
/** The customer's count of active policies. */
export const POLICY_COUNT_ROW = 'trustpolicies';

export const policyRowKey = (id: string): string => `${POLICY_ROW_PREFIX}${id}`;
export const policyLabelRowKey = (label: string): string => `trustpolicylabel_${labelDigest(label)}`;

export type TrustPolicyEntity = {
  partitionKey: string;
  rowKey: string;
  id: string;
  label: string;
  issuer: string;
  audience: string;
  subject: string;
  /** A JSON object of strings. */
  claims: string;
  application: string;
  environment: string;
  tokenLifetimeMinutes: number;
  status: string;
  createdAt: string;
  createdBy: string;
  updatedAt: string;
  deletedAt?: string;
  deletedBy?: string;
  lastUsedAt?: string;
};

/** The row that holds a label for the policy `policyId`. */
export type PolicyLabelEntity = { partitionKey: string; rowKey: string; policyId: string };
export const policyLabelEntity = (customerSlug: string, label: string, policyId: string): PolicyLabelEntity => ({
  partitionKey: customerSlug,
  rowKey: policyLabelRowKey(label),
  policyId,
});

export type PolicyCountEntity = { partitionKey: string; rowKey: string; activeCount: number };

export function policyEntity(policy: TrustPolicy): TrustPolicyEntity {
  return withoutUndefined({
    partitionKey: policy.customerSlug,
    rowKey: policyRowKey(policy.id),
    id: policy.id,
    label: policy.label,
    issuer: policy.issuer,
    audience: policy.audience,
    subject: policy.subject,
    claims: JSON.stringify(policy.claims),
    application: policy.application,
    environment: policy.environment,
    tokenLifetimeMinutes: policy.tokenLifetimeMinutes,
    status: policy.status,
    createdAt: policy.createdAt,
    createdBy: actorToText(policy.createdBy),
    updatedAt: policy.updatedAt,
    deletedAt: policy.deletedAt,
    deletedBy: policy.deletedBy ? actorToText(policy.deletedBy) : undefined,
    lastUsedAt: policy.lastUsedAt,
  });
}

function claimsOf(row: TrustPolicyEntity): Record<string, string> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(row.claims);
  } catch {
    // Reported below.
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed) || !Object.values(parsed).every((v) => typeof v === 'string'))
    throw new CorruptRowError(`the claims of trust policy ${row.id} are not an object of strings`);
  return parsed as Record<string, string>;
}

export function toTrustPolicy(row: TrustPolicyEntity): TrustPolicy {
  if (row.status !== 'active' && row.status !== 'deleted') throw new CorruptRowError(`trust policy ${row.id} has no status`);
  return withoutUndefined({
    id: row.id,
    customerSlug: row.partitionKey,
    label: row.label,
    issuer: row.issuer,
    audience: row.audience,
    subject: row.subject,
    claims: claimsOf(row),
    application: row.application,
    environment: row.environment as KeyEnvironment,
    tokenLifetimeMinutes: row.tokenLifetimeMinutes,
    status: row.status,
    createdAt: row.createdAt,
    createdBy: actorFromText(row.createdBy),
    updatedAt: row.updatedAt,
    deletedAt: row.deletedAt || undefined,
    deletedBy: row.deletedBy ? actorFromText(row.deletedBy) : undefined,
    lastUsedAt: row.lastUsedAt || undefined,
  });
}
