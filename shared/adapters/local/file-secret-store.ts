import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { checkSecretName, type ComponentVersion, type SecretStore, type SecretVersion } from '../../ports/secret-store';

interface StoredVersion extends ComponentVersion {
  createdAt: string;
  enabled?: boolean;
}

/**
 * The local stand-in for Key Vault: every customer's component versions in one JSON file
 * under the local data folder (git-ignored), the service's named secrets in another beside it,
 * written atomically with owner-only permissions, so keys issued on a developer's machine
 * survive a restart. Never used in Azure.
 */
export class FileSecretStore implements SecretStore {
  private readonly file: string;
  private readonly namedFile: string;
  private writes: Promise<unknown> = Promise.resolve();

  constructor(dataDir: string) {
    this.file = join(dataDir, 'secrets', 'components.json');
    this.namedFile = join(dataDir, 'secrets', 'service.json');
  }

  async putComponent(customerSlug: string, value: string): Promise<ComponentVersion> {
    const version = randomBytes(16).toString('hex');
    const run = this.writes.then(async () => {
      const all = await this.read();
      (all[customerSlug] ??= []).push({ version, value, createdAt: new Date().toISOString() });
      await this.write(all);
    });
    this.writes = run.catch(() => undefined);
    await run;
    return { version, value };
  }

  async getComponent(customerSlug: string, version?: string): Promise<ComponentVersion | undefined> {
    const versions = (await this.read())[customerSlug] ?? [];
    const found = version === undefined ? versions.at(-1) : versions.find((v) => v.version === version);
    return found && found.enabled !== false ? { version: found.version, value: found.value } : undefined;
  }

  async disableComponent(customerSlug: string, version: string): Promise<void> {
    const run = this.writes.then(async () => {
      const all = await this.read();
      const found = (all[customerSlug] ?? []).find((v) => v.version === version);
      if (!found || found.enabled === false) return;
      found.enabled = false;
      await this.write(all);
    });
    this.writes = run.catch(() => undefined);
    await run;
  }

  async putSecret(name: string, value: string): Promise<SecretVersion> {
    checkSecretName(name);
    const version = randomBytes(16).toString('hex');
    const run = this.writes.then(async () => {
      const all = await this.read(this.namedFile);
      (all[name] ??= []).push({ version, value, createdAt: new Date().toISOString() });
      await this.write(all, this.namedFile);
    });
    this.writes = run.catch(() => undefined);
    await run;
    return { version, value };
  }

  async getSecret(name: string, version?: string): Promise<SecretVersion | undefined> {
    checkSecretName(name);
    const versions = (await this.read(this.namedFile))[name] ?? [];
    const found = version === undefined ? versions.at(-1) : versions.find((v) => v.version === version);
    return found ? { version: found.version, value: found.value } : undefined;
  }

  private async read(file = this.file): Promise<Record<string, StoredVersion[]>> {
    try {
      return JSON.parse(await readFile(file, 'utf8')) as Record<string, StoredVersion[]>;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw error;
    }
  }

  private async write(all: Record<string, StoredVersion[]>, file = this.file): Promise<void> {
    await mkdir(dirname(file), { recursive: true, mode: 0o700 });
    const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    await writeFile(temp, JSON.stringify(all, null, 2), { mode: 0o600 });
    await rename(temp, file);
  }
}
