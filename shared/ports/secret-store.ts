/** One stored version of a customer's master component, or of a service secret. */
export interface ComponentVersion {
  version: string;
  value: string;
}
/** One stored version of a service secret (the same shape as a component's). */
export type SecretVersion = ComponentVersion;

/** What a service secret may be called: lower-case words joined by `-` (a Key Vault secret name once prefixed). */
export const SERVICE_SECRET_NAME = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

/** Refuses a service secret name outside {@link SERVICE_SECRET_NAME} (a programming error, never input). */
export function checkSecretName(name: string): void {
  if (!SERVICE_SECRET_NAME.test(name) || name.length > 64) throw new Error(`Not a service secret name: ${JSON.stringify(name)}`);
}

/**
 * Where customers' master components live: Key Vault in Azure, a file under the local data
 * folder on a developer's machine, a Map in unit tests. One secret per customer, one version
 * per component. Values of a version never change, which is what lets callers cache them.
 *
 * The same store keeps the service's own secrets by name (the data key webhook signing secrets
 * are encrypted under, say), apart from every customer's components: versions too, latest or by
 * version, never changed once stored.
 */
export interface SecretStore {
  /** Stores a new version of the customer's component and returns it. */
  putComponent(customerSlug: string, value: string): Promise<ComponentVersion>;
  /** The latest version, or a given one; `undefined` when there is none (or it is disabled). */
  getComponent(customerSlug: string, version?: string): Promise<ComponentVersion | undefined>;
  /** Disables a version (a retired component); idempotent. */
  disableComponent(customerSlug: string, version: string): Promise<void>;
  /** Stores a new version of the service secret `name` ({@link SERVICE_SECRET_NAME}) and returns it. */
  putSecret(name: string, value: string): Promise<SecretVersion>;
  /** The latest version of the service secret `name`, or a given one; `undefined` when there is none. */
  getSecret(name: string, version?: string): Promise<SecretVersion | undefined>;
}
