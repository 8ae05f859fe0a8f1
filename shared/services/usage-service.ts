import type { Clock } from '../clock';
import type { ApiKeyView, CustomerUsage, KeyUsage, TrustPolicyUsage, UsageBucket, UsageCounts } from '../domain';
import { ApiError } from '../errors';
import { isId } from '../ids';
import type { UsageRow, UsageStore } from '../ports/usage-store';
import type { KeyService } from './key-service';
import type { TrustPolicyService } from './trust-policy-service';
import { hourOf } from './usage-recorder';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** Usage is kept at least 35 days; queries may reach that far back. */
export const USAGE_QUERY_MAX_DAYS = 40;

const dayOf = (iso: string): string => `${iso.slice(0, 10)}T00:00:00.000Z`;

/** Every bucket start in [from, to), so charts get zeros rather than gaps. */
function bucketStarts(from: Date, to: Date, granularity: 'hour' | 'day'): string[] {
  const step = granularity === 'hour' ? HOUR : DAY;
  const first = new Date(granularity === 'hour' ? hourOf(from) : dayOf(from.toISOString())).getTime();
  const out: string[] = [];
  for (let t = first; t < to.getTime(); t += step) out.push(new Date(t).toISOString());
  return out;
}

function aggregate(rows: UsageRow[], starts: string[], granularity: 'hour' | 'day'): UsageBucket[] {
  const byStart = new Map(starts.map((s) => [s, { start: s, accepted: 0, rateLimited: 0, ipRefused: 0 }]));
  for (const row of rows) {
    const bucket = byStart.get(granularity === 'hour' ? row.hour : dayOf(row.hour));
    if (!bucket) continue;
    bucket.accepted += row.accepted;
    bucket.rateLimited += row.rateLimited;
    bucket.ipRefused += row.ipRefused;
  }
  return [...byStart.values()];
}

const totalsOf = (buckets: UsageBucket[]): UsageCounts => ({
  accepted: buckets.reduce((a, b) => a + b.accepted, 0),
  rateLimited: buckets.reduce((a, b) => a + b.rateLimited, 0),
  ipRefused: buckets.reduce((a, b) => a + b.ipRefused, 0),
});

/** What an UsageService is built from. */
export interface UsageServiceDeps {
  usage: UsageStore;
  keys: KeyService;
  /** Trust policies: usage counts per policy (a federated token counts under its policy's id). */
  policies: Pick<TrustPolicyService, 'get' | 'list'>;
  clock: Clock;
  staleAfterMs: number;
  retentionMs: number;
}

/** Per-key (and per trust policy) usage for the portal: which integration spends what. */
export class UsageService {
  private readonly usage: UsageStore;
  private readonly keys: KeyService;
  private readonly policies: Pick<TrustPolicyService, 'get' | 'list'>;
  private readonly clock: Clock;
  private readonly staleAfterMs: number;
  private readonly retentionMs: number;

  constructor(deps: UsageServiceDeps) {
    this.usage = deps.usage;
    this.keys = deps.keys;
    this.policies = deps.policies;
    this.clock = deps.clock;
    this.staleAfterMs = deps.staleAfterMs;
    this.retentionMs = deps.retentionMs;
  }

  /** Deletes hourly usage older than the retention (the daily usage-retention timer). */
  pruneExpired(): Promise<number> {
    return this.usage.prune(new Date(this.clock.millis() - this.retentionMs).toISOString());
  }

  /** A key (or trust policy) unused for the stale period, or never used and created that long ago. */
  isStale(key: Pick<ApiKeyView, 'lastUsedAt' | 'createdAt'>): boolean {
    const since = new Date(key.lastUsedAt ?? key.createdAt).getTime();
    // lastUsedAt is the start of an hour: the key was used until up to an hour later.
    const lastActivity = key.lastUsedAt ? since + HOUR : since;
    return this.clock.millis() - lastActivity >= this.staleAfterMs;
  }

  async keyUsage(
    customerSlug: string,
    keyId: string,
    query: { from?: string; to?: string; granularity: 'hour' | 'day' },
  ): Promise<KeyUsage> {
    const key = isId('key', keyId) ? (await this.keys.list(customerSlug)).find((k) => k.id === keyId) : undefined;
    if (!key) throw new ApiError('not_found', 'This customer has no such key.');
    return { key, ...(await this.series(customerSlug, keyId, query)) };
  }

  /**
   * One active trust policy's requests (every token minted under it, together), with the query and
   * the answer of {@link keyUsage}. Another customer's policy, a deleted one or none is 404.
   */
  async trustPolicyUsage(
    customerSlug: string,
    trustPolicyId: string,
    query: { from?: string; to?: string; granularity: 'hour' | 'day' },
  ): Promise<TrustPolicyUsage> {
    const policy = await this.policies.get(customerSlug, trustPolicyId);
    return { policy, ...(await this.series(customerSlug, policy.id, query)) };
  }

  /** The usage rows of one key or policy (by its id) over the query's window, in buckets. */
  private async series(
    customerSlug: string,
    id: string,
    query: { from?: string; to?: string; granularity: 'hour' | 'day' },
  ): Promise<Omit<KeyUsage, 'key'>> {
    const { from, to } = this.window(query.from, query.to);
    const rows = await this.usage.read(customerSlug, hourOf(from), hourOf(new Date(to.getTime() + HOUR - 1)), id);
    const buckets = aggregate(rows, bucketStarts(from, to, query.granularity), query.granularity);
    return {
      granularity: query.granularity,
      from: from.toISOString(),
      to: to.toISOString(),
      totals: totalsOf(buckets),
      buckets,
    };
  }

  /**
   * Every key of the customer over the last 30 days, with a daily series, then every active trust
   * policy the same way (its tokens together): one storage query for the usage.
   */
  async customerUsage(customerSlug: string): Promise<CustomerUsage> {
    const [keys, policies] = await Promise.all([this.keys.list(customerSlug), this.policies.list(customerSlug)]);
    const to = this.clock.now();
    const from = new Date(new Date(dayOf(to.toISOString())).getTime() - 29 * DAY);
    const rows = await this.usage.read(customerSlug, from.toISOString(), hourOf(new Date(to.getTime() + HOUR)));
    const starts = bucketStarts(from, to, 'day');
    const dailyOf = (id: string): UsageBucket[] =>
      aggregate(
        rows.filter((r) => r.keyId === id),
        starts,
        'day',
      );
    return {
      from: from.toISOString(),
      to: to.toISOString(),
      keys: [
        ...keys.map((key) => {
          const daily = dailyOf(key.id);
          return { key, stale: key.status === 'active' && this.isStale(key), totals: totalsOf(daily), daily };
        }),
        ...policies.map((policy) => {
          const daily = dailyOf(policy.id);
          return { policy, stale: this.isStale(policy), totals: totalsOf(daily), daily };
        }),
      ],
    };
  }

  private window(fromText: string | undefined, toText: string | undefined): { from: Date; to: Date } {
    const to = toText ? new Date(toText) : this.clock.now();
    const from = fromText ? new Date(fromText) : new Date(to.getTime() - 30 * DAY);
    if (!(from.getTime() < to.getTime())) throw new ApiError('validation_failed', '`from` must be before `to`.');
    if (to.getTime() - from.getTime() > USAGE_QUERY_MAX_DAYS * DAY) {
      throw new ApiError('validation_failed', `Ask for at most ${USAGE_QUERY_MAX_DAYS} days at a time.`);
    }
    return { from, to };
  }
}
