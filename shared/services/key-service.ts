import type { Clock } from '../clock';
import { toKeyView, type ApiKeyRecord, type ApiKeyView } from '../domain';
import { ApiError } from '../errors';
import { isId, newId } from '../ids';
import {
  displayForm,
  formatCompoundKey,
  generateSecret,
  hashSecret,
} from '../keys/compound-key';
import type { Logger } from '../logging';
import type { KeyRepository } from '../ports/key-repository';
import type { SecretStore } from '../ports/secret-store';
import { issueKeySchema } from '../schemas/keys';
import { parseInput } from '../validation';
import type { CustomerService } from './customer-service';
import type { KeyAuthenticator } from './key-authenticator';

/** The result of issuing a key: the full key (this is the only time it exists) and its metadata. */
export interface IssuedKey {
  key: string;
  metadata: ApiKeyView;
}

/** Issuing, listing and revoking a customer's keys. */
export class KeyService {
  constructor(
    private readonly keys: KeyRepository,
    private readonly customers: CustomerService,
    private readonly secrets: SecretStore,
    private readonly authenticator: KeyAuthenticator,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  async issue(customerSlug: string, input: unknown, createdBy: string): Promise<IssuedKey> {
    const request = parseInput(issueKeySchema, input);
    const customer = await this.customers.require(customerSlug);
    const component = await this.secrets.getComponent(customer.slug, customer.componentVersion);
    if (!component) {
      throw new Error(`customer ${customer.slug} has no master component version ${customer.componentVersion}`);
    }
    const secret = generateSecret();
    const secretHash = hashSecret(secret);
    const now = this.clock.now();
    const record: ApiKeyRecord = {
      id: newId('key', now),
      customerId: customer.id,
      customerSlug: customer.slug,
      label: request.label,
      application: request.application,
      type: request.type,
      environment: request.environment,
      displayPrefix: displayForm(customer.slug, secret),
      secretHash,
      status: 'active',
      createdAt: now.toISOString(),
      createdBy,
    };
    await this.keys.insert(record, {
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
    });
    this.log.info('key issued', { customer: customer.slug, keyId: record.id, display: record.displayPrefix });
    return {
      key: formatCompoundKey({ slug: customer.slug, component: component.value, secret }),
      metadata: toKeyView(record),
    };
  }

  async list(customerSlug: string): Promise<ApiKeyView[]> {
    const customer = await this.customers.require(customerSlug);
    return (await this.keys.list(customer.slug)).map(toKeyView);
  }

  /** Revokes a key at once and for good; revoking a revoked key changes nothing. */
  async revoke(customerSlug: string, keyId: string, revokedBy: string): Promise<ApiKeyView> {
    const customer = await this.customers.require(customerSlug);
    const notFound = new ApiError('not_found', `No key '${keyId}' for this customer.`);
    if (!isId('key', keyId)) throw notFound;
    const revoked = await this.keys.revoke(customer.slug, keyId, revokedBy, this.clock.now().toISOString());
    if (!revoked) throw notFound;
    this.authenticator.evict(revoked.secretHash);
    this.log.info('key revoked', { customer: customer.slug, keyId, display: revoked.displayPrefix });
    return toKeyView(revoked);
  }
}
