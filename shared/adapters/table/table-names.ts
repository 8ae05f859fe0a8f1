/** The tables the service owns (before the configured prefix). */
export const TABLE_NAMES = {
  /** Partition per customer: its profile row, its keys, label reservations, key requests, audit log. */
  customers: 'customers',
  /** Partitioned by the first four hex digits of a secret hash; one row per active key. */
  keyLookup: 'keylookup',
  /**
   * Partitioned like `keylookup`; one row per key ever handed out, keyed by the hash, never
   * deleted: what a leak report finds a key by, active or revoked.
   */
  keyHashes: 'keyhashes',
  /**
   * Partitions per customer (128, by a hash of the session id): session summaries, their id
   * index, span documents and pending per-batch counts. May live in accounts of its own.
   */
  sessions: 'sessions',
  /** One partition: a row per revoked key, read by every instance about once a second. */
  revocations: 'revocations',
  /** One partition: where each key request lives and its status, for staff. */
  keyRequestIndex: 'keyrequestindex',
  /** One partition: rotated-out master components by the end of their grace period. */
  tenantKeyGrace: 'tenantkeygrace',
  /** One partition: keys with an expiry, by when they expire (the expiry timer's index). */
  keyExpiry: 'keyexpiry',
  /** Partition per instance: its per-key demand, for sharing rate limits. */
  rateLimits: 'ratelimits',
  /** Partition per customer: requests per key per hour, one row per instance that counted them. */
  keyUsage: 'keyusage',
  /** One partition: a row per customer with webhook endpoints (what the delivery sweeper reads instead of every customer). */
  webhookCustomers: 'webhookcustomers',
  /**
   * Partition per endpoint (`{slug}~{endpoint id}`): its deliveries, newest event first; and per
   * customer (`{slug}`): the webhook dispatcher's checkpoint.
   */
  webhookDeliveries: 'webhookdeliveries',
} as const;

export type TableName = keyof typeof TABLE_NAMES;
