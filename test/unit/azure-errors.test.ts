import { AzureNamedKeyCredential, TableClient } from '@azure/data-tables';
import { RestError } from '@azure/core-rest-pipeline';
import { CredentialUnavailableError } from '@azure/identity';
import type { SecretClient } from '@azure/keyvault-secrets';
import { once } from 'node:events';
import { createServer, type Server } from 'node:net';
import { absentIfNotFound, classifyAzureError, type AzureErrorClass } from '../../shared/adapters/azure-errors';
import { KeyVaultSecretStore } from '../../shared/adapters/keyvault/key-vault-secret-store';
import { TableCustomerRepository } from '../../shared/adapters/table/table-customer-repository';
import { TableStorage } from '../../shared/adapters/table/table-storage';
import { DependencyUnavailableError } from '../../shared/errors';

/** An answer of the service, as the SDK throws it: status, service error code, parsed body. */
function answer(statusCode: number, code: string, details?: unknown): RestError {
  const error = new RestError(`${statusCode} ${code}`, { statusCode, code });
  error.details = details;
  return error;
}

/** A failure of the connection itself, as Node reports it (the SDK wraps these in a RestError without status). */
const systemError = (code: string, message: string) => Object.assign(new Error(message), { code, syscall: 'connect' });

async function reasonOf(signal: AbortSignal): Promise<unknown> {
  if (!signal.aborted) await once(signal, 'abort');
  return signal.reason;
}

const KEY_VAULT_DISABLED = answer(403, 'Forbidden', {
  error: { code: 'Forbidden', message: 'Operation get is not allowed on a disabled secret.', innerError: { code: 'SecretDisabled' } },
});
const KEY_VAULT_RBAC = answer(403, 'Forbidden', {
  error: { code: 'Forbidden', message: 'Caller is not authorized to perform action on resource.', innerError: { code: 'ForbiddenByRbac' } },
});

/** One realistic error of each kind, by the class it must fall in. */
const EXAMPLES: Array<[string, AzureErrorClass, () => unknown]> = [
  ['Table Storage 404 ResourceNotFound', 'absent', () => answer(404, 'ResourceNotFound')],
  ['Key Vault 404 SecretNotFound', 'absent', () => answer(404, 'SecretNotFound')],
  ['Key Vault 403 on a disabled version', 'absent', () => KEY_VAULT_DISABLED],
  ['Table Storage 409 EntityAlreadyExists', 'conflict', () => answer(409, 'EntityAlreadyExists')],
  ['Table Storage 412 UpdateConditionNotSatisfied', 'conflict', () => answer(412, 'UpdateConditionNotSatisfied')],
  [
    'a RestError without status (connection refused)',
    'unavailable',
    () => new RestError('connect ECONNREFUSED 127.0.0.1:10002', { code: 'ECONNREFUSED' }),
  ],
  [
    'a RestError without status (request not sent)',
    'unavailable',
    () => new RestError('socket hang up', { code: RestError.REQUEST_SEND_ERROR }),
  ],
  ['408 OperationTimedOut', 'unavailable', () => answer(408, 'OperationTimedOut')],
  ['429 throttled', 'unavailable', () => answer(429, 'TooManyRequests')],
  ['500 InternalError', 'unavailable', () => answer(500, 'InternalError')],
  ['503 ServerBusy', 'unavailable', () => answer(503, 'ServerBusy')],
  ['ECONNREFUSED', 'unavailable', () => systemError('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:443')],
  ['ECONNRESET (socket hang up)', 'unavailable', () => systemError('ECONNRESET', 'socket hang up')],
  ['ETIMEDOUT', 'unavailable', () => systemError('ETIMEDOUT', 'connect ETIMEDOUT 10.0.0.1:443')],
  ['ENOTFOUND', 'unavailable', () => systemError('ENOTFOUND', 'getaddrinfo ENOTFOUND acme.vault.azure.net')],
  ['EAI_AGAIN', 'unavailable', () => systemError('EAI_AGAIN', 'getaddrinfo EAI_AGAIN acme.table.core.windows.net')],
  ['the reason of our AbortSignal.timeout', 'unavailable', () => reasonOf(AbortSignal.timeout(1))],
  ['an AbortError', 'unavailable', () => reasonOf(AbortSignal.abort())],
  ['401 from the service', 'denied', () => answer(401, 'InvalidAuthenticationInfo')],
  [
    'Table Storage 403 AuthorizationPermissionMismatch (role not assigned yet)',
    'denied',
    () => answer(403, 'AuthorizationPermissionMismatch'),
  ],
  ['Key Vault 403 ForbiddenByRbac', 'denied', () => KEY_VAULT_RBAC],
  ['a managed identity that cannot get a token', 'denied', () => new CredentialUnavailableError('ManagedIdentityCredential: no endpoint')],
  ['a TypeError', 'bug', () => new TypeError("Cannot read properties of undefined (reading 'rowKey')")],
  ['a RangeError', 'bug', () => new RangeError('Invalid time value')],
  ['Table Storage 400 InvalidInput (a request we built wrong)', 'bug', () => answer(400, 'InvalidInput')],
  ['Key Vault 400 BadParameter', 'bug', () => answer(400, 'BadParameter')],
  ['Table Storage 413 RequestBodyTooLarge', 'bug', () => answer(413, 'RequestBodyTooLarge')],
];

describe('classifyAzureError', () => {
  it.each(EXAMPLES)('%s is %s', async (_name, expected, make) => {
    expect(classifyAzureError(await make())).toBe(expected);
  });

  describe('what the Table SDK itself throws', () => {
    let server: Server;
    let port: number;
    beforeAll(async () => {
      // Accepts connections and never answers: a service that hangs.
      server = createServer(() => undefined).listen(0, '127.0.0.1');
      await once(server, 'listening');
      port = (server.address() as { port: number }).port;
    });
    afterAll(() => server.close());

    const client = (url: string) =>
      new TableClient(url, 'probe', new AzureNamedKeyCredential('devstoreaccount1', Buffer.from('key').toString('base64')), {
        allowInsecureConnection: true,
        retryOptions: { maxRetries: 0 },
      });
    const thrownBy = (promise: Promise<unknown>) =>
      promise.then(
        () => undefined,
        (error: unknown) => error,
      );

    it('for a service that does not answer within our timeout is unavailable', async () => {
      const error = await thrownBy(
        client(`http://127.0.0.1:${port}/devstoreaccount1`).getEntity('a', 'b', { abortSignal: AbortSignal.timeout(50) }),
      );
      expect(classifyAzureError(error)).toBe('unavailable');
    });

    it('for a port nobody listens on is unavailable', async () => {
      const closed = createServer().listen(0, '127.0.0.1');
      await once(closed, 'listening');
      const unused = (closed.address() as { port: number }).port;
      await new Promise((closedDown) => closed.close(closedDown));
      const error = await thrownBy(
        client(`http://127.0.0.1:${unused}/devstoreaccount1`).getEntity('a', 'b', { abortSignal: AbortSignal.timeout(2000) }),
      );
      expect(classifyAzureError(error)).toBe('unavailable');
    });
  });
});

describe('absentIfNotFound', () => {
  it('passes a value through', async () => {
    expect(await absentIfNotFound(Promise.resolve('row'))).toBe('row');
  });

  it('reads an absent thing as undefined', async () => {
    expect(await absentIfNotFound(Promise.reject(answer(404, 'ResourceNotFound')))).toBeUndefined();
    expect(await absentIfNotFound(Promise.reject(KEY_VAULT_DISABLED))).toBeUndefined();
  });

  it('rethrows anything else unchanged', async () => {
    const conflict = answer(409, 'EntityAlreadyExists');
    await expect(absentIfNotFound(Promise.reject(conflict))).rejects.toBe(conflict);
    const bug = new TypeError('x is undefined');
    await expect(absentIfNotFound(Promise.reject(bug))).rejects.toBe(bug);
  });
});

/**
 * The same failure surfaces the same way from either dependency: through a Table adapter's read
 * (TableCustomerRepository.get) and through the Key Vault adapter's (KeyVaultSecretStore.getComponent),
 * each with its SDK call failing.
 */
describe('Table Storage and Key Vault adapters agree', () => {
  /** Tables that exist already, so a call goes straight to the (failing) SDK call. */
  class ExistingTables extends TableStorage {
    override ensureTables(): Promise<void> {
      return Promise.resolve();
    }
  }

  type Outcome = 'undefined' | 'dependency unavailable' | 'rethrown as it is';
  async function outcomeOf(read: Promise<unknown>, thrown: unknown): Promise<Outcome> {
    try {
      expect(await read).toBeUndefined();
      return 'undefined';
    } catch (error) {
      if (error instanceof DependencyUnavailableError) return 'dependency unavailable';
      expect(error).toBe(thrown);
      return 'rethrown as it is';
    }
  }

  function tableRead(thrown: unknown): Promise<unknown> {
    const storage = new ExistingTables({
      connectionString: 'UseDevelopmentStorage=true',
      endpoint: undefined,
      prefix: 'agree',
      timeoutMs: 1000,
    });
    jest.spyOn(storage.clients.customers, 'getEntity').mockRejectedValue(thrown);
    return new TableCustomerRepository(storage).get('acme');
  }

  function vaultRead(thrown: unknown): Promise<unknown> {
    const client = { getSecret: jest.fn().mockRejectedValue(thrown) } as unknown as SecretClient;
    return new KeyVaultSecretStore(client).getComponent('acme');
  }

  const EXPECTED: Record<AzureErrorClass, Outcome> = {
    absent: 'undefined',
    conflict: 'rethrown as it is',
    unavailable: 'dependency unavailable',
    denied: 'dependency unavailable',
    bug: 'rethrown as it is',
  };

  it.each(EXAMPLES)('%s (%s)', async (_name, kind, make) => {
    const thrown = await make();
    const table = await outcomeOf(tableRead(thrown), thrown);
    const vault = await outcomeOf(vaultRead(thrown), thrown);
    expect({ table, vault }).toEqual({ table: EXPECTED[kind], vault: EXPECTED[kind] });
  });
});
