/** One stored version of a customer's master component. */
export interface ComponentVersion {
  version: string;
  value: string;
}

/**
 * Where customers' master components live: Key Vault in Azure, a file under the local data
 * folder on a developer's machine, a Map in unit tests. One secret per customer, one version
 * per component. Values of a version never change, which is what lets callers cache them.
 */
export interface SecretStore {
  /** Stores a new version of the customer's component and returns it. */
  putComponent(customerSlug: string, value: string): Promise<ComponentVersion>;
  /** The latest version, or a given one; `undefined` when there is none (or it is disabled). */
  getComponent(customerSlug: string, version?: string): Promise<ComponentVersion | undefined>;
  /** Disables a version (a retired component); idempotent. */
  disableComponent(customerSlug: string, version: string): Promise<void>;
}
