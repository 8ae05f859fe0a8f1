/**
 * Ready identity-token providers: GitHub Actions, Azure (managed identity, workload identity, ...),
 * Google (the metadata server) and a token file (Kubernetes' projected service-account tokens).
 * Give one as `configureVeriproof({ identityTokenProvider, customer })`. The SDK calls it only when
 * it exchanges (at the first export, then ahead of each ingest token's expiry), so nothing is
 * cached here. Failures are {@link IdentityTokenError}s that say what to fix, never a token.
 */

import { open } from 'node:fs/promises';
import { errorName, IdentityTokenError, USER_AGENT, type IdentityTokenContext, type IdentityTokenProvider } from './federation';

export const GITHUB_REQUEST_URL_ENV = 'ACTIONS_ID_TOKEN_REQUEST_URL';
export const GITHUB_REQUEST_TOKEN_ENV = 'ACTIONS_ID_TOKEN_REQUEST_TOKEN';

export interface GitHubActionsIdentityTokenOptions {
  /** The token's `aud`; default the customer's slug (the `customer` option), the trust policy's audience. */
  audience?: string;
  /** Bound on the request to GitHub. Default 10 s. */
  timeoutMillis?: number;
}

/**
 * The job's OIDC token from GitHub Actions. The job needs `permissions: id-token: write`, which
 * makes GitHub set `ACTIONS_ID_TOKEN_REQUEST_URL` and `ACTIONS_ID_TOKEN_REQUEST_TOKEN`; the token
 * is asked for with `GET {ACTIONS_ID_TOKEN_REQUEST_URL}&audience={audience}` and
 * `Authorization: bearer {ACTIONS_ID_TOKEN_REQUEST_TOKEN}`. Its issuer is
 * `https://token.actions.githubusercontent.com`, its subject `repo:{owner}/{repo}:ref:refs/heads/{branch}`
 * (or `...:environment:{name}`, `...:pull_request`).
 */
export function githubActionsIdentityToken(options: GitHubActionsIdentityTokenOptions = {}): IdentityTokenProvider {
  if (options.audience !== undefined && (typeof options.audience !== 'string' || options.audience.trim() === '')) {
    throw new TypeError("githubActionsIdentityToken's audience must be a non-empty string.");
  }
  return async (context?: IdentityTokenContext) => {
    const audience = options.audience ?? context?.customer;
    if (!audience) throw new IdentityTokenError('githubActionsIdentityToken needs an audience (the SDK gives the customer slug).');
    const url = process.env[GITHUB_REQUEST_URL_ENV]?.trim();
    const requestToken = process.env[GITHUB_REQUEST_TOKEN_ENV]?.trim();
    if (!url || !requestToken) {
      throw new IdentityTokenError(
        `${GITHUB_REQUEST_URL_ENV} and ${GITHUB_REQUEST_TOKEN_ENV} are not set: run in a GitHub Actions job with \`permissions: id-token: write\`.`,
      );
    }
    let response: Response;
    let text: string;
    try {
      response = await fetch(`${url}${url.includes('?') ? '&' : '?'}audience=${encodeURIComponent(audience)}`, {
        headers: { authorization: `bearer ${requestToken}`, accept: 'application/json', 'user-agent': USER_AGENT },
        redirect: 'manual',
        signal: AbortSignal.timeout(options.timeoutMillis ?? 10_000),
      });
      text = await response.text();
    } catch (error) {
      throw new IdentityTokenError(`GitHub Actions' token endpoint could not be reached (${errorName(error)}).`);
    }
    if (response.status !== 200) {
      throw new IdentityTokenError(
        `GitHub Actions' token endpoint answered ${response.status}; check the job's \`permissions: id-token: write\`.`,
      );
    }
    let value: unknown;
    try {
      value = (JSON.parse(text) as { value?: unknown } | null)?.value;
    } catch {
      value = undefined;
    }
    if (typeof value !== 'string' || value === '') throw new IdentityTokenError("GitHub Actions' token endpoint answered without a token.");
    return value;
  };
}

/**
 * What {@link azureIdentityToken} needs of a credential: `@azure/identity`'s credentials
 * (`DefaultAzureCredential`, `ManagedIdentityCredential`, `WorkloadIdentityCredential`, ...).
 */
export interface AzureTokenCredential {
  getToken(scopes: string | string[], options?: object): Promise<{ token: string } | null>;
}

export interface AzureIdentityTokenOptions {
  /** The scope to ask a token for: `api://{app-id}/.default`, the app registration that stands for Veriproof in your tenant. */
  scope: string;
  /** Default: `@azure/identity`'s `DefaultAzureCredential`, loaded at the first exchange. */
  credential?: AzureTokenCredential;
}

const AZURE_IDENTITY = '@azure/identity';

/**
 * `@azure/identity`'s `DefaultAzureCredential`, imported only now: the package is an optional peer
 * dependency (`npm install @azure/identity`), needed only by {@link azureIdentityToken} without a credential.
 */
export async function loadDefaultAzureCredential(
  importer: (specifier: string) => Promise<unknown> = (specifier) => import(specifier),
): Promise<AzureTokenCredential> {
  let identity: { DefaultAzureCredential?: new () => AzureTokenCredential };
  try {
    identity = (await importer(AZURE_IDENTITY)) as typeof identity;
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw new IdentityTokenError(
        'azureIdentityToken needs the @azure/identity package: npm install @azure/identity (or give it a credential of your own).',
      );
    }
    throw new IdentityTokenError(`The @azure/identity package could not be loaded (${errorName(error)}).`);
  }
  const DefaultAzureCredential = identity.DefaultAzureCredential;
  if (typeof DefaultAzureCredential !== 'function') {
    throw new IdentityTokenError('The @azure/identity package found has no DefaultAzureCredential: install @azure/identity 4 or later.');
  }
  return new DefaultAzureCredential();
}

/**
 * A Microsoft Entra token for `scope`, from `@azure/identity`'s `DefaultAzureCredential` (managed
 * identity, workload identity, environment, Azure CLI, ...) or the `credential` given; the
 * credential caches and renews its own tokens. With the app registration's
 * `requestedAccessTokenVersion` at 2, the token's issuer is
 * `https://login.microsoftonline.com/{tenant}/v2.0`, its audience the app's client id and its
 * subject the workload identity's object id.
 */
export function azureIdentityToken(options: AzureIdentityTokenOptions): IdentityTokenProvider {
  const scope = typeof options?.scope === 'string' ? options.scope.trim() : '';
  if (scope === '') throw new TypeError("azureIdentityToken needs a scope, e.g. 'api://<app-id>/.default'.");
  let credential: Promise<AzureTokenCredential> | undefined = options.credential ? Promise.resolve(options.credential) : undefined;
  return async () => {
    if (!credential) {
      credential = loadDefaultAzureCredential();
      credential.catch(() => (credential = undefined)); // a failed load is tried again at the next exchange
    }
    const loaded = await credential;
    let token: unknown;
    try {
      token = (await loaded.getToken(scope))?.token;
    } catch (error) {
      throw new IdentityTokenError(
        `The Azure credential could not get a token for ${scope} (${errorName(error)}); ` +
          'check the identity the workload runs as and the app registration behind the scope.',
      );
    }
    if (typeof token !== 'string' || token === '') throw new IdentityTokenError(`The Azure credential returned no token for ${scope}.`);
    return token;
  };
}

export const GCE_METADATA_HOST_ENV = 'GCE_METADATA_HOST';
const GOOGLE_METADATA_HOST = 'metadata.google.internal';
const GOOGLE_IDENTITY_PATH = '/computeMetadata/v1/instance/service-accounts/default/identity';

export interface GoogleIdentityTokenOptions {
  /** The token's `aud`; default the customer's slug (the `customer` option), the trust policy's audience. */
  audience?: string;
  /** Bound on the request to the metadata server. Default 10 s. */
  timeoutMillis?: number;
}

/**
 * The metadata server's base URL: `GCE_METADATA_HOST` (`host[:port]`, as Google's client libraries
 * read it; a scheme is kept if given), else `http://metadata.google.internal`.
 */
export function googleMetadataBase(env: NodeJS.ProcessEnv = process.env): string {
  const host = env[GCE_METADATA_HOST_ENV]?.trim() || GOOGLE_METADATA_HOST;
  return (/^https?:\/\//i.test(host) ? host : `http://${host}`).replace(/\/+$/, '');
}

/**
 * An identity token of the service account the workload runs as on Google Cloud (Compute Engine,
 * GKE with Workload Identity, Cloud Run, Cloud Functions, App Engine), from the metadata server:
 * `GET http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/identity?audience={audience}&format=full`
 * with `Metadata-Flavor: Google`. `GCE_METADATA_HOST` points it elsewhere, as it does Google's
 * client libraries. The token's issuer is `https://accounts.google.com`, its subject the service
 * account's unique id (a number), its `email` the service account's address.
 */
export function googleIdentityToken(options: GoogleIdentityTokenOptions = {}): IdentityTokenProvider {
  if (options.audience !== undefined && (typeof options.audience !== 'string' || options.audience.trim() === '')) {
    throw new TypeError("googleIdentityToken's audience must be a non-empty string.");
  }
  return async (context?: IdentityTokenContext) => {
    const audience = options.audience ?? context?.customer;
    if (!audience) throw new IdentityTokenError('googleIdentityToken needs an audience (the SDK gives the customer slug).');
    const base = googleMetadataBase();
    let response: Response;
    let text: string;
    try {
      response = await fetch(`${base}${GOOGLE_IDENTITY_PATH}?audience=${encodeURIComponent(audience)}&format=full`, {
        headers: { 'metadata-flavor': 'Google', 'user-agent': USER_AGENT },
        redirect: 'manual',
        signal: AbortSignal.timeout(options.timeoutMillis ?? 10_000),
      });
      text = await response.text();
    } catch (error) {
      throw new IdentityTokenError(
        `The metadata server at ${base} could not be reached (${errorName(error)}): run on Google Cloud, or set ${GCE_METADATA_HOST_ENV}.`,
      );
    }
    if (response.status !== 200) {
      throw new IdentityTokenError(
        `The metadata server answered ${response.status} for an identity token; check that the workload runs as a service account.`,
      );
    }
    // What Google's client libraries check too: a server that is not the metadata server does not say this.
    if (response.headers.get('metadata-flavor') !== 'Google') {
      throw new IdentityTokenError(`The server at ${base} is not a metadata server (no \`Metadata-Flavor: Google\` in its answer).`);
    }
    const token = text.trim();
    if (token === '' || /\s/.test(token)) throw new IdentityTokenError('The metadata server answered without a token.');
    return token;
  };
}

/** A token file larger than this is refused unread past it (a JWT is a few kilobytes). */
const MAX_TOKEN_FILE_BYTES = 64 * 1024;

/**
 * The identity token in a file, read again at every exchange: Kubernetes' projected
 * service-account token (a `serviceAccountToken` volume source with an `audience`), which the
 * kubelet rewrites before it expires; or any file a platform keeps fresh
 * (`AZURE_FEDERATED_TOKEN_FILE`, `AWS_WEB_IDENTITY_TOKEN_FILE`). A Kubernetes token's issuer is the
 * cluster's service-account issuer, its subject `system:serviceaccount:{namespace}:{name}`.
 */
export function fileIdentityToken(path: string): IdentityTokenProvider {
  if (typeof path !== 'string' || path.trim() === '') throw new TypeError('fileIdentityToken needs the path of the token file.');
  return async () => {
    let bytes: Buffer;
    try {
      const file = await open(path, 'r');
      try {
        const buffer = Buffer.alloc(MAX_TOKEN_FILE_BYTES + 1);
        const { bytesRead } = await file.read(buffer, 0, buffer.length, 0);
        bytes = buffer.subarray(0, bytesRead);
      } finally {
        await file.close();
      }
    } catch (error) {
      const code = (error as { code?: unknown } | null)?.code;
      if (code === 'ENOENT') {
        throw new IdentityTokenError(
          `The identity token file ${path} does not exist: check the volume that projects it (its mountPath and path).`,
        );
      }
      throw new IdentityTokenError(
        `The identity token file ${path} could not be read (${typeof code === 'string' && /^E[A-Z]+$/.test(code) ? code : errorName(error)}).`,
      );
    }
    if (bytes.length > MAX_TOKEN_FILE_BYTES)
      throw new IdentityTokenError(`The identity token file ${path} is larger than 64 KiB: not a token.`);
    const token = bytes.toString('utf8').trim();
    if (token === '') throw new IdentityTokenError(`The identity token file ${path} is empty.`);
    if (/\s/.test(token))
      throw new IdentityTokenError(`The identity token file ${path} holds more than one token (it has whitespace inside).`);
    return token;
  };
}
