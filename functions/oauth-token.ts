import type { z } from 'zod';
import { json, oauthError } from '../shared/http/responses';
import { INVALID_GRANT_DESCRIPTION, OAUTH_ERRORS, TOKEN_TYPE_ACCESS_TOKEN, parseTokenExchangeRequest } from '../shared/oauth/token-request';
import { tokenRequestBody } from '../shared/schemas/token-exchange';
import { oauthErrorView, tokenResponseView } from '../shared/schemas/views';
import { httpFunction } from '../app/function-contract';

/**
 * `POST /v1/oauth/token`: the token exchange (RFC 8693). A workload trades the identity token its
 * platform gave it (GitHub Actions, Azure, Kubernetes, Google) for a federated access token that
 * acts as an ingest key of the trust policy it satisfies. Its door limits it per address and per
 * customer before anything is verified (middleware/token-exchange.ts); every answer is uncached.
 */
export const oauthToken = httpFunction({
  kind: 'http',
  name: 'oauth-token',
  route: 'v1/oauth/token',
  methods: ['POST'],
  auth: 'tokenExchange',
  summary:
    "Exchange a workload's identity token (RFC 8693, form-encoded) for a short-lived access token that ingests like a key, under the customer's first trust policy it satisfies. Errors are RFC 6749 §5.2 JSON (one invalid_grant for every refused token; why is in the customer's audit log).",
  docs: {
    requestBody: tokenRequestBody,
    responses: {
      200: { description: 'The access token', schema: tokenResponseView },
      400: {
        description: `An RFC 6749 error: ${OAUTH_ERRORS.join(', ')} (or, before any route, a request that is not HTTP: problem bad_request)`,
        schema: oauthErrorView,
        alsoAs: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
      },
    },
    oauthErrors: OAUTH_ERRORS,
    tags: ['Workload identity'],
  },
  handler: async (_request, { services, requestId, form }) => {
    const parsed = parseTokenExchangeRequest(form);
    if (!parsed.ok) {
      services.tokenExchange.invalidRequest(parsed.error);
      return oauthError(parsed);
    }
    const outcome = await services.tokenExchange.exchange(parsed.request, requestId);
    if (!outcome.ok) return oauthError({ error: outcome.error, description: INVALID_GRANT_DESCRIPTION });
    const body: z.infer<typeof tokenResponseView> = {
      access_token: outcome.accessToken,
      issued_token_type: TOKEN_TYPE_ACCESS_TOKEN,
      token_type: 'Bearer',
      expires_in: outcome.expiresIn,
    };
    return json(200, body, { pragma: 'no-cache' });
  },
});
