import type { SecretClient } from '@azure/keyvault-secrets';
import { checkSecretName, type ComponentVersion, type SecretStore, type SecretVersion } from '../../ports/secret-store';
import { absentIfNotFound, toDependencyError } from '../azure-errors';

/** One secret per customer; its versions are the customer's components. */
export const componentSecretName = (customerSlug: string): string => `customer-${customerSlug}-component`;
/** A service secret's name in the vault: `service-` keeps it apart from every customer's (`customer-…`). */
export const serviceSecretName = (name: string): string => `service-${name}`;

/**
 * Master components in Azure Key Vault, through `@azure/keyvault-secrets`. The vault's
 * `expires`/`nbf` attributes are not used: grace periods are enforced by our code, and a
 * retired version is disabled. Callers cache values (see ComponentCache): this adapter is
 * never on the per-request path.
 */
export class KeyVaultSecretStore implements SecretStore {
  constructor(
    private readonly client: SecretClient,
    private readonly timeoutMs = 5000,
  ) {}

  async putComponent(customerSlug: string, value: string): Promise<ComponentVersion> {
    const secret = await this.call(() =>
      this.client.setSecret(componentSecretName(customerSlug), value, {
        contentType: 'text/plain',
        tags: { customer: customerSlug, purpose: 'master-component' },
        abortSignal: AbortSignal.timeout(this.timeoutMs),
      }),
    );
    if (!secret.properties.version || secret.value === undefined) throw new Error('Key Vault returned a secret without a version');
    return { version: secret.properties.version, value: secret.value };
  }

  /** A missing or disabled version reads as `undefined`. */
  async getComponent(customerSlug: string, version?: string): Promise<ComponentVersion | undefined> {
    const secret = await absentIfNotFound(
      this.call(() =>
        this.client.getSecret(componentSecretName(customerSlug), {
          ...(version ? { version } : {}),
          abortSignal: AbortSignal.timeout(this.timeoutMs),
        }),
      ),
    );
    if (!secret?.value || !secret.properties.version) return undefined;
    return { version: secret.properties.version, value: secret.value };
  }

  /** A version that is gone has nothing left to disable. */
  async disableComponent(customerSlug: string, version: string): Promise<void> {
    await absentIfNotFound(
      this.call(() =>
        this.client.updateSecretProperties(componentSecretName(customerSlug), version, {
          enabled: false,
          abortSignal: AbortSignal.timeout(this.timeoutMs),
        }),
      ),
    );
  }

  async putSecret(name: string, value: string): Promise<SecretVersion> {
    checkSecretName(name);
    const secret = await this.call(() =>
      this.client.setSecret(serviceSecretName(name), value, {
        contentType: 'text/plain',
        tags: { purpose: 'service-secret' },
        abortSignal: AbortSignal.timeout(this.timeoutMs),
      }),
    );
    if (!secret.properties.version || secret.value === undefined) throw new Error('Key Vault returned a secret without a version');
    return { version: secret.properties.version, value: secret.value };
  }

  /** A missing or disabled version reads as `undefined`. */
  async getSecret(name: string, version?: string): Promise<SecretVersion | undefined> {
    checkSecretName(name);
    const secret = await absentIfNotFound(
      this.call(() =>
        this.client.getSecret(serviceSecretName(name), {
          ...(version ? { version } : {}),
          abortSignal: AbortSignal.timeout(this.timeoutMs),
        }),
      ),
    );
    if (!secret?.value || !secret.properties.version) return undefined;
    return { version: secret.properties.version, value: secret.value };
  }

  /** Outages, server errors and a refused identity become DependencyUnavailableError (see toDependencyError). */
  private async call<T>(operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      throw toDependencyError('key vault', error);
    }
  }
}
