import { randomBytes } from 'node:crypto';
import { checkSecretName, type ComponentVersion, type SecretStore, type SecretVersion } from '../../ports/secret-store';

/** In-memory SecretStore for unit tests; counts reads and can fail like an unreachable vault. */
export class MemorySecretStore implements SecretStore {
  private readonly versions = new Map<string, Array<ComponentVersion & { enabled: boolean }>>();
  private readonly named = new Map<string, SecretVersion[]>();
  reads = 0;
  failWith: Error | undefined;

  async putComponent(customerSlug: string, value: string): Promise<ComponentVersion> {
    if (this.failWith) throw this.failWith;
    const entry = { version: randomBytes(16).toString('hex'), value, enabled: true };
    this.versions.set(customerSlug, [...(this.versions.get(customerSlug) ?? []), entry]);
    return { version: entry.version, value };
  }

  async getComponent(customerSlug: string, version?: string): Promise<ComponentVersion | undefined> {
    this.reads += 1;
    if (this.failWith) throw this.failWith;
    const all = this.versions.get(customerSlug) ?? [];
    const found = version === undefined ? all.at(-1) : all.find((v) => v.version === version);
    return found?.enabled ? { version: found.version, value: found.value } : undefined;
  }

  async disableComponent(customerSlug: string, version: string): Promise<void> {
    if (this.failWith) throw this.failWith;
    const found = (this.versions.get(customerSlug) ?? []).find((v) => v.version === version);
    if (found) found.enabled = false;
  }

  isEnabled(customerSlug: string, version: string): boolean | undefined {
    return (this.versions.get(customerSlug) ?? []).find((v) => v.version === version)?.enabled;
  }

  async putSecret(name: string, value: string): Promise<SecretVersion> {
    checkSecretName(name);
    if (this.failWith) throw this.failWith;
    const entry = { version: randomBytes(16).toString('hex'), value };
    this.named.set(name, [...(this.named.get(name) ?? []), entry]);
    return { ...entry };
  }

  async getSecret(name: string, version?: string): Promise<SecretVersion | undefined> {
    checkSecretName(name);
    this.reads += 1;
    if (this.failWith) throw this.failWith;
    const all = this.named.get(name) ?? [];
    const found = version === undefined ? all.at(-1) : all.find((v) => v.version === version);
    return found ? { ...found } : undefined;
  }
}
