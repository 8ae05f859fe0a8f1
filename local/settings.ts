import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const SETTINGS_FILE = 'local.settings.json';
export const SAMPLE_FILE = 'local.settings.sample.json';

export interface LocalSettings {
  file: string;
  created: boolean;
  values: Record<string, string>;
  /** Settings the sample has and the file lacks (a newer sample than the file): taken from the sample. */
  fromSample: string[];
}

/**
 * Reads `local.settings.json` (the file `func start` reads), creating it from the sample on
 * first run, and puts its `Values` into the environment without overriding variables that
 * are already set, as Core Tools does. Settings added to the sample since the file was made
 * are taken from the sample, so an old local file keeps working after an upgrade.
 */
export function loadLocalSettings(root: string, env: NodeJS.ProcessEnv = process.env): LocalSettings {
  const file = join(root, SETTINGS_FILE);
  let created = false;
  if (!existsSync(file)) {
    copyFileSync(join(root, SAMPLE_FILE), file);
    created = true;
  }
  const own = readValues(file);
  const sample = readValues(join(root, SAMPLE_FILE));
  const fromSample = Object.keys(sample).filter((name) => !(name in own));
  const values = { ...sample, ...own };
  for (const [name, value] of Object.entries(values)) if (env[name] === undefined) env[name] = value;
  return { file, created, values, fromSample };
}

function readValues(file: string): Record<string, string> {
  let parsed: { Values?: Record<string, unknown> };
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8')) as { Values?: Record<string, unknown> };
  } catch (error) {
    throw new Error(`${file} is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  const values: Record<string, string> = {};
  for (const [name, value] of Object.entries(parsed.Values ?? {})) {
    // local.settings.json values are strings, numbers or booleans; anything else is refused by name.
    if (value === null || value === undefined) continue;
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      throw new Error(`${file}: Values.${name} must be a string, a number or a boolean`);
    }
    values[name] = String(value);
  }
  return values;
}
