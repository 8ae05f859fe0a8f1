import { masterComponentState, type Actor, type ApiKeyRecord, type Customer } from '../domain';
import { newId } from '../ids';
import type { KeyLookupEntry } from '../ports/key-repository';
import { displayForm, formatCompoundKey, generateSecret, hashSecret } from './compound-key';

/** What a new key copies from its request (or from the key it replaces). */
export type KeyShape = Pick<ApiKeyRecord, 'label' | 'application' | 'type' | 'environment' | 'rateLimit'> &
  Partial<Pick<ApiKeyRecord, 'expiresAt' | 'allowedIps'>>;

/** A new key: its record and lookup row (to be stored) and its full value (shown once, never stored). */
export interface MintedKey {
  record: ApiKeyRecord;
  lookup: KeyLookupEntry;
  key: string;
}

export interface MintInput {
  customer: Customer;
  /** The value of the customer's current master component (the key's middle segment). */
  component: string;
  shape: KeyShape;
  createdBy: Actor;
  now: Date;
  /** The key's secret; a fresh random one unless given (tests give one). */
  secret?: string;
}

/**
 * A new key for a customer, computed without I/O: the secret, its hash, the display prefix, the
 * record and the lookup row the door reads, and the compound key `vp_cust_{slug}.{component}.{secret}`.
 */
export function mintKey({ customer, component, shape, createdBy, now, secret = generateSecret() }: MintInput): MintedKey {
  const secretHash = hashSecret(secret);
  const record: ApiKeyRecord = {
    id: newId('key', now),
    customerId: customer.id,
    customerSlug: customer.slug,
    label: shape.label,
    application: shape.application,
    type: shape.type,
    environment: shape.environment,
    displayPrefix: displayForm(customer.slug, secret),
    secretHash,
    status: 'active',
    createdAt: now.toISOString(),
    createdBy,
    ...(shape.rateLimit ? { rateLimit: shape.rateLimit } : {}),
    ...(shape.expiresAt ? { expiresAt: shape.expiresAt } : {}),
    ...(shape.allowedIps?.length ? { allowedIps: [...shape.allowedIps] } : {}),
  };
  return {
    record,
    lookup: {
      secretHash,
      status: 'active',
      customerId: customer.id,
      customerSlug: customer.slug,
      plan: customer.plan,
      keyId: record.id,
      keyLabel: record.label,
      application: record.application,
      environment: record.environment,
      keyType: record.type,
      masterComponent: masterComponentState(customer),
      ...(shape.rateLimit ? { rateLimit: shape.rateLimit } : {}),
      ...(record.expiresAt ? { expiresAt: record.expiresAt } : {}),
      ...(record.allowedIps ? { allowedIps: record.allowedIps } : {}),
    },
    key: formatCompoundKey({ slug: customer.slug, component, secret }),
  };
}
