/** The shapes of the portal API's answers the page reads (see /v1/openapi.json). */

export interface Actor {
  type: 'user' | 'key' | 'system';
  id: string;
  name: string;
}

export interface Key {
  id: string;
  displayPrefix: string;
  label: string;
  application: string;
  type: 'primary' | 'secondary' | 'management';
  environment: 'live' | 'test';
  status: 'active' | 'revoked';
  createdAt: string;
  createdBy: Actor;
  lastUsedAt: string | null;
  stale: boolean;
  revokedAt?: string | null;
}

export interface KeyList {
  customer: string;
  sandbox: boolean;
  activeKeyCount: number;
  keyLimit: number;
  keys: Key[];
}

export interface IssuedKey {
  key: string;
  metadata: Key;
}

export interface UsageBucket {
  start: string;
  accepted: number;
  rateLimited: number;
}

export interface CustomerUsage {
  from: string;
  to: string;
  keys: Array<{
    keyId: string;
    label: string;
    application: string;
    status: 'active' | 'revoked';
    lastUsedAt: string | null;
    stale: boolean;
    totals: { accepted: number; rateLimited: number };
    daily: UsageBucket[];
  }>;
}

export interface KeyRequest {
  id: string;
  customer: string;
  action: 'issue-key' | 'revoke-key' | 'rotate-tenant-key';
  status: 'pending' | 'executed' | 'rejected' | 'failed';
  requestedBy: Actor;
  requestedAt: string;
  decidedBy?: Actor | null;
  decidedAt?: string | null;
  note?: string | null;
  failure?: { code: string; detail: string } | null;
}

export interface AuditEvent {
  id: string;
  type: string;
  at: string;
  actor: Actor;
  keyId: string | null;
  details: Record<string, unknown> | null;
}

export interface Session {
  sessionId: string;
  serviceName: string | null;
  keyLabel: string;
  environment: 'live' | 'test';
  sandbox: boolean;
  spanCount: number;
  firstReceivedAt: string;
  lastReceivedAt: string;
}

export interface Customer {
  slug: string;
  name: string;
  plan: string;
}

export interface TenantKey {
  customer: string;
  currentVersion: string;
  previousVersion: string | null;
  graceEndsAt: string | null;
  inGrace: boolean;
  rotatedAt: string | null;
  requireComponent: boolean;
}
