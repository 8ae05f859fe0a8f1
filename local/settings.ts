import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const SETTINGS_FILE = 'local.settings.json';
export const SAMPLE_FILE = 'local.settings.sample.json';

export interface LocalSettings {
  file: string;
  created: boolean;
  values: Record<string, string>;
}

/**
 * Reads `local.settings.json` (the file `func start` reads), creating it from the sample on
 * first run, and puts its `Values` into the environment without overriding variables that
 * are already set, as Core Tools does.
 */
export function loadLocalSettings(root: string, env: NodeJS.ProcessEnv = process.env): LocalSettings {
  const file = join(root, SETTINGS_FILE);
  let created = false;
  if (!existsSync(file)) {
    copyFileSync(join(root, SAMPLE_FILE), file);
    created = true;
  }
  let parsed: { Values?: Record<string, unknown> };
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8')) as { Values?: Record<string, unknown> };
  } catch (error) {
    throw new Error(`${file} is not valid JSON: ${(error as Error).message}`);
  }
  const values: Record<string, string> = {};
  for (const [name, value] of Object.entries(parsed.Values ?? {})) {
    if (value === null || value === undefined) continue;
    values[name] = String(value);
    if (env[name] === undefined) env[name] = String(value);
  }
  return { file, created, values };
}
