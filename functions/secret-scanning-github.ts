import { ApiError } from '../shared/errors';
import { json } from '../shared/http/responses';
import { EXAMPLE_KEY } from '../shared/schemas/examples';
import { gitHubReportSchema } from '../shared/schemas/secret-scanning';
import { gitHubFeedbackView } from '../shared/schemas/views';
import { MAX_REPORT_MATCHES } from '../shared/secret-scanning/leaked-key-service';
import { parseInput } from '../shared/validation';
import type { HttpFunctionDefinition } from '../app/function-contract';

/**
 * `POST /v1/secret-scanning/github`: GitHub's secret-scanning partner endpoint. The door has
 * checked GitHub's signature over the raw body; here the matches are parsed, each key of ours is
 * revoked or flagged by its customer's policy, and each federated access token of ours stopped.
 * The answer is GitHub's feedback format.
 */
export const secretScanningGitHub: HttpFunctionDefinition = {
  kind: 'http',
  name: 'secret-scanning-github',
  route: 'v1/secret-scanning/github',
  methods: ['POST'],
  auth: 'githubSignature',
  summary:
    "GitHub secret scanning reports keys and federated access tokens found in public: each key of ours is revoked (or flagged, by its customer's leaked-key policy), each token of ours stopped, and the place recorded.",
  docs: {
    requestBody: {
      required: true,
      // The bound on matches is the 413 too_many_matches, not `maxItems`: a report over it is
      // refused as a whole rather than as a malformed body.
      description: `The matches GitHub found (at most ${MAX_REPORT_MATCHES}), signed by GitHub (ECDSA P-256, SHA-256) over these exact bytes.`,
      content: {
        'application/json': {
          schema: {
            type: 'array',
            items: {
              type: 'object',
              required: ['token'],
              properties: {
                token: { type: 'string' },
                type: { type: ['string', 'null'], maxLength: 256 },
                url: { type: ['string', 'null'], maxLength: 8192 },
                source: { type: ['string', 'null'], maxLength: 256 },
              },
            },
            examples: [
              [
                {
                  token: EXAMPLE_KEY,
                  type: 'veriproof_api_key',
                  url: 'https://github.com/acme/checkout/blob/4f2c1e9/.env',
                  source: 'content',
                },
              ],
            ],
          },
        },
      },
    },
    responses: {
      200: {
        description:
          "GitHub's feedback: true_positive for each key of ours (active or not) and each federated access token of ours (working, expired but not yet cleared away, or stopped by a report), false_positive otherwise",
        schema: gitHubFeedbackView,
      },
    },
    errors: ['invalid_body', 'validation_failed', 'too_many_matches'],
    tags: ['Secret scanning'],
  },
  handler: async (_request, { services, report, requestId }) => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(Buffer.from(report.body.buffer, report.body.byteOffset, report.body.byteLength).toString('utf8'));
    } catch {
      throw new ApiError('invalid_body', 'The report is not valid JSON.');
    }
    // Counted before each match is checked: an oversized report is refused without that work.
    if (Array.isArray(parsed) && parsed.length > MAX_REPORT_MATCHES) {
      throw new ApiError('too_many_matches', `A report may hold at most ${MAX_REPORT_MATCHES} matches; this one holds ${parsed.length}.`);
    }
    const matches = parseInput(gitHubReportSchema, parsed, 'body');
    return json(200, await services.leaks.handleGitHubReport(matches, requestId));
  },
};
