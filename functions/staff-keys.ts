import { z } from 'zod';
import { readJsonBody } from '../shared/http/body';
import { json } from '../shared/http/responses';
import { updateKeySchema } from '../shared/schemas/keys';
import { keyView, toKeyBody } from '../shared/schemas/views';
import { parseInput } from '../shared/validation';
import type { HttpFunctionDefinition } from './definitions';

/** `PATCH /v1/staff/customers/{slug}/keys/{keyId}`: a key's own rate limit. */
export const staffKeysUpdate: HttpFunctionDefinition = {
  kind: 'http',
  name: 'staff-keys-update',
  route: 'v1/staff/customers/{slug}/keys/{keyId}',
  methods: ['PATCH'],
  auth: 'staff',
  summary: "Set a key's own rate limit, or return it to its plan's with null. Applies on every instance within a second.",
  docs: {
    params: z.object({ slug: z.string(), keyId: z.string() }),
    body: updateKeySchema,
    responses: { 200: { description: 'The key', schema: keyView } },
    errors: ['not_found', 'validation_failed'],
    tags: ['Staff'],
  },
  handler: async (request, { services, actor, requestId }) => {
    const { rateLimit } = parseInput(updateKeySchema, await readJsonBody(request));
    const key = await services.keys.setRateLimit(request.params.slug ?? '', request.params.keyId ?? '', rateLimit ?? undefined, { actor, requestId });
    return json(200, toKeyBody(key, services.usage.isStale(key)));
  },
};
