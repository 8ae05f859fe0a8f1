import { apiDocs } from './api-docs';
import { customerKeysAudit } from './customer-keys-audit';
import { customerKeysIssue } from './customer-keys-issue';
import { customerKeysList } from './customer-keys-list';
import { customerKeysRequestGet, customerKeysRequestList, customerKeysRequestSubmit } from './customer-keys-requests';
import { customerKeysReset } from './customer-keys-reset';
import { customerKeysRevoke } from './customer-keys-revoke';
import { customerKeysRoll } from './customer-keys-roll';
import { customerKeysUpdate } from './customer-keys-update';
import { customerKeysSettingsGet, customerKeysSettingsUpdate } from './customer-keys-settings';
import { customerKeyUsage, customerKeysUsage } from './customer-keys-usage';
import type { FunctionDefinition } from '../app/function-contract';
import { health } from './health';
import { keyExpiry } from './key-expiry';
import { localSignIn } from './local-sign-in';
import { portalPage } from './portal';
import { oauthToken } from './oauth-token';
import { openApiFunction } from './openapi';
import { revocationCompletion } from './revocation-completion';
import { revocationFeedPrune } from './revocation-feed-prune';
import { secretScanningGitHub } from './secret-scanning-github';
import { sessionsList } from './sessions-list';
import { staffCustomersCreate, staffCustomersGet, staffCustomersList, staffCustomersUpdate } from './staff-customers';
import { staffKeysUpdate } from './staff-keys';
import { staffService } from './staff-service';
import { staleKeys } from './stale-keys';
import { usageRetention } from './usage-retention';
import { staffRequestsExecute, staffRequestsList, staffRequestsReject } from './staff-requests';
import { staffTenantKeyEndGrace, staffTenantKeyGet, staffTenantKeyRotate } from './staff-tenant-key';
import { tenantKeyGrace } from './tenant-key-grace';
import { tracesIngest } from './traces-ingest';
import { trustPoliciesCreate, trustPoliciesDelete, trustPoliciesGet, trustPoliciesList, trustPoliciesUpdate } from './trust-policies';
import {
  webhookEndpointsCreate,
  webhookEndpointsDelete,
  webhookEndpointsGet,
  webhookEndpointsList,
  webhookEndpointsRotateSecret,
  webhookEndpointsUpdate,
} from './webhook-endpoints';
import {
  webhookDeliveriesList,
  webhookDeliveriesQueue,
  webhookDeliveriesRetry,
  webhookDispatchSweep,
  webhookEndpointsTest,
} from './webhook-deliveries';
import { whoami } from './whoami';

/**
 * Every function of the app, declared once. Production registers this list with the
 * Functions host (functions/index.ts); `npm start` serves the same list locally.
 */
export const functionDefinitions: readonly FunctionDefinition[] = [
  health,
  openApiFunction(() => functionDefinitions),
  whoami,
  tracesIngest,
  oauthToken,
  customerKeysList,
  customerKeysIssue,
  customerKeysRevoke,
  customerKeysUpdate,
  customerKeysRoll,
  customerKeysReset,
  customerKeysAudit,
  customerKeysSettingsGet,
  customerKeysSettingsUpdate,
  customerKeysUsage,
  customerKeyUsage,
  customerKeysRequestSubmit,
  customerKeysRequestList,
  customerKeysRequestGet,
  trustPoliciesList,
  trustPoliciesCreate,
  trustPoliciesGet,
  trustPoliciesUpdate,
  trustPoliciesDelete,
  webhookEndpointsList,
  webhookEndpointsCreate,
  webhookEndpointsGet,
  webhookEndpointsUpdate,
  webhookEndpointsDelete,
  webhookEndpointsRotateSecret,
  webhookEndpointsTest,
  webhookDeliveriesList,
  webhookDeliveriesRetry,
  sessionsList,
  secretScanningGitHub,
  staffCustomersList,
  staffCustomersCreate,
  staffCustomersGet,
  staffCustomersUpdate,
  staffKeysUpdate,
  staffService,
  staffRequestsList,
  staffRequestsExecute,
  staffRequestsReject,
  staffTenantKeyGet,
  staffTenantKeyRotate,
  staffTenantKeyEndGrace,
  tenantKeyGrace,
  revocationFeedPrune,
  revocationCompletion,
  staleKeys,
  keyExpiry,
  usageRetention,
  webhookDispatchSweep,
  webhookDeliveriesQueue,
  portalPage,
  apiDocs,
  localSignIn,
];
