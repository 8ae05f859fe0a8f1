import { ApiError, DEPENDENCY_RETRY_AFTER_SECONDS } from '../shared/errors';
import { json } from '../shared/http/responses';
import { healthView } from '../shared/schemas/views';
import type { HttpFunctionDefinition } from '../app/function-contract';

/**
 * `GET /v1/health` (anonymous): 200 when storage answered its last background probe, 503 when
 * it did not. Never waits on storage itself.
 */
export const health: HttpFunctionDefinition = {
  kind: 'http',
  name: 'health',
  route: 'v1/health',
  methods: ['GET'],
  auth: 'anonymous',
  summary: 'Service health from the last background probe of its dependencies.',
  docs: {
    responses: { 200: { description: 'Storage answered its last probe', schema: healthView } },
    errors: ['dependency_unavailable'],
    tags: ['Operations'],
  },
  handler: async (_request, { services }) => {
    const { ok, dependencies } = services.health.snapshot();
    const checks = Object.fromEntries(
      dependencies.map((d) => [
        d.name,
        { status: d.ok ? 'ok' : 'unavailable', checkedAt: d.checkedAt ?? null, latencyMs: d.latencyMs ?? null },
      ]),
    );
    if (ok) return json(200, { status: 'ok', checks });
    throw new ApiError('dependency_unavailable', 'A dependency did not answer its last health probe.', {
      headers: { 'Retry-After': String(DEPENDENCY_RETRY_AFTER_SECONDS) },
      extensions: { checks },
    });
  },
};
