import type { Customer, Plan } from '../../domain';
import type { CustomerRepository } from '../../ports/customer-repository';
import { statusOf, type TableStorage } from './table-storage';

/** Row key of a customer's profile row inside its partition (the customer's slug). */
export const PROFILE_ROW = 'customer';

interface CustomerEntity {
  partitionKey: string;
  rowKey: string;
  id: string;
  name: string;
  plan: string;
  componentVersion: string;
  createdAt: string;
}

export class TableCustomerRepository implements CustomerRepository {
  constructor(private readonly storage: TableStorage) {}

  async create(customer: Customer): Promise<'created' | 'exists'> {
    const entity: CustomerEntity = {
      partitionKey: customer.slug,
      rowKey: PROFILE_ROW,
      id: customer.id,
      name: customer.name,
      plan: customer.plan,
      componentVersion: customer.componentVersion,
      createdAt: customer.createdAt,
    };
    try {
      await this.storage.call((o) => this.storage.clients.customers.createEntity(entity, o));
      return 'created';
    } catch (error) {
      if (statusOf(error) === 409) return 'exists';
      throw error;
    }
  }

  async get(slug: string): Promise<Customer | undefined> {
    try {
      const row = await this.storage.call((o) =>
        this.storage.clients.customers.getEntity<CustomerEntity>(slug, PROFILE_ROW, o),
      );
      return {
        id: row.id,
        slug,
        name: row.name,
        plan: row.plan as Plan,
        componentVersion: row.componentVersion,
        createdAt: row.createdAt,
      };
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  }
}
