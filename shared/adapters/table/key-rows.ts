import { createHash } from 'node:crypto';
import {
  EXPIRY_WARNINGS,
  NO_MASTER_COMPONENT,
  type Actor,
  type ApiKeyRecord,
  type CredentialType,
  type ExpiryWarningWindow,
  type KeyEnvironment,
  type KeyExposure,
  type KeyStatus,
  type KeyType,
  type MasterComponentState,
  type Plan,
  type RateLimitSetting,
} from '../../domain';
import type { KeyLookupEntry, LookupPart } from '../../ports/key-repository';
import { normalizeLabel } from '../../keys/labels';
import { CorruptRowError, actorFromText, actorToText, withoutUndefined } from './rows';

/**
 * The rows of keys (the repository is table-key-repository.ts), and how each maps to and from
 * the domain. In the customer's partition of the `customers` table, beside its profile row:
 *
 * - `key_{key id}`                          the key's record (KeyEntity)
 * - `label_{hash of the normalized label}`  the active key that holds a label, so a label is held once
 * - `exposure_{key id}_{hash of places}`    one per key and leak report, so a report is recorded once
 *
 * In the `keyLookup` table, what authentication reads in one point read (LookupEntity): partition
 * `{first 4 hex digits of the secret hash}`, row `{secret hash}`.
 */

export const KEY_ROW_PREFIX = 'key_';
/** The first character after `key_` in ASCII order: the exclusive upper bound of a key-row range query. */
export const KEY_ROW_END = 'key`';

/** Key rows live in their customer's partition of the customers table. */
export const keyRowKey = (keyId: string): string => `${KEY_ROW_PREFIX}${keyId}`;

/** Lookup rows are spread over 65,536 partitions by the leading hex digits of the hash. */
export const lookupPartition = (secretHash: string): string => secretHash.slice(0, 4);

/** The row that holds a customer's active label once (labels compare as normalizeLabel has them). */
export const labelRowKey = (label: string): string => `label_${labelDigest(label)}`;

/** A label as row keys name it: a digest of its normalized form, so lookalike labels share one row. */
export const labelDigest = (label: string): string => createHash('sha256').update(normalizeLabel(label), 'utf8').digest('hex').slice(0, 32);

const placeOf = (e: KeyExposure): string => JSON.stringify([e.reporter, e.source, e.url]);

/**
 * One row per key and report (created in the transaction that records the exposure), named by
 * the places the report gave for the key: the same report again (GitHub retries, or a second
 * instance) conflicts on it, so it is recorded once, however many places it names.
 */
export const exposureRowKey = (keyId: string, exposures: KeyExposure[]): string =>
  `exposure_${keyId}_${createHash('sha256')
    .update(JSON.stringify([...new Set(exposures.map(placeOf))].sort()), 'utf8')
    .digest('hex')
    .slice(0, 32)}`;

export type KeyEntity = {
  partitionKey: string;
  rowKey: string;
  id: string;
  customerId: string;
  label: string;
  application: string;
  type: string;
  environment: string;
  displayPrefix: string;
  secretHash: string;
  status: string;
  createdAt: string;
  createdBy: string;
  revokedAt?: string;
  revokedBy?: string;
  lastUsedAt?: string;
  /** The key's own rate limit (-1: none; Merge cannot remove a property). */
  rateLimitRps?: number;
  rateLimitBurst?: number;
  /** JSON array of the first places the key was found in public (KeyExposure). */
  exposures?: string;
  exposureCount?: number;
  /** '' once cleared (Merge cannot remove a property), like allowedIps (a JSON array). */
  expiresAt?: string;
  allowedIps?: string;
  rolledTo?: string;
  /**
   * Written with `rolledTo` since a key rolling out holds its own place under the cap. A key
   * rolled before (no such column) handed its place to its successor, so revoking it frees none.
   * Only such keys need it: they are gone once the last overlap then running ends (168 h at most).
   */
  rolledHoldingPlace?: boolean;
  rolledFrom?: string;
  revokedReason?: string;
  /** The `key.expiring` warnings recorded: `{expiresAt}|{window},{window}` (see expiryWarnedColumn). */
  expiryWarned?: string;
};

/** The column of a key's recorded expiry warnings. */
export const expiryWarnedColumn = (warned: NonNullable<ApiKeyRecord['expiryWarned']>): string =>
  `${warned.expiresAt}|${warned.windows.join(',')}`;

function expiryWarnedOf(row: KeyEntity): ApiKeyRecord['expiryWarned'] {
  if (!row.expiryWarned) return undefined;
  const [expiresAt, windows] = row.expiryWarned.split('|');
  const list = (windows ?? '').split(',').filter(Boolean);
  if (!expiresAt || Number.isNaN(Date.parse(expiresAt)) || !list.every((w) => EXPIRY_WARNINGS.some((e) => e.window === w)))
    throw new CorruptRowError(`the expiry warnings of key ${row.id} are not readable`);
  return { expiresAt, windows: list as ExpiryWarningWindow[] };
}

export const rateLimitColumns = (setting: RateLimitSetting | undefined) => ({
  rateLimitRps: setting?.requestsPerSecond ?? -1,
  rateLimitBurst: setting?.burst ?? -1,
});

function rateLimitOf(row: { rateLimitRps?: number; rateLimitBurst?: number }): RateLimitSetting | undefined {
  return typeof row.rateLimitRps === 'number' && row.rateLimitRps > 0 && typeof row.rateLimitBurst === 'number' && row.rateLimitBurst > 0
    ? { requestsPerSecond: row.rateLimitRps, burst: row.rateLimitBurst }
    : undefined;
}

export type LookupEntity = {
  partitionKey: string;
  rowKey: string;
  customerId: string;
  customerSlug: string;
  plan: string;
  keyId: string;
  keyLabel: string;
  application: string;
  environment: string;
  keyType: string;
  status: string;
  /** The customer's master-component state (see masterComponentColumns; '' for no previous version or grace end). */
  componentVersion: string;
  previousComponentVersion: string;
  graceEndsAt: string;
  requireComponent: boolean;
  rateLimitRps?: number;
  rateLimitBurst?: number;
  /** '' for none (Merge cannot remove a property). */
  expiresAt?: string;
  /** A JSON array; '' for none. */
  allowedIps?: string;
};

/** What a key's expiry and allowlist look like in a row: '' for none. */
export const accessColumns = (access: { expiresAt?: string | undefined; allowedIps?: readonly string[] | undefined }) => ({
  expiresAt: access.expiresAt ?? '',
  allowedIps: access.allowedIps?.length ? JSON.stringify(access.allowedIps) : '',
});

function allowedIpsOf(row: { allowedIps?: string }, what: string): string[] | undefined {
  if (!row.allowedIps) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(row.allowedIps);
  } catch {
    // Reported below.
  }
  if (!Array.isArray(parsed) || !parsed.every((e) => typeof e === 'string'))
    throw new CorruptRowError(`the allowlist of ${what} is not a list`);
  return parsed;
}

export const masterComponentColumns = (state: MasterComponentState) => ({
  componentVersion: state.componentVersion,
  previousComponentVersion: state.previousComponentVersion ?? '',
  graceEndsAt: state.graceEndsAt ?? '',
  requireComponent: state.requireComponent,
});

/** The state the door checks components against: every key's lookup row is written with it (a federated token's holds none). */
function masterComponentOf(row: LookupEntity): MasterComponentState {
  if (row.keyType === 'federated') return NO_MASTER_COMPONENT;
  if (!row.componentVersion) throw new CorruptRowError(`the lookup row of key ${row.keyId} has no master-component state`);
  return {
    componentVersion: row.componentVersion,
    previousComponentVersion: row.previousComponentVersion || undefined,
    graceEndsAt: row.graceEndsAt || undefined,
    requireComponent: row.requireComponent === true,
  };
}

export function keyEntity(record: ApiKeyRecord): KeyEntity {
  return withoutUndefined({
    partitionKey: record.customerSlug,
    rowKey: keyRowKey(record.id),
    id: record.id,
    customerId: record.customerId,
    label: record.label,
    application: record.application,
    type: record.type,
    environment: record.environment,
    displayPrefix: record.displayPrefix,
    secretHash: record.secretHash,
    status: record.status,
    createdAt: record.createdAt,
    createdBy: actorToText(record.createdBy),
    revokedAt: record.revokedAt,
    revokedBy: record.revokedBy ? actorToText(record.revokedBy) : undefined,
    lastUsedAt: record.lastUsedAt,
    ...(record.rateLimit ? rateLimitColumns(record.rateLimit) : {}),
    ...(record.exposures ? { exposures: JSON.stringify(record.exposures), exposureCount: record.exposureCount } : {}),
    ...(record.expiresAt || record.allowedIps ? accessColumns(record) : {}),
    rolledTo: record.rolledTo,
    rolledFrom: record.rolledFrom,
    revokedReason: record.revokedReason,
    expiryWarned: record.expiryWarned ? expiryWarnedColumn(record.expiryWarned) : undefined,
  });
}

function exposuresOf(row: KeyEntity): KeyExposure[] | undefined {
  if (row.exposures === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(row.exposures);
  } catch {
    // Reported below.
  }
  if (!Array.isArray(parsed) || !parsed.every((e) => e && typeof e === 'object' && typeof (e as KeyExposure).url === 'string'))
    throw new CorruptRowError(`the exposures of key ${row.id} are not a list of exposures`);
  return parsed as KeyExposure[];
}

export function toRecord(row: KeyEntity): ApiKeyRecord {
  const exposures = exposuresOf(row);
  return withoutUndefined({
    id: row.id,
    customerId: row.customerId,
    customerSlug: row.partitionKey,
    label: row.label,
    application: row.application,
    type: row.type as KeyType,
    environment: row.environment as KeyEnvironment,
    displayPrefix: row.displayPrefix,
    secretHash: row.secretHash,
    status: row.status as KeyStatus,
    createdAt: row.createdAt,
    createdBy: actorFromText(row.createdBy),
    revokedAt: row.revokedAt,
    revokedBy: row.revokedBy ? actorFromText(row.revokedBy) : undefined,
    lastUsedAt: row.lastUsedAt,
    rateLimit: rateLimitOf(row),
    exposures,
    exposureCount: exposures ? Math.max(exposures.length, typeof row.exposureCount === 'number' ? row.exposureCount : 0) : undefined,
    expiresAt: row.expiresAt || undefined,
    allowedIps: allowedIpsOf(row, `key ${row.id}`),
    rolledTo: row.rolledTo || undefined,
    rolledFrom: row.rolledFrom || undefined,
    revokedReason: row.revokedReason || undefined,
    expiryWarned: expiryWarnedOf(row),
  });
}

/** The lookup row of a key: written whole once, on issue (and on a roll, for the successor). */
export function lookupEntity(lookup: KeyLookupEntry & { masterComponent: MasterComponentState }): LookupEntity {
  return {
    partitionKey: lookupPartition(lookup.secretHash),
    rowKey: lookup.secretHash,
    customerId: lookup.customerId,
    customerSlug: lookup.customerSlug,
    plan: lookup.plan,
    keyId: lookup.keyId,
    keyLabel: lookup.keyLabel,
    application: lookup.application,
    environment: lookup.environment,
    keyType: lookup.keyType,
    status: lookup.status,
    ...masterComponentColumns(lookup.masterComponent),
    ...(lookup.rateLimit ? rateLimitColumns(lookup.rateLimit) : {}),
    ...accessColumns(lookup),
  };
}

/** An active lookup row as the door reads it (its row key already compared with `secretHash`). */
export function toLookupEntry(row: LookupEntity, secretHash: string): KeyLookupEntry {
  return {
    secretHash,
    status: 'active',
    customerId: row.customerId,
    customerSlug: row.customerSlug,
    plan: row.plan as Plan,
    keyId: row.keyId,
    keyLabel: row.keyLabel,
    application: row.application,
    environment: row.environment as KeyEnvironment,
    keyType: row.keyType as CredentialType,
    masterComponent: masterComponentOf(row),
    rateLimit: rateLimitOf(row),
    ...(row.expiresAt ? { expiresAt: row.expiresAt } : {}),
    ...(row.allowedIps ? { allowedIps: allowedIpsOf(row, `the lookup row of key ${row.keyId}`) } : {}),
  };
}

/** The columns of a lookup row that hold a copy of one part of its key's record (a Merge: the others stay). */
export const lookupColumnsOf = (record: ApiKeyRecord, part: LookupPart) =>
  part === 'access' ? accessColumns(record) : rateLimitColumns(record.rateLimit);

/** The columns of a lookup row that hold a copy of its customer's data. */
export const customerColumns = (data: { plan: Plan; masterComponent: MasterComponentState }) => ({
  plan: data.plan,
  ...masterComponentColumns(data.masterComponent),
});

/** The row that holds a label for the key `keyId` in the customer's partition. */
export type LabelEntity = { partitionKey: string; rowKey: string; keyId: string };
export const labelEntity = (customerSlug: string, label: string, keyId: string): LabelEntity => ({
  partitionKey: customerSlug,
  rowKey: labelRowKey(label),
  keyId,
});

/** The row that records one leak report for a key (see {@link exposureRowKey}). */
export const exposureEntity = (customerSlug: string, keyId: string, places: KeyExposure[]) => ({
  partitionKey: customerSlug,
  rowKey: exposureRowKey(keyId, places),
  keyId,
  at: places[0]?.reportedAt ?? '',
  places: places.length,
});

/** The columns that mark a key row revoked (a Merge). */
export const revokedColumns = (revokedAt: string, revokedBy: Actor, reason?: string) => ({
  status: 'revoked',
  revokedAt,
  revokedBy: actorToText(revokedBy),
  ...(reason ? { revokedReason: reason } : {}),
});
