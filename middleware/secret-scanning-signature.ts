import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import type { AnonymousHandler, RequestContext, SignedReportHandler } from '../app/function-contract';
import { ApiError } from '../shared/errors';
import { readBody } from '../shared/http/body';
import { MAX_REPORT_BYTES } from '../shared/secret-scanning/leaked-key-service';

export const KEY_ID_HEADER = 'github-public-key-identifier';
export const SIGNATURE_HEADER = 'github-public-key-signature';

const refused = (detail: string) => new ApiError('signature_invalid', detail);

/**
 * The door of GitHub's secret-scanning reports: no API key and no portal token, but GitHub's
 * ECDSA signature over the raw body, by one of the keys GitHub publishes. Headers are checked
 * first (a request without them, or naming a key GitHub does not publish, is refused unread),
 * then the body is read within its bound
 * (413 past it), then the signature is verified; the handler gets the bytes that were signed.
 * A refused report changes nothing; one we cannot judge (GitHub's key list unreadable) is 503,
 * which GitHub retries.
 */
export function withGitHubSignature() {
  return (handler: SignedReportHandler): AnonymousHandler =>
    async function gitHubSignatureMiddleware(request: HttpRequest, ctx: RequestContext): Promise<HttpResponseInit> {
      const keyId = request.headers.get(KEY_ID_HEADER)?.trim();
      const signature = request.headers.get(SIGNATURE_HEADER)?.trim();
      if (!keyId || !signature) {
        throw refused('A report must carry GitHub-Public-Key-Identifier and GitHub-Public-Key-Signature.');
      }
      // Headers no body can make good (a made-up key id, a malformed signature): refused unread.
      if (ctx.services.reportSignatures.refusesUnread(keyId, signature)) {
        throw refused('The report is not signed by a key GitHub publishes for secret scanning.');
      }
      const body = await readBody(
        request,
        MAX_REPORT_BYTES,
        () => new ApiError('payload_too_large', `A report may be at most ${MAX_REPORT_BYTES} bytes.`),
      );
      // Unreadable key list: DependencyUnavailableError, which the error boundary answers 503.
      const verdict = await ctx.services.reportSignatures.verify(keyId, signature, body);
      if (verdict !== 'valid') throw refused('The report is not signed by a key GitHub publishes for secret scanning.');
      return handler(request, { ...ctx, report: { body, keyId } });
    };
}
