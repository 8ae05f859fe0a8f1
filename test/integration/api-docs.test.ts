import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import type { ServiceContext } from '../../app/context';
import { problemOf, serveApp } from '../support/http';
import { testServices } from '../support/services';

/** The API reference at /docs over HTTP: its files, their headers, and nothing from elsewhere. */
describe('the API reference page', () => {
  let services: ServiceContext;
  let app: Awaited<ReturnType<typeof serveApp>>;

  beforeAll(async () => {
    services = testServices();
    app = await serveApp(services);
  });
  afterAll(async () => {
    await app?.close();
    await services?.dispose();
  });

  it('serves the page and the files it loads from this app, under the portal content security policy', async () => {
    const page = await app.fetch('/docs');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const portal = await app.fetch('/portal');
    expect(page.headers.get('content-security-policy')).toBe(portal.headers.get('content-security-policy'));
    expect(page.headers.get('content-security-policy')).not.toContain('unsafe');
    const html = await page.text();
    expect(html).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/); // no inline script
    expect(html).not.toMatch(/\sstyle="/);
    const loaded = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(loaded.filter((url) => /^(https?:)?\/\//.test(url))).toEqual([]);
    for (const url of loaded.filter((u) => u.startsWith('/docs/'))) {
      const response = await app.fetch(url);
      expect({ url, status: response.status }).toEqual({ url, status: 200 });
      expect(response.headers.get('etag')).toMatch(/^"[\w-]{22}"$/);
    }
    expect((await app.fetch('/docs/swagger-ui-bundle.js')).headers.get('content-type')).toBe('text/javascript; charset=utf-8');
  });

  it('refuses every other path with a 404 problem', async () => {
    for (const path of ['/docs/../package.json', '/docs/swagger-ui-bundle.js.map', '/docs/index.js', '/docs/%2e%2e/host.json']) {
      const response = await app.fetch(path);
      expect({ path, status: response.status }).toEqual({ path, status: 404 });
      expect((await problemOf(response)).code).toBe('not_found');
    }
  });
});

type Schema = Record<string, unknown>;
interface OpenApiDocument {
  paths: Record<string, Record<string, Schema>>;
  components: { schemas: Record<string, Schema>; securitySchemes: Record<string, Schema> };
}

/** Every JSON schema of the document a reader sees: components, parameters, JSON bodies and answers. */
function schemaRoots(document: OpenApiDocument): Array<[string, Schema]> {
  const roots: Array<[string, Schema]> = Object.entries(document.components.schemas).map(([name, schema]) => [name, schema]);
  const jsonContent = (where: string, content: unknown) => {
    for (const [type, media] of Object.entries((content ?? {}) as Record<string, { schema?: Schema; example?: unknown }>))
      if (/json$/.test(type) && media.schema) {
        roots.push([`${where} ${type}`, media.schema]);
        // A media type's own example (a problem of that status) is checked against its schema too.
        if (media.example !== undefined) roots.push([`${where} ${type} example`, { ...media.schema, examples: [media.example] }]);
      }
  };
  for (const [path, operations] of Object.entries(document.paths))
    for (const [method, operation] of Object.entries(operations)) {
      const where = `${method.toUpperCase()} ${path}`;
      for (const parameter of (operation.parameters ?? []) as Array<{ name: string; in: string; schema: Schema }>)
        roots.push([`${where} ${parameter.in} ${parameter.name}`, parameter.schema]);
      jsonContent(`${where} body`, (operation.requestBody as Schema | undefined)?.content);
      for (const [status, response] of Object.entries(operation.responses as Record<string, Schema>))
        jsonContent(`${where} ${status}`, response.content);
    }
  return roots;
}

/**
 * Walks a schema: `missing` gets each place a reader would see an invented value (a string,
 * number or integer, or an object of open keys, with no `examples` on it or on any schema around
 * it), `examples` each schema that carries its own. An enum's, a constant's or a boolean's
 * example is one of its own values: not invented, so not asked for.
 */
function walk(schema: unknown, where: string, covered: boolean, found: { missing: string[]; examples: Array<[string, Schema]> }): void {
  if (typeof schema !== 'object' || schema === null) return;
  const node = schema as Schema;
  if (Array.isArray(node.examples) && node.examples.length > 0) {
    found.examples.push([where, node]);
    covered = true;
  }
  if ('$ref' in node) return; // the component is walked on its own
  const types = ([] as unknown[]).concat(node.type ?? []);
  const chosen = 'enum' in node || 'const' in node;
  if (!covered && !chosen && types.some((t) => t === 'string' || t === 'number' || t === 'integer')) found.missing.push(where);
  const openKeys = node.properties
    ? node.additionalProperties !== undefined && node.additionalProperties !== false
    : node.additionalProperties !== false;
  if (!covered && types.includes('object') && openKeys) found.missing.push(`${where} (open keys)`);
  for (const [name, property] of Object.entries((node.properties ?? {}) as Record<string, unknown>))
    walk(property, `${where}.${name}`, covered, found);
  walk(node.items, `${where}[]`, covered, found);
  if (typeof node.additionalProperties === 'object') walk(node.additionalProperties, `${where}.*`, covered, found);
  for (const keyword of ['anyOf', 'oneOf', 'allOf'])
    for (const [i, part] of ((node[keyword] ?? []) as unknown[]).entries()) walk(part, `${where}|${keyword}${i}`, covered, found);
}

describe('the OpenAPI document the reference renders', () => {
  let services: ServiceContext;
  let app: Awaited<ReturnType<typeof serveApp>>;
  let document: OpenApiDocument;

  beforeAll(async () => {
    services = testServices();
    app = await serveApp(services);
    document = (await (await app.fetch('/v1/openapi.json')).json()) as OpenApiDocument;
  });
  afterAll(async () => {
    await app?.close();
    await services?.dispose();
  });

  it('gives every value a reader sees an example of its own, so the page shows no invented values', () => {
    const found = { missing: [] as string[], examples: [] as Array<[string, Schema]> };
    for (const [where, schema] of schemaRoots(document)) walk(schema, where, false, found);
    expect(found.missing).toEqual([]);
    expect(found.examples.length).toBeGreaterThan(20);
  });

  it('gives examples that its own schemas accept', () => {
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats(ajv);
    ajv.addSchema({ components: document.components }, 'document.json');
    const found = { missing: [] as string[], examples: [] as Array<[string, Schema]> };
    for (const [where, schema] of schemaRoots(document)) walk(schema, where, false, found);
    const refused: unknown[] = [];
    for (const [where, schema] of found.examples) {
      const validate = ajv.compile(
        JSON.parse(JSON.stringify(schema).replaceAll('"#/components/', '"document.json#/components/')) as Schema,
      );
      for (const example of schema.examples as unknown[]) if (!validate(example)) refused.push({ where, example, errors: validate.errors });
    }
    expect(refused).toEqual([]);
  });

  it("offers in its Authorize dialog only the credentials a person uses; GitHub's signature is stated on its operation", () => {
    expect(Object.keys(document.components.securitySchemes).sort()).toEqual([
      'ApiKeyBearer',
      'ApiKeyHeader',
      'ManagementKeyHeader',
      'PortalToken',
    ]);
    const report = document.paths['/v1/secret-scanning/github']!.post!;
    expect(report.security).toEqual([]);
    const headers = (report.parameters as Array<{ name: string; in: string; required: boolean }>).filter((p) => p.in === 'header');
    expect(headers.map(({ name, required }) => ({ name: name.toLowerCase(), required }))).toEqual([
      { name: 'github-public-key-identifier', required: true },
      { name: 'github-public-key-signature', required: true },
    ]);
  });
});
