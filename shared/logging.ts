import type { InvocationContext } from '@azure/functions';

/**
 * Structured logging with a safety net. The service never logs a key, a secret or a hash on
 * purpose (it logs key ids and display prefixes); {@link redact} is the net for text it does
 * not control, such as the message of a storage error.
 */
export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

const COMPOUND_KEY = /vp_cust_([a-z0-9-]{1,32})\.[A-Za-z0-9_.-]+/g;
const HEX_HASH = /\b[0-9a-f]{64}\b/gi;

/** Removes anything shaped like a compound key or a SHA-256 hash from free text. */
export function redact(text: string): string {
  return text.replace(COMPOUND_KEY, 'vp_cust_$1.[redacted]').replace(HEX_HASH, '[redacted-hash]');
}

/** Turns an error into loggable fields: name, message, code and status, never its request. */
export function describeError(error: unknown): Record<string, unknown> {
  if (error instanceof Error) {
    const e = error as Error & { code?: unknown; statusCode?: unknown };
    const fields: Record<string, unknown> = { error: e.name, message: redact(e.message) };
    if (typeof e.code === 'string' || typeof e.code === 'number') fields.errorCode = e.code;
    if (typeof e.statusCode === 'number') fields.statusCode = e.statusCode;
    if (e.cause !== undefined) fields.cause = describeError(e.cause);
    return fields;
  }
  return { error: redact(String(error)) };
}

function format(message: string, fields?: Record<string, unknown>): string {
  if (!fields || Object.keys(fields).length === 0) return redact(message);
  return redact(`${message} ${JSON.stringify(fields)}`);
}

/** Logs through a Functions invocation context, so Application Insights correlates the lines. */
export function invocationLogger(context: InvocationContext): Logger {
  return {
    info: (message, fields) => context.info(format(message, fields)),
    warn: (message, fields) => context.warn(format(message, fields)),
    error: (message, fields) => context.error(format(message, fields)),
  };
}

/** Logs outside an invocation (background probes, start-up). */
export const processLogger: Logger = {
  info: (message, fields) => console.info(format(message, fields)),
  warn: (message, fields) => console.warn(format(message, fields)),
  error: (message, fields) => console.error(format(message, fields)),
};

/** Discards everything; for unit tests that do not look at logs. */
export const silentLogger: Logger = { info: () => {}, warn: () => {}, error: () => {} };
