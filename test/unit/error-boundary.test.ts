import { HttpRequest, InvocationContext, type HttpResponseInit } from '@azure/functions';
import { withErrorBoundary } from '../../middleware/error-boundary';
import { ApiError, DependencyUnavailableError, ERROR_CATALOGUE, STATUS_BY_CODE, isErrorCode } from '../../shared/errors';
import { OtlpDecodeError } from '../../shared/otlp/trace-request';
import { memoryServices } from '../support/memory-services';

function run(thrown: unknown): Promise<{ response: HttpResponseInit; logs: string[] }> {
  const { services } = memoryServices();
  const logs: string[] = [];
  const handler = withErrorBoundary(() => services)(async () => {
    throw thrown;
  });
  const invocation = new InvocationContext({ invocationId: 'inv-7', logHandler: (_level, ...args) => logs.push(args.join(' ')) });
  return Promise.resolve(handler(new HttpRequest({ method: 'GET', url: 'http://localhost/x' }), invocation)).then((response) => ({
    response,
    logs,
  }));
}

describe('error catalogue', () => {
  it('has a status and title for every code, and statuses in the error ranges', () => {
    for (const [code, entry] of Object.entries(ERROR_CATALOGUE)) {
      expect(isErrorCode(code)).toBe(true);
      expect(STATUS_BY_CODE[code as keyof typeof STATUS_BY_CODE]).toBe(entry.status);
      expect(entry.status).toBeGreaterThanOrEqual(400);
      expect(entry.title.length).toBeGreaterThan(0);
    }
    expect(isErrorCode('nope')).toBe(false);
  });
});

describe('error boundary', () => {
  it('maps an ApiError to problem+json with its code, request id and headers', async () => {
    const { response } = await run(new ApiError('conflict', 'Already there.', { headers: { 'x-extra': '1' }, extensions: { hint: 'h' } }));
    expect(response.status).toBe(409);
    expect(response.headers).toMatchObject({
      'content-type': 'application/problem+json',
      'x-request-id': 'inv-7',
      'x-extra': '1',
      'cache-control': 'no-store',
    });
    expect(response.jsonBody).toEqual({
      type: 'urn:veriproof:problem:conflict',
      title: 'Conflict',
      status: 409,
      detail: 'Already there.',
      code: 'conflict',
      requestId: 'inv-7',
      hint: 'h',
    });
  });

  it('maps an outage to 503 dependency_unavailable with Retry-After', async () => {
    const { response, logs } = await run(new DependencyUnavailableError('table storage', new Error('connect ECONNREFUSED')));
    expect(response.status).toBe(503);
    expect(response.headers).toMatchObject({ 'retry-after': '5' });
    expect(response.jsonBody).toMatchObject({ code: 'dependency_unavailable' });
    expect(logs.join('\n')).toContain('ECONNREFUSED');
  });

  it('maps undecodable OTLP to 400 invalid_body', async () => {
    const { response } = await run(new OtlpDecodeError('resourceSpans: must be an array'));
    expect(response.status).toBe(400);
    expect(response.jsonBody).toMatchObject({ code: 'invalid_body', detail: 'resourceSpans: must be an array' });
  });

  it('answers anything else with a generic 500 that leaks no message or stack, and logs it with the request id', async () => {
    const { response, logs } = await run(new TypeError('secret internals at /srv/app.js:12'));
    expect(response.status).toBe(500);
    const body = JSON.stringify(response.jsonBody);
    expect(body).not.toContain('secret internals');
    expect(body).not.toContain('app.js');
    expect(response.jsonBody).toMatchObject({ code: 'internal_error', requestId: 'inv-7' });
    expect(logs.join('\n')).toMatch(/unhandled error.*inv-7.*secret internals/);
  });
});
