import { hash, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../clock';
import type { Actor, ApiKeyRecord, KeyExposure, LeakedKeyPolicy } from '../domain';
import { ApiError } from '../errors';
import { hashSecret, isValidSlug, parsePresentedKey } from '../keys/compound-key';
import type { Logger } from '../logging';
import type { KeyRepository } from '../ports/key-repository';
import type { GitHubMatch } from '../schemas/secret-scanning';
import type { AuditTrail } from './audit-trail';
import type { CustomerService } from './customer-service';
import type { KeyService, Operation } from './key-service';

/** Largest report body read (GitHub batches matches; a handful is usual). */
export const MAX_REPORT_BYTES = 1024 * 1024;
/** Most matches handled in one report. */
export const MAX_REPORT_MATCHES = 1000;
/** Keys handled at once within one report (each is a few storage calls). */
const KEYS_AT_ONCE = 8;
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
   * Handles one report: every token that is a key of ours (its checksum holds and we find its
   * hash) is revoked at once or flagged, by its customer's policy, and the place is recorded
   * once per key (a report delivered twice records nothing new). Tokens that are not ours change
   * nothing and cost no storage call unless their checksum holds. Returns GitHub's feedback,
   * one entry per match, in the report's order.
   */
  async handleGitHubReport(matches: GitHubMatch[], requestId: string): Promise<MatchFeedback[]> {
    if (matches.length > MAX_REPORT_MATCHES) {
      throw new ApiError('too_many_matches', `A report may hold at most ${MAX_REPORT_MATCHES} matches; this one holds ${matches.length}.`);
    }
    const op: Operation = { actor: GITHUB_SCANNING_ACTOR, requestId };
    const byToken = new Map<string, GitHubMatch[]>();
    for (const match of matches) byToken.set(match.token, [...(byToken.get(match.token) ?? []), match]);
    const ours = new Set<string>();
    await forEachAtMost(KEYS_AT_ONCE, [...byToken], async ([token, places]) => {
      if (await this.handleToken(token, places, op)) ours.add(token);
    });
    return matches.map((match) => ({
      token_hash: hash('sha256', match.token, 'hex'),
      token_type: match.type,
      label: ours.has(match.token) ? 'true_positive' : 'false_positive',
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

  /** One token of a report and the places it was found in; true when it is a key of ours. */
  private async handleToken(token: string, places: GitHubMatch[], op: Operation): Promise<boolean> {
    const parsed = parsePresentedKey(token, true);
    if (!parsed.ok) return false;
    const secretHash = hashSecret(parsed.value.secret);
    const record = await this.findRecord(secretHash, parsed.value.form === 'compound' ? parsed.value.slug : undefined);
    if (!record) return false;
    const customer = await this.deps.customers.get(record.customerSlug);
    const policy: LeakedKeyPolicy = customer?.leakedKeyPolicy ?? 'revoke';
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
    for (const match of places) {
      const exposure: KeyExposure = { reporter: 'github', ...placeOf(match), reportedAt: this.deps.clock.now().toISOString() };
      const result = await this.deps.keys.recordExposure(
        record.customerSlug,
        record.id,
        exposure,
        this.deps.audit.event({
          customerSlug: record.customerSlug,
          type: 'key.exposed',
          op,
          keyId: record.id,
          details: {
            label: record.label,
            url: exposure.url || null,
            source: exposure.source,
            tokenType: match.type.slice(0, 100),
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
          source: exposure.source,
          url: exposure.url,
          action,
        });
      }
    }
    return true;
  }

  /**
   * The key whose secret has this hash, active or revoked: an active key by its lookup row (one
   * point read); otherwise among the keys of the customer the token names (one partition query).
   */
  private async findRecord(secretHash: string, slug: string | undefined): Promise<ApiKeyRecord | undefined> {
    const lookup = await this.deps.keys.findByHash(secretHash);
    const candidates = lookup
      ? [await this.deps.keys.get(lookup.customerSlug, lookup.keyId)]
      : slug && isValidSlug(slug)
        ? await this.deps.keys.list(slug)
        : [];
    return candidates.find((r) => r !== undefined && sameText(r.secretHash, secretHash));
  }
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
