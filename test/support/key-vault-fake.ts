import { createHttpHeaders, RestError, type HttpClient, type PipelineRequest, type PipelineResponse } from '@azure/core-rest-pipeline';
import type { AccessToken, TokenCredential } from '@azure/identity';
import { randomBytes } from 'node:crypto';

/**
 * An in-process fake of the Key Vault secrets REST API, handed to the real `SecretClient` as
 * its `httpClient`. It speaks challenge-based auth like the service: a request without a
 * bearer token gets a 401 with `WWW-Authenticate`, the client fetches a token for the named
 * resource and retries. It keeps versions, honours `enabled`, counts requests and can fail
 * like an unreachable vault.
 */

export const FAKE_VAULT_URL = 'https://fake-vault.vault.azure.net';
const TOKEN = `fake-token-${randomBytes(6).toString('hex')}`;

/** A credential that hands out the fake vault's token and remembers the scopes it was asked for. */
export class FakeCredential implements TokenCredential {
  readonly scopes: string[] = [];
  async getToken(scopes: string | string[]): Promise<AccessToken> {
    this.scopes.push(...(Array.isArray(scopes) ? scopes : [scopes]));
    return { token: TOKEN, expiresOnTimestamp: Date.now() + 3_600_000 };
  }
}

interface Version {
  id: string;
  value: string;
  enabled: boolean;
  created: number;
  updated: number;
  contentType: string | undefined;
  tags: Record<string, string> | undefined;
}

export class FakeKeyVault implements HttpClient {
  private readonly secrets = new Map<string, Version[]>();
  /** Requests that reached the vault with a valid token (the challenge round trips are not counted). */
  requests = 0;
  challenges = 0;
  /** `network`: every call fails to connect; a number: every call answers that status. */
  failure: 'network' | number | undefined;

  async sendRequest(request: PipelineRequest): Promise<PipelineResponse> {
    if (this.failure === 'network') {
      throw new RestError('connect ECONNREFUSED fake-vault', { code: 'REQUEST_SEND_ERROR', request });
    }
    const auth = request.headers.get('authorization');
    if (auth !== `Bearer ${TOKEN}`) {
      this.challenges += 1;
      return this.respond(
        request,
        401,
        { error: { code: 'Unauthorized', message: 'AKV10000: Request is missing a Bearer or PoP token.' } },
        {
          'www-authenticate':
            'Bearer authorization="https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000", resource="https://vault.azure.net"',
        },
      );
    }
    this.requests += 1;
    if (typeof this.failure === 'number') {
      const error =
        this.failure === 403
          ? {
              code: 'Forbidden',
              message: 'Caller is not authorized to perform action on resource.',
              innererror: { code: 'ForbiddenByRbac' },
            }
          : { code: 'ServiceUnavailable', message: 'The vault is unavailable.' };
      return this.respond(request, this.failure, { error });
    }
    const url = new URL(request.url);
    const [, collection, name, version] = url.pathname.split('/');
    if (collection !== 'secrets' || !name) return this.respond(request, 404, { error: { code: 'NotFound', message: 'Not found' } });
    const body = typeof request.body === 'string' ? (JSON.parse(request.body) as Record<string, any>) : {};

    if (request.method === 'PUT' && !version) {
      const now = Math.floor(Date.now() / 1000);
      const entry: Version = {
        id: randomBytes(16).toString('hex'),
        value: String(body.value),
        enabled: body.attributes?.enabled ?? true,
        created: now,
        updated: now,
        contentType: body.contentType,
        tags: body.tags,
      };
      this.secrets.set(name, [...(this.secrets.get(name) ?? []), entry]);
      return this.respond(request, 200, this.bundle(name, entry, true));
    }
    const versions = this.secrets.get(name) ?? [];
    const found = version ? versions.find((v) => v.id === version) : versions.at(-1);
    if (!found)
      return this.respond(request, 404, {
        error: { code: 'SecretNotFound', message: `A secret with (name/id) ${name}/${version ?? ''} was not found in this key vault.` },
      });
    if (request.method === 'GET') {
      if (!found.enabled)
        return this.respond(request, 403, {
          error: {
            code: 'Forbidden',
            message: 'Operation get is not allowed on a disabled secret.',
            innererror: { code: 'SecretDisabled' },
          },
        });
      return this.respond(request, 200, this.bundle(name, found, true));
    }
    if (request.method === 'PATCH' && version) {
      if (typeof body.attributes?.enabled === 'boolean') found.enabled = body.attributes.enabled;
      if (body.contentType !== undefined) found.contentType = body.contentType;
      if (body.tags !== undefined) found.tags = body.tags;
      found.updated = Math.floor(Date.now() / 1000);
      return this.respond(request, 200, this.bundle(name, found, false));
    }
    return this.respond(request, 405, { error: { code: 'BadRequest', message: 'Unsupported' } });
  }

  /** Whether a version is enabled (`undefined`: no such version). */
  isEnabled(name: string, version: string): boolean | undefined {
    return this.secrets.get(name)?.find((v) => v.id === version)?.enabled;
  }

  versionCount(name: string): number {
    return this.secrets.get(name)?.length ?? 0;
  }

  private bundle(name: string, v: Version, withValue: boolean) {
    return {
      ...(withValue ? { value: v.value } : {}),
      id: `${FAKE_VAULT_URL}/secrets/${name}/${v.id}`,
      ...(v.contentType ? { contentType: v.contentType } : {}),
      ...(v.tags ? { tags: v.tags } : {}),
      attributes: {
        enabled: v.enabled,
        created: v.created,
        updated: v.updated,
        recoveryLevel: 'Recoverable+Purgeable',
        recoverableDays: 90,
      },
    };
  }

  private respond(request: PipelineRequest, status: number, body: unknown, headers: Record<string, string> = {}): PipelineResponse {
    return {
      request,
      status,
      headers: createHttpHeaders({
        'content-type': 'application/json; charset=utf-8',
        'x-ms-request-id': randomBytes(8).toString('hex'),
        ...headers,
      }),
      bodyAsText: JSON.stringify(body),
    };
  }
}
