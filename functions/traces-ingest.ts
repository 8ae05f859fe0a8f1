import type { HttpResponseInit } from '@azure/functions';
import { z } from 'zod';
import { ExportTraceServiceResponse } from '../shared/otlp/proto-schema';
import { declaredLength, readBody } from '../shared/http/body';
import { CONTENT_TYPES, contentEncodingOf, otlpFormatOf, tooLarge } from '../shared/otlp/http-body';
import type { OtlpFormat } from '../shared/otlp/trace-request';
import { INGEST_KEY_TYPES, type HttpFunctionDefinition } from '../app/function-contract';
import { shown } from '../shared/schemas/examples';

/**
 * `POST /v1/traces` (API key): OTLP/HTTP trace export. Spans are grouped into sessions and
 * stored with the sending key's audit metadata; the 200 goes out only once they are stored.
 */
export const tracesIngest: HttpFunctionDefinition = {
  kind: 'http',
  name: 'traces-ingest',
  route: 'v1/traces',
  methods: ['POST'],
  auth: 'apiKey',
  keyTypes: INGEST_KEY_TYPES,
  summary: 'OTLP/HTTP trace export (JSON or protobuf); spans are stored as sessions.',
  docs: {
    // The handler reads the body itself (streamed, bounded, maybe gzip); OTLP's own rules (ids,
    // int64 strings, attribute shapes) are the specification's and are checked by the decoder.
    requestBody: {
      required: true,
      description: 'An OTLP ExportTraceServiceRequest, as OTLP/JSON or protobuf; Content-Encoding gzip is accepted.',
      content: {
        'application/json': {
          // The outline only: in OTLP/JSON (the proto3 JSON mapping) `null` stands for a field left out.
          schema: {
            type: 'object',
            properties: {
              resourceSpans: {
                type: ['array', 'null'],
                items: {
                  type: 'object',
                  properties: {
                    resource: { type: ['object', 'null'] },
                    scopeSpans: { type: ['array', 'null'], items: { type: 'object' } },
                  },
                },
              },
            },
            examples: [
              {
                resourceSpans: [
                  {
                    resource: { attributes: [{ key: 'service.name', value: { stringValue: 'checkout-api' } }] },
                    scopeSpans: [
                      {
                        scope: { name: 'checkout' },
                        spans: [
                          {
                            traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
                            spanId: '00f067aa0ba902b7',
                            name: 'POST /orders',
                            kind: 2,
                            startTimeUnixNano: '1773480413000000000',
                            endTimeUnixNano: '1773480413120000000',
                            attributes: [{ key: 'session.id', value: { stringValue: 'checkout-session-4711' } }],
                          },
                        ],
                      },
                    ],
                  },
                ],
              },
            ],
          },
        },
        'application/x-protobuf': { schema: { type: 'string', format: 'binary' } },
      },
    },
    responses: {
      200: {
        description: 'Stored. An ExportTraceServiceResponse in the request encoding; rejected spans are reported as partial success.',
        schema: z.object({
          partialSuccess: z.object({ rejectedSpans: shown('1'), errorMessage: shown('Rejected 1 span(s): invalid span') }).optional(),
        }),
        alsoAs: { 'application/x-protobuf': { schema: { type: 'string', format: 'binary' } } },
      },
    },
    errors: [
      'invalid_body',
      'payload_too_large',
      'too_many_spans',
      'too_many_sessions',
      'too_many_values',
      'unsupported_media_type',
      'server_busy',
    ],
    tags: ['Ingest'],
  },
  handler: async (request, { services, identity, responseHeaders }) => {
    const maxBytes = services.config.ingest.maxBodyBytes;
    const format = otlpFormatOf(request.headers.get('content-type'));
    // The service reads the body only once its memory is reserved (shared/services/ingest-memory.ts).
    const result = await services.ingest.ingestBody(
      identity,
      {
        format,
        encoding: contentEncodingOf(request.headers.get('content-encoding')),
        declaredBytes: declaredLength(request),
        read: (bound) => readBody(request, bound, () => tooLarge(maxBytes)),
      },
      { rateLimitFields: responseHeaders },
    );
    return exportResponse(format, result.rejectedSpans, result.rejectionMessage);
  },
};

/** An ExportTraceServiceResponse in the request's encoding, with partial success when spans were rejected. */
function exportResponse(format: OtlpFormat, rejectedSpans: number, message: string | undefined): HttpResponseInit {
  const partialSuccess =
    rejectedSpans > 0
      ? { rejectedSpans: String(rejectedSpans), errorMessage: `Rejected ${rejectedSpans} span(s): ${message ?? 'invalid span'}` }
      : undefined;
  if (format === 'json') {
    return {
      status: 200,
      headers: { 'content-type': CONTENT_TYPES.json },
      body: JSON.stringify(partialSuccess ? { partialSuccess } : {}),
    };
  }
  const encoded = ExportTraceServiceResponse.encode(
    ExportTraceServiceResponse.fromObject(partialSuccess ? { partialSuccess } : {}),
  ).finish();
  return { status: 200, headers: { 'content-type': CONTENT_TYPES.protobuf }, body: encoded };
}
