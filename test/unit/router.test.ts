import type { HttpFunctionDefinition } from '../../app/function-contract';
import { z } from 'zod';
import { Router } from '../../local/router';

const def = (name: string, route: string, methods: HttpFunctionDefinition['methods'] = ['GET']): HttpFunctionDefinition => ({
  kind: 'http',
  name,
  route,
  methods,
  auth: 'anonymous',
  summary: '',
  handler: async () => ({ status: 200 }),
});

describe('local router', () => {
  const router = new Router([
    def('keyUsage', 'v1/customer-keys/{keyId}/usage'),
    def('request', 'v1/customer-keys/requests/{id}'),
    def('revoke', 'v1/customer-keys/{keyId}', ['DELETE']),
    def('list', 'v1/customer-keys'),
    def('byNumber', 'v1/things/{n:int}'),
    def('optional', 'v1/opt/{x?}'),
    def('files', 'v1/files/{*path}'),
  ]);

  it('matches literals case-insensitively and extracts decoded parameters', () => {
    expect(router.match('GET', '/V1/Customer-Keys')).toMatchObject({ kind: 'found', definition: { name: 'list' } });
    expect(router.match('DELETE', '/v1/customer-keys/key%2F1')).toMatchObject({ kind: 'found', params: { keyId: 'key/1' } });
  });

  it('prefers a literal segment over a parameter, from the left', () => {
    expect(router.match('GET', '/v1/customer-keys/requests/usage')).toMatchObject({
      definition: { name: 'request' },
      params: { id: 'usage' },
    });
    expect(router.match('GET', '/v1/customer-keys/key_1/usage')).toMatchObject({
      definition: { name: 'keyUsage' },
      params: { keyId: 'key_1' },
    });
  });

  it('applies constraints, optional and catch-all parameters', () => {
    expect(router.match('GET', '/v1/things/42')).toMatchObject({ kind: 'found', params: { n: '42' } });
    expect(router.match('GET', '/v1/things/forty')).toEqual({ kind: 'notFound' });
    expect(router.match('GET', '/v1/opt')).toMatchObject({ kind: 'found', params: {} });
    expect(router.match('GET', '/v1/opt/7')).toMatchObject({ kind: 'found', params: { x: '7' } });
    expect(router.match('GET', '/v1/files/a/b/c')).toMatchObject({ kind: 'found', params: { path: 'a/b/c' } });
  });

  it('tells a wrong method from an unknown path', () => {
    expect(router.match('POST', '/v1/customer-keys')).toEqual({ kind: 'methodNotAllowed', allow: ['GET'] });
    expect(router.match('GET', '/v1/nothing')).toEqual({ kind: 'notFound' });
    expect(router.match('GET', '/v1/customer-keys/%E0%A4%A')).toEqual({ kind: 'notFound' });
  });

  it('answers 405 with exactly the methods that reach a resource when a template matches only by naming nothing', () => {
    // `DELETE /v1/customer-keys/{keyId}` matches `/v1/customer-keys/issue`, but `issue` is no key id.
    const declared = new Router([
      { ...def('issue', 'v1/customer-keys/issue', ['POST']) },
      { ...def('revoke', 'v1/customer-keys/{keyId}', ['DELETE']), input: { params: z.object({ keyId: z.string().regex(/^key_/) }) } },
    ]);
    expect(declared.match('DELETE', '/v1/customer-keys/issue')).toEqual({ kind: 'methodNotAllowed', allow: ['POST'] });
    expect(declared.match('GET', '/v1/customer-keys/issue')).toEqual({ kind: 'methodNotAllowed', allow: ['POST'] });
    // A path only such a template matches still reaches it (its binding answers 404 after the door).
    expect(declared.match('DELETE', '/v1/customer-keys/nope')).toMatchObject({ kind: 'found', definition: { name: 'revoke' } });
    expect(declared.match('DELETE', '/v1/customer-keys/key_1')).toMatchObject({ kind: 'found', params: { keyId: 'key_1' } });
  });
});
