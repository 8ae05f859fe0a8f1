import type { CustomerUsage, OperationResponses, ServiceMetrics, StaffRequestQueue } from './api-types.js';

/**
 * The shapes of the portal API's answers the page reads, under the names the views use. All of
 * them come from api-types.d.ts (declarations only: nothing is served for it), which the build generates from the API's OpenAPI document: a
 * change to the API that the page does not follow fails the portal's build.
 */

export type {
  AuditEvent,
  AuditPage,
  CustomerUsage,
  IssuedKey,
  Key,
  KeyList,
  KeyRequest,
  KeySettings,
  ResetResult,
  RolledKey,
  ServiceMetrics,
  Session,
  SessionPage,
  StaffRequestQueue,
  TenantKey,
  TrustPolicy,
  TrustPolicyList,
  WebhookAttempt,
  WebhookDelivery,
  WebhookDeliveryPage,
  WebhookEndpoint,
  WebhookEndpointList,
  WebhookEndpointWithSecret,
} from './api-types.js';

/** One day of one key's usage (inline in the document, not a component of its own). */
export type UsageBucket = CustomerUsage['keys'][number]['daily'][number];

/** One metric's value on the instance, for one set of attributes. */
export type MetricPoint = ServiceMetrics['metrics'][number];

/** A request in the staff queue: a summary, without a KeyRequest's outcome fields. */
export type QueuedRequest = StaffRequestQueue['requests'][number];

export type RequestList = OperationResponses['customer-keys-request-list'];
export type CustomerList = OperationResponses['staff-customers-list'];

/** The local sign-in route documents one union of its GET answer (the choices) and its POST answer (a token). */
export type SignInChoices = Extract<OperationResponses['local-sign-in-get'], { customers: unknown }>;
export type SignInToken = Extract<OperationResponses['local-sign-in-post'], { token: unknown }>;
