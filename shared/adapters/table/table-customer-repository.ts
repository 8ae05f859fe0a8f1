import { odata } from '@azure/data-tables';
import { LEAKED_KEY_POLICIES, type Customer, type LeakedKeyPolicy, type Plan } from '../../domain';
import { applyPatch, type CustomerPatch, type CustomerRepository } from '../../ports/customer-repository';
import { absentIfNotFound, statusOf } from '../azure-errors';
import { done, withEtagRetry } from './etag-retry';
import { CorruptRowError, withoutUndefined } from './rows';
import { keyHashMarkerEntity } from './table-key-hash-index';
import type { TableStorage } from './table-storage';

/** Row key of a customer's profile row inside its partition (the customer's slug). */
export const PROFILE_ROW = 'customer';

export type CustomerEntity = {
  partitionKey: string;
  rowKey: string;
  id: string;
  name: string;
  plan: string;
  componentVersion: string;
  createdAt: string;
  activeKeyCount: number;
  keyLimitOverride?: number;
  previousComponentVersion?: string;
  graceEndsAt?: string;
  componentRotatedAt?: string;
  requireComponent?: boolean;
  autoRevokeStaleKeys?: boolean;
  /** Absent on rows written before the policy existed: the default, `revoke`. */
  leakedKeyPolicy?: string;
  /** The daily key review's last counts (absent before its first run). */
  reviewedAt?: string;
  staleKeys?: number;
  rotationDueKeys?: number;
};

export function toCustomer(row: CustomerEntity): Customer {
  return {
    id: row.id,
    slug: row.partitionKey,
    name: row.name,
    plan: row.plan as Plan,
    componentVersion: row.componentVersion,
    createdAt: row.createdAt,
    activeKeyCount: activeKeyCountOf(row),
    keyLimitOverride: typeof row.keyLimitOverride === 'number' ? row.keyLimitOverride : undefined,
    previousComponentVersion: row.previousComponentVersion || undefined,
    graceEndsAt: row.graceEndsAt || undefined,
    componentRotatedAt: row.componentRotatedAt || undefined,
    requireComponent: row.requireComponent === true,
    autoRevokeStaleKeys: row.autoRevokeStaleKeys === true,
    leakedKeyPolicy: leakedKeyPolicyOf(row.leakedKeyPolicy),
    keyReview: row.reviewedAt ? { at: row.reviewedAt, stale: row.staleKeys ?? 0, rotationDue: row.rotationDueKeys ?? 0 } : undefined,
  };
}

/** Anything but a known policy reads as the default, which revokes (failing towards safety). */
const leakedKeyPolicyOf = (value: string | undefined): LeakedKeyPolicy =>
  (LEAKED_KEY_POLICIES as readonly string[]).includes(value ?? '') ? (value as LeakedKeyPolicy) : 'revoke';

/** The count the key adapter keeps in step with the key rows; a profile row is never written without it. */
export function activeKeyCountOf(row: CustomerEntity): number {
  if (typeof row.activeKeyCount !== 'number')
    throw new CorruptRowError(`the profile row of customer ${row.partitionKey} has no activeKeyCount`);
  return row.activeKeyCount;
}

export function customerEntity(customer: Customer): CustomerEntity {
  return withoutUndefined({
    partitionKey: customer.slug,
    rowKey: PROFILE_ROW,
    id: customer.id,
    name: customer.name,
    plan: customer.plan,
    componentVersion: customer.componentVersion,
    createdAt: customer.createdAt,
    activeKeyCount: customer.activeKeyCount,
    keyLimitOverride: customer.keyLimitOverride,
    previousComponentVersion: customer.previousComponentVersion,
    graceEndsAt: customer.graceEndsAt,
    componentRotatedAt: customer.componentRotatedAt,
    requireComponent: customer.requireComponent,
    autoRevokeStaleKeys: customer.autoRevokeStaleKeys,
    leakedKeyPolicy: customer.leakedKeyPolicy,
    reviewedAt: customer.keyReview?.at,
    staleKeys: customer.keyReview?.stale,
    rotationDueKeys: customer.keyReview?.rotationDue,
  });
}

export class TableCustomerRepository implements CustomerRepository {
  constructor(private readonly storage: TableStorage) {}

  private get table() {
    return this.storage.clients.customers;
  }

  async create(customer: Customer): Promise<'created' | 'exists'> {
    await this.storage.step('customers.create');
    try {
      // Born with no keys, so with all of them in the key-hash index (its marker).
      await this.storage.call((o) =>
        this.table.submitTransaction(
          [
            ['create', customerEntity(customer)],
            ['create', keyHashMarkerEntity(customer.slug)],
          ],
          o,
        ),
      );
      return 'created';
    } catch (error) {
      if (statusOf(error) === 409) return 'exists';
      throw error;
    }
  }

  async get(slug: string): Promise<Customer | undefined> {
    const row = await this.getRow(slug);
    return row ? toCustomer(row) : undefined;
  }

  async list(): Promise<Customer[]> {
    return this.storage.call(async (o) => {
      const out: Customer[] = [];
      for await (const row of this.table.listEntities<CustomerEntity>({
        queryOptions: { filter: odata`RowKey eq ${PROFILE_ROW}` },
        abortSignal: o.abortSignal,
      })) {
        out.push(toCustomer(row));
      }
      return out;
    });
  }

  async update(slug: string, change: (current: Customer) => CustomerPatch | undefined) {
    await this.storage.step('customers.update');
    type Updated = { before: Customer; after: Customer; changed: boolean } | undefined;
    return withEtagRetry<Updated>(
      'customer update: the customer row',
      async () => {
        const row = await this.getRow(slug);
        if (!row) return done(undefined);
        const before = toCustomer(row);
        const patch = change(before);
        if (!patch) return done({ before, after: before, changed: false });
        const after = applyPatch(before, patch);
        return {
          // Replace, not merge, so that clearing a value removes the property. The count of active
          // keys is carried over as read: the ETag guarantees nobody changed it meanwhile.
          write: () => this.storage.call((o) => this.table.updateEntity(customerEntity(after), 'Replace', { ...o, etag: row.etag })),
          written: () => ({ before, after, changed: true }),
        };
      },
      20,
    );
  }

  private getRow(slug: string): Promise<(CustomerEntity & { etag: string }) | undefined> {
    return absentIfNotFound(this.storage.call((o) => this.table.getEntity<CustomerEntity>(slug, PROFILE_ROW, o)));
  }
}
