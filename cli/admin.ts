import { randomUUID } from 'node:crypto';
import { userInfo } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startAzurite, type RunningAzurite } from '../local/azurite';
import { loadLocalSettings } from '../local/settings';
import { PORTAL_ROLES, signLocalPortalToken, type PortalRole } from '../shared/auth/portal-tokens';
import { ConfigError, loadConfig } from '../shared/config';
import type { ApiKeyView, Operation } from '../shared/domain';
import { ApiError } from '../shared/errors';
import { silentLogger } from '../shared/logging';
import { createServices } from '../app/compose';
import type { ServiceContext } from '../app/context';
import type { ServiceSnapshot } from '../shared/services/service-status';
import { createCustomerSchema, issueKeySchema, patchKeySchema, rollKeySchema } from '../shared/schemas/keys';
import { toTenantKeyBody } from '../shared/schemas/view-mappers';
import { parseInput } from '../shared/validation';

/**
 * `npm run admin -- <command>`: operator commands that call the same services as the API.
 * It reads local.settings.json like `npm start`; when that points at the local Azurite and
 * none is running, it starts one on the same data folder for the duration of the command.
 */

const ROOT = resolve(__dirname, '..', '..');

const USAGE = `Usage: npm run admin -- <command> [options]

Commands:
  customer create --slug <slug> --name <name> --plan <starter|pro|enterprise>
  customer show   --customer <slug>
  key issue  --customer <slug> --label <label> --application <app> [--environment live|test] [--type primary|secondary|management]
  key list   --customer <slug>
  key revoke --customer <slug> --key <keyId> [--force]
  key reset  --customer <slug>
  key roll   --customer <slug> --key <keyId> --overlap-hours <0-168> [--quiet-minutes <5-10080>] [--close-when-quiet]
             (new key once; the old one expires after the overlap, or once quiet with --close-when-quiet)
  key expire --customer <slug> --key <keyId> (--at <ISO 8601> | --never)
  key allow-ips --customer <slug> --key <keyId> (--ip <address or CIDR> [--ip ...] | --any)
  key expire-due                                             (what the key-expiry timer does)
  tenant-key show     --customer <slug>
  tenant-key rotate   --customer <slug> [--grace-hours <n>]   (0: the old component stops at once)
  tenant-key end-grace --customer <slug>
  tenant-key retire-due                                      (what the tenant-key-grace timer does)
  stats [--url <host>]     this host's metrics (asks the running npm start; default http://localhost:7071)
  token --customer <slug> --role CustomerAdmin|Staff [--role ...] [--sub <id>] [--name <name>] [--ttl <seconds>]
        [--export [--var <NAME>]]
                 (a local portal token; needs PORTAL_JWT_SECRET, never available in Azure;
                  --export prints \`export TOKEN=...\` (or --var's name) for eval "$(...)")

Options:
  --json     print machine-readable JSON
  --actor    who to record as the actor (default: admin-cli)
`;

const OPTIONS = {
  slug: { type: 'string' },
  name: { type: 'string' },
  plan: { type: 'string' },
  customer: { type: 'string' },
  label: { type: 'string' },
  application: { type: 'string' },
  environment: { type: 'string' },
  type: { type: 'string' },
  key: { type: 'string' },
  actor: { type: 'string', default: 'admin-cli' },
  force: { type: 'boolean', default: false },
  role: { type: 'string', multiple: true },
  sub: { type: 'string' },
  ttl: { type: 'string' },
  export: { type: 'boolean', default: false },
  var: { type: 'string' },
  'grace-hours': { type: 'string' },
  'overlap-hours': { type: 'string' },
  'quiet-minutes': { type: 'string' },
  'close-when-quiet': { type: 'boolean', default: false },
  at: { type: 'string' },
  never: { type: 'boolean', default: false },
  ip: { type: 'string', multiple: true },
  any: { type: 'boolean', default: false },
  json: { type: 'boolean', default: false },
  url: { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

class UsageError extends Error {}

function need(value: string | undefined, flag: string): string {
  if (value === undefined || value === '') throw new UsageError(`missing --${flag}`);
  return value;
}

function keyTable(keys: ApiKeyView[]): string {
  if (keys.length === 0) return '(no keys)';
  const now = Date.now();
  const rows = keys.map((k) => [
    k.id,
    k.displayPrefix,
    k.label,
    k.application,
    k.type,
    k.environment,
    k.status === 'active' && k.rolledTo ? 'rolling out' : k.status,
    k.createdAt,
    k.status === 'active' && k.expiresAt ? (Date.parse(k.expiresAt) <= now ? 'expired' : k.expiresAt) : '-',
    // Where a secret scanner found it first, and how many places in all.
    k.exposures?.length ? `${k.exposures[0]!.url || k.exposures[0]!.source} (${k.exposureCount ?? k.exposures.length})` : '-',
  ]);
  const header = ['ID', 'KEY', 'LABEL', 'APPLICATION', 'TYPE', 'ENV', 'STATUS', 'CREATED', 'EXPIRES', 'EXPOSED'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [header, ...rows]
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** A snapshot as lines: name, attributes, value (histograms: count, mean, max). */
function statsTable(snapshot: ServiceSnapshot): string {
  const lines = snapshot.metrics.map((m) => {
    const attributes = Object.entries(m.attributes)
      .map(([k, v]) => `${k}=${String(v)}`)
      .join(' ');
    const value =
      m.sum !== undefined && m.value > 0
        ? `count ${m.value}, mean ${(m.sum / m.value).toFixed(2)}, max ${m.max?.toFixed(2) ?? '-'}`
        : Number.isInteger(m.value)
          ? String(m.value)
          : m.value.toFixed(2);
    return `${m.name}${attributes ? ` {${attributes}}` : ''}  ${value}`;
  });
  return [`instance ${snapshot.instanceId} at ${snapshot.at}`, ...lines].join('\n');
}

export async function runAdmin(argv: string[], services: ServiceContext, print: (line: string) => void): Promise<void> {
  const { values, positionals } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  const [group, action] = positionals;
  const out = (human: string, data: unknown) => print(values.json ? JSON.stringify(data, null, 2) : human);
  const op: Operation = {
    actor: { type: 'user', id: `cli:${safeUser()}`, name: values.actor },
    requestId: `cli-${randomUUID()}`,
  };
  if (values.help || !group) {
    print(USAGE);
    return;
  }
  switch (`${group} ${action ?? ''}`.trim()) {
    case 'customer create': {
      const customer = await services.useCases.customers.create(
        parseInput(createCustomerSchema, {
          slug: need(values.slug, 'slug'),
          name: need(values.name, 'name'),
          plan: need(values.plan, 'plan'),
        }),
      );
      out(`Created customer ${customer.slug} (${customer.id}, plan ${customer.plan}).`, customer);
      return;
    }
    case 'customer show': {
      const customer = await services.useCases.customers.require(need(values.customer, 'customer'));
      const { componentVersion: _version, ...shown } = customer;
      out(JSON.stringify(shown, null, 2), shown);
      return;
    }
    case 'key issue': {
      const issued = await services.useCases.keys.issue(
        need(values.customer, 'customer'),
        parseInput(issueKeySchema, {
          label: need(values.label, 'label'),
          application: need(values.application, 'application'),
          ...(values.environment ? { environment: values.environment } : {}),
          ...(values.type ? { type: values.type } : {}),
        }),
        op,
      );
      out(
        `Issued ${issued.metadata.id} (${issued.metadata.label}). The key, shown this once:\n\n  ${issued.key}\n\nStore it in a secret manager now; it cannot be shown again.`,
        issued,
      );
      return;
    }
    case 'key list': {
      const keys = await services.useCases.keys.list(need(values.customer, 'customer'));
      out(keyTable(keys), keys);
      return;
    }
    case 'key revoke': {
      const revoked = await services.useCases.keys.revoke(need(values.customer, 'customer'), need(values.key, 'key'), op, {
        force: values.force,
      });
      out(`Revoked ${revoked.id} (${revoked.label}) at ${revoked.revokedAt}.`, revoked);
      return;
    }
    case 'key reset': {
      const reset = await services.useCases.keys.reset(need(values.customer, 'customer'), op);
      out(
        reset.keys.length === 0
          ? 'No active keys to reset.'
          : `Replaced ${reset.keys.length} key(s). The new keys, shown this once:\n\n${reset.keys.map((k) => `  ${k.metadata.label}: ${k.key}`).join('\n')}`,
        reset,
      );
      return;
    }
    case 'key roll': {
      const hours = need(values['overlap-hours'], 'overlap-hours');
      if (!/^\d+$/.test(hours)) throw new UsageError('--overlap-hours must be a whole number from 0 to 168');
      const quiet = values['quiet-minutes'];
      if (quiet !== undefined && !/^\d+$/.test(quiet)) throw new UsageError('--quiet-minutes must be a whole number from 5 to 10080');
      const rolled = await services.useCases.keys.roll(
        need(values.customer, 'customer'),
        need(values.key, 'key'),
        parseInput(rollKeySchema, {
          overlapHours: Number(hours),
          ...(quiet !== undefined ? { quietMinutes: Number(quiet) } : {}),
          ...(values['close-when-quiet'] ? { closeWhenQuiet: true } : {}),
        }),
        op,
      );
      out(
        `Rolled ${rolled.old.id} (${rolled.old.label}) to ${rolled.metadata.id}; the old key ${rolled.old.status === 'revoked' ? 'has stopped' : `works until ${rolled.old.expiresAt}`}. The new key, shown this once:\n\n  ${rolled.key}\n\nStore it in a secret manager now; it cannot be shown again.`,
        rolled,
      );
      return;
    }
    case 'key expire': {
      if (Boolean(values.at) === values.never) throw new UsageError('give one of --at <time> and --never');
      const key = await services.useCases.keys.updateAccess(
        need(values.customer, 'customer'),
        need(values.key, 'key'),
        parseInput(patchKeySchema, { expiresAt: values.never ? null : values.at }),
        op,
      );
      out(key.expiresAt ? `${key.id} (${key.label}) expires at ${key.expiresAt}.` : `${key.id} (${key.label}) no longer expires.`, key);
      return;
    }
    case 'key allow-ips': {
      const ips = values.ip ?? [];
      if (values.any === ips.length > 0) throw new UsageError('give --ip (one or more) or --any');
      const key = await services.useCases.keys.updateAccess(
        need(values.customer, 'customer'),
        need(values.key, 'key'),
        parseInput(patchKeySchema, { allowedIps: ips }),
        op,
      );
      out(
        key.allowedIps?.length
          ? `${key.id} (${key.label}) may be used from ${key.allowedIps.join(', ')}.`
          : `${key.id} (${key.label}) may be used from any address.`,
        key,
      );
      return;
    }
    case 'key expire-due': {
      const revoked = await services.useCases.revocation.expireDue();
      out(`Revoked ${revoked} expired key(s).`, { revoked });
      return;
    }
    case 'tenant-key show': {
      const view = toTenantKeyBody(await services.useCases.masterComponents.status(need(values.customer, 'customer')));
      out(JSON.stringify(view, null, 2), view);
      return;
    }
    case 'tenant-key rotate': {
      const hours = values['grace-hours'];
      if (hours !== undefined && !/^\d+$/.test(hours)) throw new UsageError('--grace-hours must be a whole number');
      const view = toTenantKeyBody(
        await services.useCases.masterComponents.rotateNow(
          need(values.customer, 'customer'),
          op,
          hours === undefined ? {} : { gracePeriodMs: Number(hours) * 3_600_000 },
        ),
      );
      out(
        `Rotated. Current version ${view.currentVersion}; ${view.inGrace ? `the previous one works until ${view.graceEndsAt}` : 'the previous one has stopped'}.`,
        view,
      );
      return;
    }
    case 'tenant-key end-grace': {
      const view = toTenantKeyBody(await services.useCases.masterComponents.endGrace(need(values.customer, 'customer'), op));
      out('Grace ended: only the current component is accepted.', view);
      return;
    }
    case 'tenant-key retire-due': {
      const result = await services.useCases.masterComponents.retireDue();
      out(`Checked ${result.checked} component(s) past their grace; retired ${result.retired}.`, result);
      return;
    }
    case 'token': {
      const roles = values.role ?? [];
      if (roles.length === 0) throw new UsageError('missing --role');
      const unknown = roles.filter((r) => !(PORTAL_ROLES as readonly string[]).includes(r));
      if (unknown.length > 0) throw new UsageError(`unknown role ${unknown.join(', ')} (use ${PORTAL_ROLES.join(' or ')})`);
      const variable = values.var ?? 'TOKEN';
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(variable)) throw new UsageError('--var must be a shell variable name');
      if (values.var !== undefined && !values.export) throw new UsageError('--var goes with --export');
      const ttl = Number(values.ttl ?? 3600);
      if (!Number.isInteger(ttl) || ttl < 60 || ttl > 86_400) throw new UsageError('--ttl must be 60 to 86400 seconds');
      const token = await signLocalPortalToken(
        services.useCases.config.portal,
        {
          sub: values.sub ?? `local-${safeUser()}`,
          name: values.name ?? safeUser(),
          ...(values.customer ? { customer: values.customer } : {}),
          roles: roles as PortalRole[],
        },
        ttl,
      );
      // A JWT is base64url and dots: nothing in it needs shell quoting.
      if (values.export) print(`export ${variable}=${token}`);
      else out(token, { token, expiresInSeconds: ttl });
      return;
    }
    case 'stats': {
      // The metrics live in the serving process: ask the running host (npm start) for its own.
      const base = (values.url ?? `http://localhost:${process.env.PORT ?? 7071}`).replace(/\/+$/, '');
      const token = await signLocalPortalToken(
        services.useCases.config.portal,
        { sub: `local-${safeUser()}`, name: safeUser(), roles: ['Staff'] },
        60,
      );
      let response: Response;
      try {
        response = await fetch(`${base}/v1/staff/service`, { headers: { authorization: `Bearer ${token}` } });
      } catch {
        throw new UsageError(`no host answers at ${base}: start it with npm start (or give --url)`);
      }
      if (!response.ok) throw new UsageError(`${base}/v1/staff/service answered ${response.status}`);
      const snapshot = (await response.json()) as ServiceSnapshot;
      out(statsTable(snapshot), snapshot);
      return;
    }
    default:
      throw new UsageError(`unknown command: ${positionals.join(' ')}`);
  }
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return 'operator';
  }
}

async function main(): Promise<number> {
  process.chdir(ROOT);
  process.env.VERIPROOF_LOCAL_MODE = 'true'; // a developer's tool, on local.settings.json
  loadLocalSettings(ROOT);
  let azurite: RunningAzurite | undefined;
  const needsStorage = process.argv[2] !== 'token';
  if (needsStorage && /^UseDevelopmentStorage=true;?$/i.test(process.env.TABLES_CONNECTION_STRING ?? '')) {
    azurite = await startAzurite({
      tablePort: Number(process.env.AZURITE_TABLE_PORT ?? 10002),
      location: resolve(ROOT, process.env.LOCAL_DATA_DIR ?? '.local', 'azurite'),
    });
    process.env.TABLES_CONNECTION_STRING = azurite.connectionString;
  }
  const services = createServices(loadConfig(), { background: false, log: silentLogger });
  try {
    await runAdmin(process.argv.slice(2), services, (line) => console.log(line));
    return 0;
  } finally {
    await services.dispose();
    await azurite?.stop();
  }
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
        console.error(`${(error as Error).message}\n\n${USAGE}`);
      } else if (error instanceof ApiError) {
        console.error(`error: ${error.code}: ${error.detail}`);
      } else if (error instanceof ConfigError) {
        console.error(error.message);
      } else {
        console.error(`error: ${(error as Error).message ?? String(error)}`);
      }
      process.exit(1);
    },
  );
}
