import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HttpRequest, InvocationContext } from '@azure/functions';
import { functionDefinitions } from '../../functions/registry';
import { testEnv } from '../support/services';

const readJson = <T>(file: string): T => JSON.parse(readFileSync(join(__dirname, '../..', file), 'utf8')) as T;

/**
 * What the Functions host receives: the real `app.http` / `app.timer` of @azure/functions
 * call `registerFunction` on the worker's core API. The worker provides that module at run
 * time; here a stand-in records the calls, so the test sees the actual metadata and handlers.
 */
const registered: Array<{ metadata: { name: string; bindings: Record<string, Record<string, unknown>> }; callback: unknown }> = [];
jest.mock(
  '@azure/functions-core',
  () => ({
    registerFunction: (metadata: never, callback: unknown) => {
      registered.push({ metadata, callback });
      return { dispose: () => {} };
    },
    setProgrammingModel: () => {},
    // Present on Functions hosts from v4.28, which HTTP streams need.
    log: () => {},
    getProgrammingModel: () => undefined,
    registerHook: () => ({ dispose: () => {} }),
    app: { functions: [] },
  }),
  { virtual: true },
);

describe('production registration (functions/index.ts)', () => {
  beforeAll(() => {
    Object.assign(process.env, testEnv());
    jest.isolateModules(() => {
      // Loading the entry point registers every function with the (mocked) app: that is the test.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      require('../../functions/index');
    });
  });

  it('registers exactly the declared list: names, routes, methods, anonymous', () => {
    const prefix = process.env.TABLES_PREFIX!.toLowerCase();
    const declared = functionDefinitions.map((d) =>
      d.kind === 'http'
        ? { name: d.name, type: 'httpTrigger', route: d.route, methods: [...d.methods], authLevel: 'anonymous' }
        : d.kind === 'timer'
          ? { name: d.name, type: 'timerTrigger', schedule: d.schedule }
          : // The queue the service sends to (its prefix applied), through the host's storage connection.
            { name: d.name, type: 'queueTrigger', queueName: `${prefix}webhook-deliveries`, connection: 'AzureWebJobsStorage' },
    );
    const actual = registered.map(({ metadata }) => {
      const trigger = Object.values(metadata.bindings).find((b) => b.direction === 'in')!;
      return trigger.type === 'httpTrigger'
        ? { name: metadata.name, type: trigger.type, route: trigger.route, methods: trigger.methods, authLevel: trigger.authLevel }
        : trigger.type === 'queueTrigger'
          ? { name: metadata.name, type: trigger.type, queueName: trigger.queueName, connection: trigger.connection }
          : { name: metadata.name, type: trigger.type, schedule: trigger.schedule };
    });
    expect(declared.filter((d) => d.type === 'queueTrigger')).toHaveLength(1);
    expect(actual).toEqual(declared);
    expect(registered.length).toBeGreaterThan(0);
  });

  it('turns on HTTP streams before registering, so no body is read before its handler asks', () => {
    const source = readFileSync(join(__dirname, '../../functions/index.ts'), 'utf8');
    const setup = source.indexOf('app.setup({ enableHttpStream: true })');
    expect(setup).toBeGreaterThan(0);
    const registration = source.search(/registerFunctions\(\s*functionDefinitions/);
    expect(registration).toBeGreaterThan(0);
    expect(setup).toBeLessThan(registration);
  });

  it('gives every HTTP function an http output binding and a handler that answers', async () => {
    const health = registered.find((r) => r.metadata.name === 'health')!;
    expect(Object.values(health.metadata.bindings).some((b) => b.direction === 'out' && b.type === 'http')).toBe(true);
    const handler = health.callback as (req: HttpRequest, ctx: InvocationContext) => Promise<{ status: number }>;
    const response = await handler(
      new HttpRequest({ method: 'GET', url: 'http://localhost/v1/health' }),
      new InvocationContext({ invocationId: 'reg-1', logHandler: () => {} }),
    );
    expect([200, 503]).toContain(response.status);
  });

  it('has routes without a leading slash (host.json routePrefix is empty) and unique names', () => {
    const host = readJson<{ extensions: { http: { routePrefix: string } } }>('host.json');
    expect(host.extensions.http.routePrefix).toBe('');
    const names = functionDefinitions.map((d) => d.name);
    expect(new Set(names).size).toBe(names.length);
    for (const d of functionDefinitions) if (d.kind === 'http') expect(d.route).toMatch(/^(v1|portal|docs)\//);
  });
});

describe('func start compatibility', () => {
  it('has the files Core Tools reads', () => {
    const pkg = readJson<{ main: string; engines: { node: string } }>('package.json');
    expect(pkg.main).toBe('dist/functions/*.js');
    expect(pkg.engines.node).toMatch(/22/);
    const host = readJson<{ version: string; extensionBundle: { id: string; version: string } }>('host.json');
    expect(host.version).toBe('2.0');
    expect(host.extensionBundle).toEqual({ id: 'Microsoft.Azure.Functions.ExtensionBundle', version: '[4.*, 5.0.0)' });
    const sample = readJson<{ Values: Record<string, string> }>('local.settings.sample.json');
    expect(sample.Values).toMatchObject({ FUNCTIONS_WORKER_RUNTIME: 'node', AzureWebJobsStorage: 'UseDevelopmentStorage=true' });
  });
});
