import { randomBytes } from 'node:crypto';
import {
  masterComponentState,
  type Actor,
  type ApiKeyRecord,
  type AuditEvent,
  type AuditEventType,
  type Customer,
  type KeyExposure,
  type TrustPolicy,
  type WebhookEndpoint,
} from '../../../shared/domain';
import { newId } from '../../../shared/ids';
import type { CustomerRepository } from '../../../shared/ports/customer-repository';
import type { KeyLookupEntry } from '../../../shared/ports/key-repository';

/**
 * Record builders for the port contract suites: plain domain values with fixed timestamps, so a
 * suite reads the same against every adapter. Nothing here reaches storage.
 */

/** The instant every built record is dated from (each key a second after the previous one). */
export const BASE_TIME = Date.parse('2026-03-01T12:00:00.000Z');

/** An instant `seconds` after {@link BASE_TIME}, as ISO 8601. */
export const at = (seconds: number): string => new Date(BASE_TIME + seconds * 1000).toISOString();

export const alice: Actor = { type: 'user', id: 'usr_alice', name: 'alice' };
export const bob: Actor = { type: 'user', id: 'usr_bob', name: 'bob' };

let customers = 0;
let keys = 0;
let policies = 0;
let endpoints = 0;

/** A customer no other case uses (a fresh slug), with no keys and no tenant-key rotation. */
export function customerRecord(overrides: Partial<Customer> = {}): Customer {
  const slug = `k${++customers}-${randomBytes(4).toString('hex')}`;
  return {
    id: newId('cus', new Date(BASE_TIME)),
    slug,
    name: `Customer ${slug}`,
    plan: 'pro',
    componentVersion: 'v1',
    previousComponentVersion: undefined,
    graceEndsAt: undefined,
    componentRotatedAt: undefined,
    requireComponent: false,
    autoRevokeStaleKeys: false,
    leakedKeyPolicy: 'revoke',
    keyReview: undefined,
    createdAt: at(0),
    activeKeyCount: 0,
    keyLimitOverride: undefined,
    ...overrides,
  };
}

/** A {@link customerRecord} stored through the port (its creation asserted). */
export async function storedCustomer(customers: CustomerRepository, overrides: Partial<Customer> = {}): Promise<Customer> {
  const created = customerRecord(overrides);
  expect(await customers.create(created)).toBe('created');
  return created;
}

/** A fresh secret hash (hex SHA-256 shaped), never seen before. */
export const secretHashOf = (): string => randomBytes(32).toString('hex');

/**
 * An active key of `customer`, created `seconds` after {@link BASE_TIME} (by default a second after
 * the previous key built), so ids and creation times both sort in build order.
 */
export function keyRecord(customer: Customer, overrides: Partial<ApiKeyRecord> = {}, seconds = ++keys): ApiKeyRecord {
  const createdAt = at(seconds);
  const secretHash = secretHashOf();
  return {
    id: newId('key', new Date(createdAt)),
    customerId: customer.id,
    customerSlug: customer.slug,
    label: `key ${seconds}`,
    application: 'billing',
    type: 'secondary',
    environment: 'live',
    displayPrefix: `vp_cust_${customer.slug}.…${secretHash.slice(0, 4)}…${secretHash.slice(-4)}`,
    secretHash,
    status: 'active',
    createdAt,
    createdBy: alice,
    ...overrides,
  };
}

/** The lookup row of a key as the service writes it on issue (its customer's plan and master-component state). */
export function lookupOf(record: ApiKeyRecord, customer: Customer, overrides: Partial<KeyLookupEntry> = {}): KeyLookupEntry {
  return {
    secretHash: record.secretHash,
    status: 'active',
    customerId: record.customerId,
    customerSlug: record.customerSlug,
    plan: customer.plan,
    keyId: record.id,
    keyLabel: record.label,
    application: record.application,
    environment: record.environment,
    keyType: record.type,
    masterComponent: masterComponentState(customer),
    ...(record.rateLimit ? { rateLimit: record.rateLimit } : {}),
    ...(record.expiresAt ? { expiresAt: record.expiresAt } : {}),
    ...(record.allowedIps ? { allowedIps: record.allowedIps } : {}),
    ...overrides,
  };
}

/** An audit event of the customer (a fresh id each time). */
export function auditEvent(customerSlug: string, type: AuditEventType = 'key.issued', keyId?: string): AuditEvent {
  return {
    id: newId('evt', new Date(BASE_TIME)),
    customerSlug,
    type,
    at: at(0),
    actor: alice,
    ...(keyId ? { keyId } : {}),
    requestId: 'req-contract',
  };
}

/** A place a key was found in public (GitHub secret scanning), at `https://example.com/{path}`. */
export function exposure(path: string, source = 'content', seconds = 0): KeyExposure {
  return { reporter: 'github', url: `https://example.com/${path}`, source, reportedAt: at(seconds) };
}

/**
 * An active trust policy of `customer`, created `seconds` after {@link BASE_TIME} (by default a
 * second after the previous one built), so ids and creation times both sort in build order.
 */
export function trustPolicyRecord(customer: Customer, overrides: Partial<TrustPolicy> = {}, seconds = ++policies): TrustPolicy {
  const createdAt = at(seconds);
  return {
    id: newId('tp', new Date(createdAt)),
    customerSlug: customer.slug,
    label: `policy ${seconds}`,
    issuer: 'https://token.actions.githubusercontent.com',
    audience: customer.slug,
    subject: `repo:${customer.slug}/checkout:ref:refs/heads/main`,
    claims: {},
    application: 'checkout',
    environment: 'live',
    tokenLifetimeMinutes: 15,
    status: 'active',
    createdAt,
    createdBy: alice,
    updatedAt: createdAt,
    ...overrides,
  };
}

/**
 * An active webhook endpoint of `customer`, created `seconds` after {@link BASE_TIME} (by default a
 * second after the previous one built), so ids and creation times both sort in build order. Its
 * secret is an opaque stand-in for the encrypted form (the repository never reads it).
 */
export function webhookEndpointRecord(
  customer: Customer,
  overrides: Partial<WebhookEndpoint> = {},
  seconds = ++endpoints,
): WebhookEndpoint {
  const createdAt = at(seconds);
  return {
    id: newId('we', new Date(createdAt)),
    customerSlug: customer.slug,
    url: `https://hooks.example.com/${customer.slug}/${seconds}`,
    events: ['*'],
    status: 'active',
    secrets: [{ encrypted: `sealed-${randomBytes(6).toString('hex')}`, createdAt }],
    createdAt,
    createdBy: alice,
    updatedAt: createdAt,
    ...overrides,
  };
}
