import { hash, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../clock';
import type { Actor, ApiKeyRecord, KeyExposure, LeakedKeyPolicy, Operation } from '../domain';
import { ApiError } from '../errors';
import { hashSecret, isValidSlug, parsePresentedKey } from '../keys/compound-key';
import type { Logger } from '../logging';
import type { KeyRepository } from '../ports/key-repository';
import type { GitHubMatch } from '../schemas/secret-scanning';
import { keyFacts, type AuditTrail } from '../services/audit-trail';
import type { CustomerService } from '../services/customer-service';
import type { KeyService } from '../services/key-service';

/** Largest report body read (GitHub batches matches; a handful is usual). */
export const MAX_REPORT_BYTES = 1024 * 1024;
/** Most matches handled in one report. */
export const MAX_REPORT_MATCHES = 1000;
/** Keys looked up at once within one report (a point read or two each). */
const KEYS_AT_ONCE = 8;
/** Customers whose keys are revoked and recorded at once within one report (each key is a few storage calls). */
const CUSTOMERS_AT_ONCE = 8;
/** Places a `key.exposed` event lists (it counts them all): a bounded event, whatever the report. */
export const MAX_AUDITED_PLACES = 10;
const MAX_URL_LENGTH = 2048;

/** Who revokes and records on GitHub's behalf (the audit log's actor). */
export const GITHUB_SCANNING_ACTOR: Actor = { type: 'system', id: 'github-secret-scanning', name: 'GitHub secret scanning' };

/** GitHub's feedback format: whether each reported token was one of ours. */
export interface MatchFeedback {
  /** SHA-256 of the reported token, hex (the token itself is never sent back). */
  token_hash: string;
  token_type: string;
  label: 'true_positive' | 'false_positive';
}

/** What was done to a key of ours that a report named. */
export type ExposureAction = 'revoked' | 'flagged' | 'already_revoked';

/**
 * Keys found in public: GitHub's secret-scanning reports (already authenticated by the door)
 * revoke or flag our keys by each customer's leaked-key policy, and record where they were
 * found; and the policy itself, which a customer's admins choose.
 */
export class LeakedKeyService {
  constructor(
    private readonly deps: {
      keys: KeyRepository;
      keyService: KeyService;
      customers: CustomerService;
      audit: AuditTrail;
      clock: Clock;
      log: Logger;
    },
  ) {}

  /**
   * Handles one report: every key of ours it names (a token whose checksum holds and whose hash
   * we find) is revoked at once or flagged, by its customer's policy, and the places it was found
   * in are recorded once per key and report (a report delivered twice records nothing new).
   * Tokens that are not ours change nothing and cost no storage call unless their checksum holds.
   * What it costs grows with the distinct keys named, not with the matches: see
   * {@link LeakedKeyService.findKeys}. Returns GitHub's feedback, one entry per match, in the
   * report's order.
   */
  async handleGitHubReport(matches: GitHubMatch[], requestId: string): Promise<MatchFeedback[]> {
    if (matches.length > MAX_REPORT_MATCHES) {
      throw new ApiError('too_many_matches', `A report may hold at most ${MAX_REPORT_MATCHES} matches; this one holds ${matches.length}.`);
    }
    const op: Operation = { actor: GITHUB_SCANNING_ACTOR, requestId };
    // The distinct keys named: tokens whose checksum holds, by the hash of their secret.
    const parsed = new Map<string, ReturnType<typeof namedBy>>();
    const hashes = matches.map((match) => {
      if (!parsed.has(match.token)) parsed.set(match.token, namedBy(match.token));
      return parsed.get(match.token)?.secretHash;
    });
    const named = new Map<string, NamedKey>();
    for (const match of matches) {
      const token = parsed.get(match.token);
      if (!token) continue;
      const key = named.get(token.secretHash) ?? { secretHash: token.secretHash, slugs: new Set<string>(), bare: false, matches: [] };
      if (token.slug !== undefined) key.slugs.add(token.slug);
      key.bare ||= token.bare;
      key.matches.push(match);
      named.set(token.secretHash, key);
    }
    const found = await this.findKeys([...named.values()]);
    const byCustomer = new Map<string, ApiKeyRecord[]>();
    for (const record of found.values()) {
      if (!byCustomer.has(record.customerSlug)) byCustomer.set(record.customerSlug, []);
      byCustomer.get(record.customerSlug)!.push(record);
    }
    // Customers side by side, each read once for its policy; one customer's keys one after
    // another, so that their revocations do not race on the customer's row (each would retry,
    // and cost more, under that contention).
    await forEachAtMost(CUSTOMERS_AT_ONCE, [...byCustomer], async ([slug, records]) => {
      const policy: LeakedKeyPolicy = (await this.deps.customers.get(slug))?.leakedKeyPolicy ?? 'revoke';
      for (const record of records) await this.handleKey(record, named.get(record.secretHash)!.matches, policy, op);
    });
    return matches.map((match, i) => ({
      token_hash: hash('sha256', match.token, 'hex'),
      token_type: match.type,
      label: hashes[i] !== undefined && found.has(hashes[i]) ? 'true_positive' : 'false_positive',
    }));
  }

  /** The customer's leaked-key policy. */
  async policyOf(customerSlug: string): Promise<LeakedKeyPolicy> {
    return (await this.deps.customers.require(customerSlug)).leakedKeyPolicy;
  }

  /** Sets the customer's leaked-key policy (a portal admin's choice; a management key may not weaken it). */
  async setPolicy(customerSlug: string, policy: LeakedKeyPolicy, op: Operation): Promise<LeakedKeyPolicy> {
    if (op.actor.type === 'key') {
      // A leaked management key must not be able to keep itself and its siblings working.
      throw new ApiError('forbidden', 'Only a portal admin can change what happens to leaked keys.');
    }
    const { before, after, changed } = await this.deps.customers.update(customerSlug, (current) =>
      current.leakedKeyPolicy === policy ? undefined : { leakedKeyPolicy: policy },
    );
    if (changed) {
      await this.deps.audit.record({
        customerSlug: after.slug,
        type: 'customer.leaked-key-policy-changed',
        op,
        details: { before: before.leakedKeyPolicy, after: after.leakedKeyPolicy },
      });
    }
    return after.leakedKeyPolicy;
  }

  /**
   * One key of ours a report names, with its matches: revoked first (by its customer's policy),
   * then its places recorded with one `key.exposed` event that lists the first of them and counts
   * them all.
   */
  private async handleKey(record: ApiKeyRecord, matches: GitHubMatch[], policy: LeakedKeyPolicy, op: Operation): Promise<void> {
    let action: ExposureAction = 'already_revoked';
    if (record.status === 'active') {
      // Revoked first: from here every instance refuses the key within a feed poll.
      if (policy === 'revoke') {
        await this.deps.keyService.revoke(record.customerSlug, record.id, op, { force: true, reason: 'exposed' });
        action = 'revoked';
      } else {
        action = 'flagged';
      }
    }
    const reportedAt = this.deps.clock.now().toISOString();
    // The distinct places, in the report's order.
    const distinct = new Map<string, KeyExposure>();
    for (const match of matches) {
      const place: KeyExposure = { reporter: 'github', ...placeOf(match), reportedAt };
      const id = JSON.stringify([place.source, place.url]);
      if (!distinct.has(id)) distinct.set(id, place);
    }
    const places = [...distinct.values()];
    const first = places[0]!;
    const result = await this.deps.keys.recordExposures(
      record.customerSlug,
      record.id,
      places,
      this.deps.audit.event({
        customerSlug: record.customerSlug,
        type: 'key.exposed',
        op,
        keyId: record.id,
        details: {
          ...keyFacts(record),
          url: first.url || null,
          source: first.source,
          places: places.slice(0, MAX_AUDITED_PLACES).map((p) => ({ url: p.url || null, source: p.source })),
          placeCount: places.length,
          tokenType: matches[0]!.type.slice(0, 100),
          policy,
          action,
        },
      }),
    );
    if (result.outcome === 'recorded') {
      this.deps.log.warn('key exposed in public', {
        customer: record.customerSlug,
        keyId: record.id,
        display: record.displayPrefix,
        source: first.source,
        url: first.url,
        places: places.length,
        action,
      });
    }
  }

  /**
   * The keys of ours among those a report names, by secret hash. Each is looked up in the
   * key-hash index (one point read, whether the key is active or revoked), then its record read.
   * A key issued before the index existed is found among its customer's keys: read once per
   * report, and only while that customer is not yet indexed (the read indexes it, so it happens
   * once). A bare secret (not the form GitHub matches) the index lacks is looked up as an active
   * key. So a token that matches nothing costs one point read, and the customer it names one more
   * per report (its marker), and one read of its keys only while it is not yet indexed.
   */
  private async findKeys(named: NamedKey[]): Promise<Map<string, ApiKeyRecord>> {
    const found = new Map<string, ApiKeyRecord>();
    const missed: NamedKey[] = [];
    await forEachAtMost(KEYS_AT_ONCE, named, async (key) => {
      const indexed = await this.deps.keys.findIndexed(key.secretHash);
      const record = indexed ? await this.deps.keys.get(indexed.customerSlug, indexed.keyId) : undefined;
      if (record && sameText(record.secretHash, key.secretHash)) found.set(key.secretHash, record);
      else missed.push(key);
    });
    const bySlug = new Map<string, NamedKey[]>();
    for (const key of missed) {
      for (const slug of key.slugs) {
        if (!bySlug.has(slug)) bySlug.set(slug, []);
        bySlug.get(slug)!.push(key);
      }
    }
    await forEachAtMost(KEYS_AT_ONCE, [...bySlug], async ([slug, keys]) => {
      if (await this.deps.keys.isIndexed(slug)) return;
      const all = await this.deps.keys.list(slug);
      const byHash = new Map(all.map((r) => [r.secretHash, r]));
      for (const key of keys) {
        const record = byHash.get(key.secretHash);
        if (record && sameText(record.secretHash, key.secretHash)) found.set(key.secretHash, record);
      }
      // No keys: nothing to index (and no marker written for a customer that may not exist).
      if (all.length > 0) await this.deps.keys.indexCustomer(slug, all);
    });
    const bare = missed.filter((key) => key.bare && !found.has(key.secretHash));
    await forEachAtMost(KEYS_AT_ONCE, bare, async (key) => {
      const lookup = await this.deps.keys.findByHash(key.secretHash);
      const record = lookup ? await this.deps.keys.get(lookup.customerSlug, lookup.keyId) : undefined;
      if (record && sameText(record.secretHash, key.secretHash)) found.set(key.secretHash, record);
    });
    return found;
  }
}

/** A key a report names: its secret's hash, the slugs its tokens carry, and every match that names it. */
interface NamedKey {
  secretHash: string;
  slugs: Set<string>;
  /** Named by a bare secret too (no slug to find its customer by). */
  bare: boolean;
  matches: GitHubMatch[];
}

/**
 * The hash of a token's secret, and the slug it carries (a whole key) or that it is a bare
 * secret, when its checksum holds; `undefined` otherwise (no storage call for it).
 */
function namedBy(token: string): { secretHash: string; slug: string | undefined; bare: boolean } | undefined {
  const parsed = parsePresentedKey(token, true);
  if (!parsed.ok) return undefined;
  const { value } = parsed;
  return {
    secretHash: hashSecret(value.secret),
    slug: value.form === 'compound' && isValidSlug(value.slug) ? value.slug : undefined,
    bare: value.form === 'secret',
  };
}

/** Where a match was found, in the forms we keep: an http(s) address or '', a lower-case source word. */
function placeOf(match: GitHubMatch): Pick<KeyExposure, 'url' | 'source'> {
  let url = '';
  try {
    const parsed = new URL(match.url);
    if ((parsed.protocol === 'https:' || parsed.protocol === 'http:') && parsed.href.length <= MAX_URL_LENGTH) url = parsed.href;
  } catch {
    // Not an address: kept as none (the audit event says so).
  }
  const source = match.source.trim().toLowerCase();
  return { url, source: /^[a-z][a-z_]{0,39}$/.test(source) ? source : 'unknown' };
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Runs `work` over `items`, at most `limit` at a time; the first failure fails the whole. */
async function forEachAtMost<T>(limit: number, items: T[], work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
