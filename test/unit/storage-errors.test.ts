import { CredentialUnavailableError } from '@azure/identity';
import { RestError } from '@azure/data-tables';
import { toStorageError } from '../../shared/adapters/table/table-storage';
import { DependencyUnavailableError } from '../../shared/errors';

/** Which storage failures are outages (503 and retry) and which are answers the caller handles. */
describe('toStorageError', () => {
  it.each([
    ['no response at all', undefined],
    ['403 AuthorizationPermissionMismatch (the role is not assigned yet)', 403],
    ['401', 401],
    ['408', 408],
    ['429 throttled', 429],
    ['500', 500],
    ['503', 503],
  ])('%s is an outage', (_name, statusCode) => {
    expect(toStorageError(new RestError('failed', statusCode === undefined ? {} : { statusCode }))).toBeInstanceOf(DependencyUnavailableError);
  });

  it.each([404, 409, 412])('%i is an answer for the caller, passed on as it is', (statusCode) => {
    const error = new RestError('answer', { statusCode });
    expect(toStorageError(error)).toBe(error);
  });

  it('a managed identity that cannot get a token is an outage', () => {
    expect(toStorageError(new CredentialUnavailableError('no managed identity endpoint'))).toBeInstanceOf(DependencyUnavailableError);
  });

  it('a programming error stays what it is (a 500 with its stack in the log)', () => {
    const bug = new TypeError('x is undefined');
    expect(toStorageError(bug)).toBe(bug);
  });
});
