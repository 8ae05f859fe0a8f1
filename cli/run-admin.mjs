// `npm run admin -- ...`: runs dist/cli/admin.js, compiling the project first only when it is
// missing or older than one of tsconfig.json's inputs (a fresh clone builds once; a built tree
// answers at once). It compiles with `tsc -p tsconfig.json` only: the CLI needs neither the
// portal nor the TypeScript SDK (`npm start` and `npm run build` still build everything).
// VERIPROOF_ADMIN_BUILD_LOG=1 says on stderr whether it built and why.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync, utimesSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const tsconfig = join(root, 'tsconfig.json');
const target = join(root, 'dist', 'cli', 'admin.js');
const log = process.env.VERIPROOF_ADMIN_BUILD_LOG === '1' ? (line) => console.error(`admin: ${line}`) : () => {};

/** The newest input of tsconfig.json (its `include` folders' .ts and .json files, and itself). */
function newestInput() {
  let newest = { file: tsconfig, mtimeMs: statSync(tsconfig).mtimeMs };
  const consider = (file) => {
    const { mtimeMs } = statSync(file);
    if (mtimeMs > newest.mtimeMs) newest = { file, mtimeMs };
  };
  for (const file of ['package.json', 'package-lock.json']) if (existsSync(join(root, file))) consider(join(root, file));
  const { include = [] } = JSON.parse(readFileSync(tsconfig, 'utf8'));
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== 'node_modules' && entry.name !== 'dist') walk(path);
      } else if (/\.(c|m)?ts$|\.json$/.test(entry.name)) consider(path);
    }
  };
  for (const folder of include) if (existsSync(join(root, folder))) walk(join(root, folder));
  return newest;
}

function staleBecause() {
  if (!existsSync(target)) return 'dist/cli/admin.js is missing';
  const newest = newestInput();
  const built = statSync(target).mtimeMs;
  return newest.mtimeMs > built ? `${newest.file.slice(root.length + 1)} is newer than dist/cli/admin.js` : undefined;
}

const reason = staleBecause();
if (reason === undefined) {
  log('up to date, not building');
} else {
  log(`building (${reason})`);
  console.error('Compiling the project for the admin CLI (once, until a source changes)...');
  const tsc = createRequire(tsconfig).resolve('typescript/bin/tsc');
  // tsc reports on stdout; it goes to stderr so that `$(npm run --silent admin -- token ...)` holds the token alone.
  const built = spawnSync(process.execPath, [tsc, '-p', tsconfig], { cwd: root, stdio: ['ignore', 2, 2] });
  if (built.status !== 0) {
    // tsc emits even with errors: mark the output as old so that the next call compiles again.
    if (existsSync(target)) utimesSync(target, 0, 0);
    console.error('The build failed (see above); the admin CLI did not run.');
    process.exit(built.status ?? 1);
  }
}

const run = spawnSync(process.execPath, [target, ...process.argv.slice(2)], { stdio: 'inherit' });
process.exit(run.status ?? 1);
