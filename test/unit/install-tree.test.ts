import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * What `npm install` resolves, read from the lock file (what `npm ci` installs on a fresh clone):
 * the two things that once made an install print 1,500 lines of warnings and must not come back.
 */
const root = join(__dirname, '..', '..');
const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { version?: string; hasInstallScript?: boolean; link?: boolean }>;
};
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  overrides?: Record<string, string>;
  allowScripts?: Record<string, boolean>;
};

/** `node_modules/a/node_modules/@scope/b` -> `@scope/b` */
function packageName(path: string): string {
  return path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);
}

describe('the installed tree', () => {
  it('holds one copy of the OpenTelemetry API, so every package records into the same global tracer and meter', () => {
    const copies = Object.keys(lock.packages).filter((path) => packageName(path) === '@opentelemetry/api');
    expect(copies).toEqual(['node_modules/@opentelemetry/api']);
    // The override that keeps it one: the Azure Monitor distro's packages ask for a version below ours.
    expect(manifest.overrides?.['@opentelemetry/api']).toBe('$@opentelemetry/api');
  });

  it('has a reviewed decision for every package that comes with an install script', () => {
    const withScripts = Object.entries(lock.packages)
      .filter(([path, entry]) => path !== '' && entry.hasInstallScript && !entry.link)
      .map(([path]) => packageName(path));
    expect(withScripts.length).toBeGreaterThan(0);
    const allow = manifest.allowScripts ?? {};
    expect(withScripts.filter((name) => !(name in allow))).toEqual([]);
    // The Node 22 binary is what every npm script runs on: its install script must run.
    expect(allow['node']).toBe(true);
  });
});
