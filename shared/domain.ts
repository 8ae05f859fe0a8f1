/**
 * The service's domain types. Storage adapters map them to and from rows; handlers map
 * them to response bodies. Nothing here knows about HTTP or Table Storage.
 */

export const PLANS = ['starter', 'pro', 'enterprise'] as const;
export type Plan = (typeof PLANS)[number];

export const KEY_TYPES = ['primary', 'secondary', 'management'] as const;
export type KeyType = (typeof KEY_TYPES)[number];

export const KEY_ENVIRONMENTS = ['live', 'test'] as const;
export type KeyEnvironment = (typeof KEY_ENVIRONMENTS)[number];

export type KeyStatus = 'active' | 'revoked';

export interface Customer {
  /** Opaque, stable id (`cus_…`). */
  id: string;
  /** Lower-case slug, the first segment of every compound key; never changes. */
  slug: string;
  name: string;
  plan: Plan;
  /** The SecretStore version of the customer's current master component. */
  componentVersion: string;
  createdAt: string;
}

/** A key as stored for its customer. `secretHash` never leaves the service layer. */
export interface ApiKeyRecord {
  id: string;
  customerId: string;
  customerSlug: string;
  label: string;
  application: string;
  type: KeyType;
  environment: KeyEnvironment;
  /** `vp_cust_{slug}.…{first4}…{last4}`. */
  displayPrefix: string;
  secretHash: string;
  status: KeyStatus;
  createdAt: string;
  createdBy: string;
  revokedAt?: string;
  revokedBy?: string;
}

/** A key as clients may see it: everything but the hash. */
export type ApiKeyView = Omit<ApiKeyRecord, 'secretHash'>;

export function toKeyView(record: ApiKeyRecord): ApiKeyView {
  const { secretHash: _hidden, ...view } = record;
  return view;
}

/**
 * Who is calling, as resolved by the ApiKeyMiddleware from one point read. Handlers trust
 * it and never authenticate again.
 */
export interface KeyIdentity {
  customerId: string;
  customerSlug: string;
  plan: Plan;
  keyId: string;
  keyLabel: string;
  application: string;
  environment: KeyEnvironment;
  keyType: KeyType;
}
