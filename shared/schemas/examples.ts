import { z } from 'zod';

/**
 * The building blocks of the API's schemas that carry their own `examples` (JSON Schema's
 * keyword, through zod's `.meta`): ids, slugs, keys, timestamps, counts and labels. Every schema
 * built from them shows a realistic value in the OpenAPI document, and the reference at /docs
 * (Swagger UI) builds its samples from those, so the page and the document agree. Each example
 * is checked against its own schema (test/integration/api-docs.test.ts).
 */

/** An id as shared/ids.ts makes them (`{prefix}_` and 26 Crockford base32 characters). */
export const exampleId = (prefix: string, other = false) =>
  `${prefix}_${other ? '01JQ9B7K2N5P8R3S6T9V1W4X7Y' : '01JQ8Z5M3T4V6W7X8Y9Z0A1B2C'}`;

export const EXAMPLE_SLUG = 'acme';
/** A compound key of the right shape (never issued: it opens nothing). */
export const EXAMPLE_KEY = 'vp_cust_acme.Yeo9hectq0PgvDDUAHX55zm3IGMJGmWu.K4t3ldpFRx78t3Y8TApCfk9znx-GdDS1U7x55BsJ9oU';
export const EXAMPLE_DISPLAY_PREFIX = 'vp_cust_acme.…K4t3…J9oU';
/** A federated access token of the right shape (never minted: it opens nothing). */
export const EXAMPLE_ACCESS_TOKEN = 'vp_fed_acme.q1akluF8AnkFEiQf5jRBPwJFZUdJqzH7trjG6jpqE-M';
export const EXAMPLE_INSTANT = '2026-03-14T09:26:53.000Z';
/** A request id (the invocation id of the call), as problems and audit events carry it. */
export const EXAMPLE_REQUEST_ID = '7c9e6679-7425-40de-944b-e07fc1f90ae7';

/** A problem as the API answers it (shared/http/responses.ts), for a code of the catalogue. */
export const problemExample = (code: string, status: number, title: string) => ({
  type: `urn:veriproof:problem:${code}`,
  title,
  status,
  detail: `${title}.`,
  code,
  requestId: EXAMPLE_REQUEST_ID,
});

/** A string answered by the API, with the value the reference shows. */
export const shown = (example: string) => z.string().meta({ examples: [example] });

/** An id the API answers with (`key_…`, `req_…`, `evt_…`, `cus_…`). */
export const idOf = (prefix: string, other = false) => shown(exampleId(prefix, other));

/** A time the API answers with: ISO 8601 in UTC (`…Z`), as every time is kept (shared/clock.ts). */
export const timestamp = z.iso.datetime({ offset: true }).meta({ examples: [EXAMPLE_INSTANT] });

/** A whole number the API answers with (a count, a limit), with the value the reference shows. */
export const count = (example: number) =>
  z
    .number()
    .int()
    .meta({ examples: [example] });

/** A number the API answers with, with the value the reference shows. */
export const amount = (example: number) => z.number().meta({ examples: [example] });

export const slugView = shown(EXAMPLE_SLUG);
export const keyLabelView = shown('checkout-ci');
export const applicationView = shown('checkout');
