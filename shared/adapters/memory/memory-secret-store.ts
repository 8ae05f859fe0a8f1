import { randomBytes } from 'node:crypto';
import type { ComponentVersion, SecretStore } from '../../ports/secret-store';

/** In-memory SecretStore for unit tests. */
export class MemorySecretStore implements SecretStore {
  private readonly versions = new Map<string, ComponentVersion[]>();

  async putComponent(customerSlug: string, value: string): Promise<ComponentVersion> {
    const entry = { version: randomBytes(16).toString('hex'), value };
    this.versions.set(customerSlug, [...(this.versions.get(customerSlug) ?? []), entry]);
    return entry;
  }

  async getComponent(customerSlug: string, version?: string): Promise<ComponentVersion | undefined> {
    const all = this.versions.get(customerSlug) ?? [];
    return version === undefined ? all.at(-1) : all.find((v) => v.version === version);
  }
}
