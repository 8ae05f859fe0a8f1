import type { Clock } from '../clock';
import { SANDBOX_SLUG, type Customer } from '../domain';
import { ApiError } from '../errors';
import { newId } from '../ids';
import { generateComponent, isValidSlug } from '../keys/compound-key';
import type { CustomerPatch, CustomerRepository } from '../ports/customer-repository';
import type { SecretStore } from '../ports/secret-store';
import type { CreateCustomerInput } from '../schemas/keys';

/** Creating and reading customers. A customer is born with its master component. */
export class CustomerService {
  private sandboxReady = false;

  constructor(
    private readonly customers: CustomerRepository,
    private readonly secrets: SecretStore,
    private readonly clock: Clock,
  ) {}

  /** The built-in shared sandbox tenant that portal sandbox mode reads; created on first use. */
  async ensureSandbox(): Promise<void> {
    if (this.sandboxReady) return;
    if (!(await this.customers.get(SANDBOX_SLUG))) {
      await this.create({ slug: SANDBOX_SLUG, name: 'Shared sandbox', plan: 'starter' }).catch((error: unknown) => {
        if (!(error instanceof ApiError && error.code === 'customer_exists')) throw error;
      });
    }
    this.sandboxReady = true;
  }

  async get(slug: string): Promise<Customer | undefined> {
    return isValidSlug(slug) ? this.customers.get(slug) : undefined;
  }

  /** Every customer, by slug (a scan of profile rows: for staff screens and daily jobs). */
  async list(): Promise<Customer[]> {
    return (await this.customers.list()).sort((a, b) => a.slug.localeCompare(b.slug));
  }

  /** The customer, or a 404 `not_found`. */
  async require(slug: string): Promise<Customer> {
    const customer = await this.get(slug);
    if (!customer) throw new ApiError('not_found', 'No such customer.');
    return customer;
  }

  /** Applies a change computed from the current row, atomically; 404 when there is no such customer. */
  async update(slug: string, change: (current: Customer) => CustomerPatch | undefined) {
    const updated = isValidSlug(slug) ? await this.customers.update(slug, change) : undefined;
    if (!updated) throw new ApiError('not_found', 'No such customer.');
    return updated;
  }

  /** A new customer from input parsed at the edge (`createCustomerSchema`: the HTTP binding, the CLI). */
  async create({ slug, name, plan }: CreateCustomerInput): Promise<Customer> {
    if (await this.customers.get(slug)) {
      throw new ApiError('customer_exists', `A customer with the slug '${slug}' already exists.`);
    }
    // The component is stored first and the customer row names the version it uses, so a
    // lost race on the slug leaves an unused version behind, never a changed component.
    const component = await this.secrets.putComponent(slug, generateComponent());
    const now = this.clock.now();
    const customer: Customer = {
      id: newId('cus', now),
      slug,
      name,
      plan,
      componentVersion: component.version,
      createdAt: now.toISOString(),
      activeKeyCount: 0,
      keyLimitOverride: undefined,
      previousComponentVersion: undefined,
      graceEndsAt: undefined,
      componentRotatedAt: undefined,
      requireComponent: false,
      autoRevokeStaleKeys: false,
      leakedKeyPolicy: 'revoke',
      keyReview: undefined,
    };
    if ((await this.customers.create(customer)) === 'exists') {
      throw new ApiError('customer_exists', `A customer with the slug '${slug}' already exists.`);
    }
    return customer;
  }
}
