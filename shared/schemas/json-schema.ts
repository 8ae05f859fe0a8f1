import type { ZodType } from 'zod';

export type JsonSchema = Record<string, unknown>;

/**
 * What the OpenAPI document says of a schema whose rule zod cannot convert by itself (a
 * refinement, a transform): kept beside the schema and applied by the document's generator
 * (functions/openapi-document.ts), so that what is declared is what is validated. `merge` adds
 * keywords; `replace` states the whole JSON Schema (for inputs parsed from text, such as a query
 * number). Lazily built: the document is generated once, on first request.
 */
const statements = new WeakMap<ZodType, { build: () => JsonSchema; mode: 'merge' | 'replace' }>();

export function documentedAs<T extends ZodType>(schema: T, build: () => JsonSchema, mode: 'merge' | 'replace' = 'merge'): T {
  statements.set(schema, { build, mode });
  return schema;
}

/** Applies what `documentedAs` stated for this schema to its converted JSON Schema, in place. */
export function applyDocumentedAs(schema: unknown, converted: JsonSchema): void {
  const statement = statements.get(schema as ZodType);
  if (!statement) return;
  if (statement.mode === 'replace') for (const key of Object.keys(converted)) delete converted[key];
  Object.assign(converted, statement.build());
}
