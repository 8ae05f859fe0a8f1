import { isRestError } from '@azure/core-rest-pipeline';
import { DependencyUnavailableError } from '../errors';

/**
 * What an error thrown by an Azure SDK call (Table Storage, Key Vault) means to the service.
 * The adapters decide with this one classifier, so the same failure surfaces the same way
 * whichever dependency it came from:
 * - `absent`: the thing addressed does not exist (404; for Key Vault, a disabled version);
 *   readers turn it into `undefined` with {@link absentIfNotFound};
 * - `conflict`: a write lost to another (409 exists, 412 changed since read); the adapter
 *   that made the write decides what that means from {@link statusOf};
 * - `unavailable`: no answer (network failure, our own timeout) or a server-side failure
 *   (408, 429, 5xx): a 503 and retry later. Throttling is here too: the SDK's retry policy
 *   already waited as long as the service asked before the error reached us;
 * - `denied`: the service refuses our identity, or no token could be had for it (401, 403, a
 *   managed identity without an endpoint). A deployment fault the caller cannot fix and the
 *   code did not cause: also a 503, since a role assignment takes minutes to propagate;
 * - `bug`: anything else, our own mistake (a TypeError, a 400 for a request we built wrong).
 *   It surfaces unchanged so the error boundary logs its stack and answers 500, never a
 *   "retry later" that would hide it.
 */
export type AzureErrorClass = 'absent' | 'conflict' | 'unavailable' | 'denied' | 'bug';

export function classifyAzureError(error: unknown): AzureErrorClass {
  if (isRestError(error)) return classifyAnswer(error.statusCode, error.details);
  if (isTimeout(error) || isNetworkFailure(error)) return 'unavailable';
  if (isCredentialFailure(error)) return 'denied';
  return 'bug';
}

/** The HTTP status of a service's answer; `undefined` when there was no answer or no SDK error. */
export function statusOf(error: unknown): number | undefined {
  return isRestError(error) ? error.statusCode : undefined;
}

/** The value of a read, or `undefined` when what it reads is absent; any other error is rethrown. */
export async function absentIfNotFound<T>(read: Promise<T>): Promise<T | undefined> {
  try {
    return await read;
  } catch (error) {
    if (classifyAzureError(error) === 'absent') return undefined;
    throw error;
  }
}

/**
 * What an adapter throws for an SDK error: {@link DependencyUnavailableError} (503) for the
 * classes no caller can act on, the error itself for the answers callers handle and for bugs.
 */
export function toDependencyError(dependency: string, error: unknown): unknown {
  if (error instanceof DependencyUnavailableError) return error;
  switch (classifyAzureError(error)) {
    case 'unavailable':
    case 'denied':
      return new DependencyUnavailableError(dependency, error);
    case 'absent':
    case 'conflict':
    case 'bug':
      return error;
  }
}

/** A service's answer by its status. A RestError without one got no answer: the request could not be sent or read. */
function classifyAnswer(status: number | undefined, details: unknown): AzureErrorClass {
  if (status === undefined) return 'unavailable';
  if (status === 404 || isDisabledSecret(status, details)) return 'absent';
  if (status === 409 || status === 412) return 'conflict';
  if (status === 401 || status === 403) return 'denied';
  if (status === 408 || status === 429 || status >= 500) return 'unavailable';
  return 'bug';
}

/** Key Vault refuses to read a disabled version with a 403 whose inner code says so. */
function isDisabledSecret(status: number, details: unknown): boolean {
  const inner = (details as { error?: { innerError?: { code?: unknown } } } | undefined)?.error?.innerError;
  return status === 403 && inner?.code === 'SecretDisabled';
}

/**
 * Our own `AbortSignal.timeout` firing: the SDK rejects with an `AbortError`, code that rethrows
 * the signal's reason with a `TimeoutError`. The adapters pass no other signal.
 */
function isTimeout(error: unknown): boolean {
  const name = propertyOf(error, 'name');
  return name === 'AbortError' || name === 'TimeoutError';
}

/** Node's codes for a connection that could not be made or was lost ("socket hang up" is ECONNRESET). */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
]);

function isNetworkFailure(error: unknown): boolean {
  return NETWORK_CODES.has(String(propertyOf(error, 'code')));
}

/** Errors of @azure/identity (matched by name: the pipeline rethrows them as they are). */
const CREDENTIAL_ERRORS = new Set(['CredentialUnavailableError', 'AuthenticationError', 'AggregateAuthenticationError']);

function isCredentialFailure(error: unknown): boolean {
  return CREDENTIAL_ERRORS.has(String(propertyOf(error, 'name')));
}

/**
 * A property of a thrown object, read without `instanceof Error`: a `DOMException` (the timeout's
 * reason) or an error from another realm is not an instance of this realm's Error.
 */
function propertyOf(error: unknown, property: 'name' | 'code'): unknown {
  return typeof error === 'object' && error !== null ? (error as Record<string, unknown>)[property] : undefined;
}
