import { RestError } from '@azure/core-rest-pipeline';
import type { SecretClient } from '@azure/keyvault-secrets';
import { DependencyUnavailableError } from '../../errors';
import type { ComponentVersion, SecretStore } from '../../ports/secret-store';

/** One secret per customer; its versions are the customer's components. */
export const componentSecretName = (customerSlug: string): string => `customer-${customerSlug}-component`;

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
    if (!secret?.properties.version || secret.value === undefined) throw new Error('Key Vault returned a secret without a version');
    return { version: secret.properties.version, value: secret.value };
  }

  async getComponent(customerSlug: string, version?: string): Promise<ComponentVersion | undefined> {
    const secret = await this.call(() =>
      this.client.getSecret(componentSecretName(customerSlug), {
        ...(version ? { version } : {}),
        abortSignal: AbortSignal.timeout(this.timeoutMs),
      }),
    );
    if (!secret?.value || !secret.properties.version) return undefined;
    return { version: secret.properties.version, value: secret.value };
  }

  async disableComponent(customerSlug: string, version: string): Promise<void> {
    await this.call(() =>
      this.client.updateSecretProperties(componentSecretName(customerSlug), version, {
        enabled: false,
        abortSignal: AbortSignal.timeout(this.timeoutMs),
      }),
    );
  }

  /** Not found (or disabled) is `undefined`; outages and server errors become DependencyUnavailableError. */
  private async call<T>(operation: () => Promise<T>): Promise<T | undefined> {
    try {
      return await operation();
    } catch (error) {
      const status = error instanceof RestError ? error.statusCode : undefined;
      if (status === 404) return undefined;
      if (status === 403 && /disabled/i.test((error as Error).message)) return undefined;
      // 401/403 here means the app's identity lacks its role on the vault (a deployment fault): 503.
      if (status === undefined || status === 401 || status === 403 || status === 408 || status === 429 || status >= 500 || (error as Error).name === 'AbortError') {
        throw new DependencyUnavailableError('key vault', error);
      }
      throw error;
    }
  }
}
