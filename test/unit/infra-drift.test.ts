import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HOST_NODE_ARGUMENTS } from '../../local/host-process';
import { queueName } from '../../shared/adapters/queue/queue-names';
import { CONFIG_SETTINGS, ConfigError, loadConfig } from '../../shared/config';
import { METRICS } from '../../shared/telemetry/metrics';
import { SPAN_ATTRIBUTES } from '../../shared/telemetry/tracing';
import { blockAt, entries, moduleProblems, objectEntry, readBicep } from '../support/bicep';

/**
 * infra/ must set what the code reads, and only that. The app settings of the Function App
 * (infra/modules/function-app.bicep) are read from the template and checked against the config
 * schema (shared/config.ts): a setting the schema requires in Azure that infra does not set,
 * or a setting infra sets that nothing reads, fails here rather than at the first cold start.
 */

const root = join(__dirname, '..', '..');
const infra = join(root, 'infra');

/** Settings infra sets for the platform (the Functions host, Application Insights), not for our code. */
const PLATFORM_READS = new Set([
  'AzureWebJobsStorage__accountName',
  'AzureWebJobsStorage__credential',
  'AzureWebJobsStorage__clientId',
  'APPLICATIONINSIGHTS_CONNECTION_STRING',
  'APPLICATIONINSIGHTS_AUTHENTICATION_STRING',
  'FUNCTIONS_REQUEST_BODY_SIZE_LIMIT',
  // The arguments the host starts the Node worker with (the V8 heap: local/host-process.ts).
  'languageWorkers__node__arguments',
]);
/** Settings the platform sets on every instance; the code reads them, infra must not set them. */
const PLATFORM_PROVIDES = new Set(['WEBSITE_INSTANCE_ID', 'WEBSITE_SITE_NAME']);
/** Settings a Flex Consumption app refuses (the runtime is `functionAppConfig.runtime`). */
const FLEX_REFUSES = new Set([
  'FUNCTIONS_WORKER_RUNTIME',
  'FUNCTIONS_EXTENSION_VERSION',
  'WEBSITE_NODE_DEFAULT_VERSION',
  'WEBSITE_RUN_FROM_PACKAGE',
]);

/** What a deployment's Bicep expressions evaluate to, for values that are not literals. */
const EXAMPLE_VALUES: Record<string, string> = {
  AZURE_CLIENT_ID: '5b0f8a52-52c6-4c38-9a4f-3f6a1c2e9d10',
  TABLES_ENDPOINT: 'https://stkeysabc123.table.core.windows.net',
  QUEUES_ENDPOINT: 'https://stkeysabc123.queue.core.windows.net',
  SESSIONS_TABLES_ENDPOINTS: 'https://stsess0abc123.table.core.windows.net,https://stsess1abc123.table.core.windows.net',
  KEY_VAULT_URL: 'https://kv-keys-abc123.vault.azure.net/',
  PORTAL_JWKS_URL: 'https://login.example.com/tenant/discovery/v2.0/keys',
  PORTAL_SIGN_IN_URL: 'https://portal.example.com/keys/sign-in',
  PORTAL_JWT_ISSUER: 'https://login.example.com/tenant/v2.0',
  PORTAL_JWT_AUDIENCE: 'api://veriproof-keys',
  PLANS: '{}',
  TENANT_KEY_GRACE_PERIOD_HOURS: '168',
};

/** The Function App's app settings as written in the template: name -> Bicep expression. */
function templateAppSettings(): Record<string, string> {
  const text = readFileSync(join(infra, 'modules', 'function-app.bicep'), 'utf8');
  const at = /resource\s+\w+\s+'config'\s*=\s*\{/.exec(text);
  if (!at) throw new Error('function-app.bicep has no appsettings resource');
  const resource = blockAt(text, at.index);
  expect(resource).toMatch(/name:\s*'appsettings'/);
  return Object.fromEntries(entries(objectEntry(resource, 'properties')).map((e) => [e.key, e.value]));
}

/** A literal Bicep string or number as the app would see it; undefined for expressions. */
function literal(expression: string): string | undefined {
  if (/^'[^'$]*'$/.test(expression)) return expression.slice(1, -1);
  if (/^\d+$/.test(expression)) return expression;
  return undefined;
}

/** Everything wrong between a set of app settings and the config schema; empty when they agree. */
function driftProblems(settings: Record<string, string>): string[] {
  const problems: string[] = [];
  const known = new Set<string>(CONFIG_SETTINGS);
  for (const name of Object.keys(settings)) {
    if (FLEX_REFUSES.has(name)) problems.push(`${name}: not allowed on Flex Consumption`);
    else if (PLATFORM_PROVIDES.has(name)) problems.push(`${name}: set by the platform, infra must not set it`);
    else if (!known.has(name) && !PLATFORM_READS.has(name)) problems.push(`${name}: set by infra, read by nothing`);
  }
  const env: Record<string, string> = { WEBSITE_SITE_NAME: 'func-keys-abc123', WEBSITE_INSTANCE_ID: 'instance-1' };
  for (const [name, expression] of Object.entries(settings)) {
    if (!known.has(name)) continue;
    const value = literal(expression) ?? EXAMPLE_VALUES[name];
    if (value === undefined) problems.push(`${name}: add an example value for ${expression} to this test`);
    else env[name] = value;
  }
  try {
    const config = loadConfig(env);
    if (config.runtime !== 'azure') problems.push('the settings do not describe an Azure instance');
    if (!config.tables.endpoint || config.tables.connectionString)
      problems.push('tables must be reached by endpoint and identity in Azure');
    if (!config.managedIdentityClientId) problems.push('AZURE_CLIENT_ID: the app would not use the user-assigned identity');
    // The host's body bound lets the largest ingest body through, and no more.
    const hostLimit = settings.FUNCTIONS_REQUEST_BODY_SIZE_LIMIT;
    if (hostLimit === undefined || literal(hostLimit) !== String(config.ingest.maxBodyBytes)) {
      problems.push(
        `FUNCTIONS_REQUEST_BODY_SIZE_LIMIT: ${hostLimit ?? 'unset'} differs from the ingest bound ${config.ingest.maxBodyBytes}`,
      );
    }
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    problems.push(...error.problems);
  }
  return problems;
}

describe('infra/ against the config schema', () => {
  const settings = templateAppSettings();

  it('sets every setting the app requires in Azure, and nothing the app never reads', () => {
    expect(driftProblems(settings)).toEqual([]);
  });

  it('reaches storage and Key Vault through the managed identity, never a key', () => {
    expect(settings).toMatchObject({
      AzureWebJobsStorage__credential: "'managedidentity'",
      AzureWebJobsStorage__clientId: 'identityClientId',
      AZURE_CLIENT_ID: 'identityClientId',
    });
    expect(
      Object.keys(settings).filter((name) => /CONNECTION_STRING$/.test(name) && name !== 'APPLICATIONINSIGHTS_CONNECTION_STRING'),
    ).toEqual([]);
    expect(Object.keys(settings)).not.toContain('AzureWebJobsStorage');
  });

  it('fills each setting from a parameter the module declares', () => {
    const declared = readBicep(join(infra, 'modules', 'function-app.bicep')).params;
    const used = Object.values(settings).flatMap((expression) => [
      ...[...expression.matchAll(/\$\{(\w+)\}/g)].map((m) => m[1]!),
      ...[...expression.replace(/'[^']*'/g, ' ').matchAll(/\b([A-Za-z_]\w*)\b(?!\s*\()/g)].map((m) => m[1]!),
    ]);
    expect(used.length).toBeGreaterThan(5);
    expect(used.filter((name) => !declared.has(name))).toEqual([]);
  });

  // The check itself must be able to fail, or the test above proves nothing.
  it.each([
    ['a required setting is missing', 'KEY_VAULT_URL', undefined, /KEY_VAULT_URL: is required outside local mode/],
    ['a required setting is missing', 'PORTAL_JWKS_URL', undefined, /PORTAL_JWKS_URL/],
    ['a required setting is missing', 'TABLES_ENDPOINT', undefined, /TABLES_CONNECTION_STRING/],
    ['a required setting is missing', 'PORTAL_JWT_ISSUER', undefined, /PORTAL_JWT_ISSUER: is required/],
    ['infra sets a setting nothing reads', 'TABLE_ENDPOINT', 'tableEndpoint', /TABLE_ENDPOINT: set by infra, read by nothing/],
    ['infra sets a platform setting', 'WEBSITE_SITE_NAME', "'x'", /WEBSITE_SITE_NAME: set by the platform/],
    ['infra sets a setting Flex refuses', 'FUNCTIONS_WORKER_RUNTIME', "'node'", /not allowed on Flex Consumption/],
    ['infra sets the local-only portal secret', 'PORTAL_JWT_SECRET', "'0123456789abcdef0123456789abcdef'", /PORTAL_JWT_SECRET/],
    ['infra switches local mode on', 'VERIPROOF_LOCAL_MODE', "'true'", /VERIPROOF_LOCAL_MODE: is for developer machines/],
    ['infra sets a bad literal', 'STALE_KEY_DAYS', "'thirty'", /STALE_KEY_DAYS: must be a whole number/],
    ['the host body bound is missing', 'FUNCTIONS_REQUEST_BODY_SIZE_LIMIT', undefined, /FUNCTIONS_REQUEST_BODY_SIZE_LIMIT: unset differs/],
    [
      'the host body bound differs from the ingest bound',
      'FUNCTIONS_REQUEST_BODY_SIZE_LIMIT',
      "'104857600'",
      /differs from the ingest bound 4194304/,
    ],
  ])('fails when %s (%s)', (_case, name, expression, message) => {
    const changed = { ...settings };
    if (expression === undefined) delete changed[name];
    else changed[name] = expression;
    expect(driftProblems(changed).join('\n')).toMatch(message);
  });

  it('local.settings.sample.json holds only settings the app or the host reads, and loads as a local config', () => {
    const sample = JSON.parse(readFileSync(join(root, 'local.settings.sample.json'), 'utf8')) as { Values: Record<string, string> };
    const host = new Set(['FUNCTIONS_WORKER_RUNTIME', 'AzureWebJobsStorage', 'languageWorkers__node__arguments']);
    const unknown = Object.keys(sample.Values).filter((name) => !(CONFIG_SETTINGS as string[]).includes(name) && !host.has(name));
    expect(unknown).toEqual([]);
    expect(loadConfig(sample.Values).runtime).toBe('local');
  });
});

/**
 * A Bicep string of literal text and `${parameter / n}` parts, as deployed with `parameters`;
 * undefined for any other expression (then the test names it).
 */
function evaluateBicepString(expression: string, parameters: Record<string, number>): string | undefined {
  if (!/^'[^']*'$/.test(expression)) return undefined;
  let unknown = false;
  const text = expression.slice(1, -1).replace(/\$\{([^}]*)\}/g, (_, inner: string) => {
    const parts = /^\s*(\w+)\s*\/\s*(\d+)\s*$/.exec(inner);
    const value = parts ? parameters[parts[1]!] : undefined;
    if (value === undefined) {
      unknown = true;
      return '';
    }
    return String(Math.floor(value / Number(parts![2])));
  });
  return unknown ? undefined : text;
}

describe('the Node worker is launched with one heap everywhere (local/host-process.ts, HOST_NODE_ARGUMENTS)', () => {
  const deployed = JSON.parse(readFileSync(join(infra, 'main.parameters.json'), 'utf8')) as {
    parameters: Record<string, { value: unknown }>;
  };
  const instanceMemoryMB = Number(deployed.parameters.instanceMemoryMB?.value);

  it('in Azure, from the instance memory the deployment gives (infra/modules/function-app.bicep)', () => {
    expect(instanceMemoryMB).toBeGreaterThan(0);
    const expression = templateAppSettings().languageWorkers__node__arguments ?? 'unset';
    expect(evaluateBicepString(expression, { instanceMemoryMB })).toBe(HOST_NODE_ARGUMENTS);
  });

  it('under func start (local.settings.sample.json) and npm start (package.json)', () => {
    const sample = JSON.parse(readFileSync(join(root, 'local.settings.sample.json'), 'utf8')) as { Values: Record<string, string> };
    expect(sample.Values.languageWorkers__node__arguments).toBe(HOST_NODE_ARGUMENTS);
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.start).toBe(`node ${HOST_NODE_ARGUMENTS} dist/local/start.js`);
  });

  it('with a heap that leaves the instance room: at most half its memory', () => {
    const heapMB = Number(/--max-old-space-size=(\d+)/.exec(HOST_NODE_ARGUMENTS)?.[1]);
    expect(heapMB).toBeGreaterThan(0);
    expect(heapMB).toBeLessThanOrEqual(instanceMemoryMB / 2);
  });

  it('reads the template the way it is deployed, and notices another expression', () => {
    expect(evaluateBicepString("'--max-old-space-size=${instanceMemoryMB / 2}'", { instanceMemoryMB: 4096 })).toBe(
      '--max-old-space-size=2048',
    );
    expect(evaluateBicepString("'--max-old-space-size=${instanceMemoryMB}'", { instanceMemoryMB: 4096 })).toBeUndefined();
    expect(evaluateBicepString("'--max-old-space-size=${heap / 2}'", { instanceMemoryMB: 4096 })).toBeUndefined();
    expect(evaluateBicepString('concat(a, b)', { instanceMemoryMB: 4096 })).toBeUndefined();
  });
});

describe('infra/ templates hold together', () => {
  const main = readBicep(join(infra, 'main.bicep'));

  it('passes every module the parameters it declares and requires, and reads only outputs that exist', () => {
    expect(main.modules.map((m) => m.symbol).sort()).toEqual([
      'access',
      'alerts',
      'functionApp',
      'identity',
      'monitoring',
      'sessionStorage',
      'storage',
      'vault',
    ]);
    expect(moduleProblems(main)).toEqual([]);
  });

  it('alerts on the metrics the code emits, each rule with its entry in the runbook', () => {
    const alerts = readFileSync(join(infra, 'modules', 'alerts.bicep'), 'utf8');
    const readme = readFileSync(join(root, 'docs', 'operations.md'), 'utf8');
    const onCall = readme.slice(readme.indexOf('## On call'), readme.indexOf('\n## ', readme.indexOf('## On call') + 5));
    expect(onCall.length).toBeGreaterThan(500);
    const emitted = new Set<string>([...Object.values(METRICS), ...SPAN_ATTRIBUTES]);
    // Every metric (or span attribute) a query or the runbook names is one the code emits (a rename breaks here, not in production).
    const named = [...`${alerts}\n${onCall}`.matchAll(/veriproof\.[a-z_.]+[a-z_]/g)].map((m) => m[0]);
    expect(named.length).toBeGreaterThan(5);
    expect(named.filter((name) => !emitted.has(name))).toEqual([]);
    // Every rule has its section in the runbook, and goes to the action group mailed at the given address.
    const ruleList = alerts.slice(alerts.indexOf('var rules = ['), alerts.indexOf('resource alertRules'));
    const rules = [...ruleList.matchAll(/^\s+name: '([a-z-]+)'$/gm)].map((m) => m[1]!);
    expect(rules).toEqual([
      'server-errors',
      'dependency-unavailable',
      'storage-throttling',
      'revocation-feed-lag',
      'key-vault-failures',
      'invalid-keys-one-customer',
    ]);
    for (const rule of rules) expect(onCall).toContain(`\`${rule}\``);
    expect(alerts).toMatch(/emailAddress: alertEmail/);
    expect(alerts).toMatch(/actionGroups: \[actionGroup\.id\]/);
    // Each query is one line of KQL whose quotes and brackets balance.
    for (const [, query] of alerts.matchAll(/query: '(.*)'$/gm)) {
      const text = query!.replace(/\\'/g, "'");
      expect((text.match(/"/g) ?? []).length % 2).toBe(0);
      expect((text.match(/\(/g) ?? []).length).toBe((text.match(/\)/g) ?? []).length);
      expect(text).toMatch(/^(let |requests|customMetrics)/);
    }
  });

  it('queues webhook deliveries where the queue trigger listens: one account, one queue name', () => {
    // The app sends to QUEUES_ENDPOINT; the trigger listens through AzureWebJobsStorage (the host's account).
    const functionApp = main.modules.find((m) => m.symbol === 'functionApp')!;
    const block = blockAt(main.text, main.text.indexOf("module functionApp 'modules/function-app.bicep'"));
    expect(functionApp.params).toEqual(expect.arrayContaining(['queueEndpoint', 'storageAccountName']));
    expect(block).toMatch(/^\s*queueEndpoint: storage\.outputs\.queueEndpoint$/m);
    expect(block).toMatch(/^\s*storageAccountName: storage\.outputs\.name$/m);
    expect(templateAppSettings().QUEUES_ENDPOINT).toBe('queueEndpoint');
    const storage = readFileSync(join(infra, 'modules', 'storage.bicep'), 'utf8');
    expect(storage).toMatch(/output queueEndpoint string = 'https:\/\/\$\{account\.name\}\.queue\./);
    expect(storage).toMatch(new RegExp(`param webhookQueueName string = '${queueName('', 'webhookDeliveries')}'`));
  });

  it('the dev parameters file names only parameters of main.bicep and gives every required one', () => {
    const file = JSON.parse(readFileSync(join(infra, 'main.parameters.json'), 'utf8')) as { parameters: Record<string, unknown> };
    const given = Object.keys(file.parameters);
    expect(given.filter((name) => !main.params.has(name))).toEqual([]);
    const required = [...main.params].filter(([, p]) => !p.hasDefault).map(([name]) => name);
    expect(required.filter((name) => !given.includes(name))).toEqual([]);
  });

  it('grants the identity only data-plane roles, each on its own resource', () => {
    const access = readBicep(join(infra, 'modules', 'access.bicep'));
    const roles = entries(blockAt(access.text, access.text.indexOf('var roles = {'))).map((e) => e.key);
    expect(roles.sort()).toEqual([
      'keyVaultSecretsOfficer',
      'monitoringMetricsPublisher',
      'storageBlobDataOwner',
      'storageQueueDataContributor',
      'storageTableDataContributor',
    ]);
    const scopes = [...access.text.matchAll(/^\s*scope:\s*(\w+(?:\[\w+\])?)\s*$/gm)].map((m) => m[1] ?? '');
    expect(scopes.sort()).toEqual(['appInsights', 'sessionAccounts[i]', 'storage', 'storage', 'storage', 'vault']);
    // No Owner, Contributor or account-key role anywhere in infra/.
    const everything = [
      'main.bicep',
      'modules/access.bicep',
      'modules/storage.bicep',
      'modules/session-storage.bicep',
      'modules/key-vault.bicep',
      'modules/function-app.bicep',
    ]
      .map((f) => readFileSync(join(infra, f), 'utf8'))
      .join('\n');
    expect(everything).not.toMatch(
      /listKeys|8e3af657-a8ff-443c-a75c-2fe8c4bcb635|b24988ac-6180-42a0-ab88-20f7382dd24c|17d1049b-9a84-46fb-8f53-869881c3d3ab/,
    );
    expect(readFileSync(join(infra, 'modules', 'storage.bicep'), 'utf8')).toMatch(/allowSharedKeyAccess:\s*false/);
    expect(readFileSync(join(infra, 'modules', 'session-storage.bicep'), 'utf8')).toMatch(/allowSharedKeyAccess:\s*false/);
  });

  it('azure.yaml deploys service "api" to the app tagged for it', () => {
    const yaml = readFileSync(join(root, 'azure.yaml'), 'utf8');
    expect(yaml).toMatch(/services:\s*\n\s+api:\s*\n(\s+\w+: .+\n)*\s+host: function/);
    expect(readFileSync(join(infra, 'modules', 'function-app.bicep'), 'utf8')).toMatch(/'azd-service-name': 'api'/);
  });

  it('.funcignore ships what the remote build compiles and leaves node_modules to it', () => {
    const patterns = readFileSync(join(root, '.funcignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim().replace(/\/$/, ''))
      .filter((l) => l && !l.startsWith('#'));
    const ignored = (path: string): boolean =>
      patterns.some((p) => {
        const re = new RegExp('^' + p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*') + '(/|$)');
        return path.split('/').some((_, i, parts) => re.test(parts.slice(i).join('/')));
      });
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    const tsconfigs = [...(pkg.scripts.build ?? '').matchAll(/-p (\S+)/g)].map((m) => m[1] ?? '');
    expect(tsconfigs.length).toBeGreaterThan(0);
    for (const t of tsconfigs) expect({ t, ignored: ignored(t) }).toEqual({ t, ignored: false });
    for (const shipped of [
      'host.json',
      'package.json',
      'package-lock.json',
      'functions/index.ts',
      'portal/public/index.html',
      'portal/src/main.ts',
    ])
      expect({ shipped, ignored: ignored(shipped) }).toEqual({ shipped, ignored: false });
    // azd refuses remoteBuild when node_modules would be uploaded.
    expect(ignored('node_modules')).toBe(true);
    expect(ignored('local.settings.json')).toBe(true);
  });
});
