import { z } from 'zod';
import { PLANS, type Plan } from './domain';

/**
 * Configuration, parsed once from the environment. Nothing else in the service reads
 * `process.env`: code receives a typed {@link Config}. A missing or bad setting stops
 * start-up with an error that names the variable.
 */

const intSetting = (fallback: number, min: number, max: number) =>
  z.string().trim().regex(/^\d+$/, 'must be a whole number').transform(Number).pipe(z.number().int().min(min).max(max)).default(fallback);

/** Where GitHub publishes the keys that sign its secret-scanning reports. */
export const GITHUB_SECRET_SCANNING_KEYS_URL = 'https://api.github.com/meta/public_keys/secret_scanning';

const TABLE_PREFIX = /^[A-Za-z][A-Za-z0-9]{0,29}$/;

/** What a plan grants each customer and each key. */
export const planLimitsSchema = z.object({
  /** Active keys a customer may hold. */
  keyLimit: z.number().int().min(1).max(10_000),
  /** Trust policies (workload identity federation) a customer may hold; 0: none. */
  trustPolicyLimit: z.number().int().min(0).max(1_000),
  /** Webhook endpoints a customer may hold (disabled ones included); 0: none. */
  webhookEndpointLimit: z.number().int().min(0).max(1_000),
  /** Sustained ingest requests per second per key. */
  requestsPerSecond: z.number().positive().max(1_000_000),
  /** Requests a key may send in a burst above the sustained rate. */
  burst: z.number().int().min(1).max(10_000_000),
  /**
   * Sustained session batches per second per key: ingest's second meter, one per session a
   * request writes (what storage work follows). Unset: the plan's `requestsPerSecond`.
   */
  batchesPerSecond: z.number().positive().max(1_000_000).optional(),
  /** Batches a key may write in a burst above the sustained rate. Unset: the plan's `burst`. */
  batchBurst: z.number().int().min(1).max(10_000_000).optional(),
});
export type PlanLimits = z.infer<typeof planLimitsSchema>;

/** A token bucket's setting: sustained requests per second, and what may go at once above it. */
export interface RateSetting {
  requestsPerSecond: number;
  burst: number;
}

export const DEFAULT_PLANS: Record<Plan, PlanLimits> = {
  starter: { keyLimit: 2, trustPolicyLimit: 2, webhookEndpointLimit: 2, requestsPerSecond: 10, burst: 20 },
  pro: { keyLimit: 5, trustPolicyLimit: 10, webhookEndpointLimit: 10, requestsPerSecond: 100, burst: 200 },
  enterprise: { keyLimit: 50, trustPolicyLimit: 50, webhookEndpointLimit: 50, requestsPerSecond: 1000, burst: 2000 },
};

/** A setting holding JSON: parsed, or refused with `message` naming what it must be. */
const jsonSetting = (message: string) =>
  z
    .string()
    .trim()
    .transform((text, ctx) => {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        ctx.addIssue({ code: 'custom', message });
        return z.NEVER;
      }
    });

const plansSetting = jsonSetting('must be JSON')
  .pipe(z.partialRecord(z.enum(PLANS), planLimitsSchema.partial()))
  .transform(
    (overrides) =>
      Object.fromEntries(PLANS.map((plan) => [plan, { ...DEFAULT_PLANS[plan], ...overrides[plan] }])) as Record<Plan, PlanLimits>,
  )
  .optional();

export const configSchema = z
  .object({
    /** Connection string for our tables: Azurite locally (`UseDevelopmentStorage=true`) or an account key. */
    TABLES_CONNECTION_STRING: z.string().trim().min(1).optional(),
    /** Table endpoint of the storage account (`https://<account>.table.core.windows.net`), used with DefaultAzureCredential. */
    TABLES_ENDPOINT: z.url({ protocol: /^https?$/ }).optional(),
    /**
     * Connection string for our queues (webhook deliveries); unset: TABLES_CONNECTION_STRING, which
     * locally names Azurite's queue service too (`UseDevelopmentStorage=true`, or npm start's own).
     */
    QUEUES_CONNECTION_STRING: z.string().trim().min(1).optional(),
    /**
     * Queue endpoint of the storage account (`https://<account>.queue.core.windows.net`), used with
     * the managed identity; unset: TABLES_ENDPOINT's account (`.table.` read as `.queue.`). The
     * queue-triggered function listens through the host's `AzureWebJobsStorage` connection: infra
     * points both at the same account.
     */
    QUEUES_ENDPOINT: z.url({ protocol: /^https?$/ }).optional(),
    /**
     * How long a failed webhook delivery waits before each retry, in seconds, comma-separated: one
     * retry per entry, each with up to 20 % jitter. At most 7 days each (a queue message's longest delay).
     */
    WEBHOOK_RETRY_DELAYS_SECONDS: z
      .string()
      .trim()
      .transform((text) => text.split(',').map((part) => part.trim()))
      .pipe(
        z
          .array(
            z
              .string()
              .regex(/^\d+$/, 'must be whole numbers of seconds, comma-separated')
              .transform(Number)
              .pipe(
                z
                  .number()
                  .int()
                  .min(1)
                  .max(7 * 86_400),
              ),
          )
          .min(1)
          .max(20),
      )
      .default([5, 300, 1800, 7200, 18000, 36000]),
    /** Optional prefix for every table name, so several deployments (or test runs) can share an account. */
    TABLES_PREFIX: z
      .string()
      .trim()
      .refine((v) => v === '' || TABLE_PREFIX.test(v), 'must start with a letter and hold at most 30 letters or digits')
      .default(''),
    /**
     * Storage accounts for ingested sessions, when one account is not enough (docs/capacity.md):
     * their table endpoints, comma-separated, used with the managed identity. Each customer's
     * sessions live in one of them, chosen by a stable hash of its slug. Unset: the main account.
     */
    SESSIONS_TABLES_ENDPOINTS: z
      .string()
      .trim()
      .transform((text) =>
        text
          .split(',')
          .map((part) => part.trim())
          .filter(Boolean),
      )
      .pipe(
        z
          .array(z.url({ protocol: /^https?$/ }))
          .min(1)
          .max(64),
      )
      .optional(),
    /** The same as connection strings, as a JSON array (local: several Azurite instances). */
    SESSIONS_TABLES_CONNECTION_STRINGS: jsonSetting('must be a JSON array of connection strings')
      .pipe(z.array(z.string().trim().min(1)).min(1).max(64))
      .optional(),
    /** Upper bound on one storage call made while a request waits for it. */
    STORAGE_TIMEOUT_MS: intSetting(3000, 100, 60_000),
    /** How long an authenticated key may be served from the in-process cache (0 turns the cache off). */
    AUTH_CACHE_TTL_SECONDS: intSetting(300, 0, 3600),
    /** Upper bound on cached key lookups (positive and negative), which bounds the cache's memory. */
    AUTH_CACHE_MAX_ENTRIES: intSetting(10_000, 1, 1_000_000),
    /** Failed authentications a client address may cause per minute before its unknown keys are looked up one at a time. */
    AUTH_FAILURES_PER_MINUTE: intSetting(60, 1, 100_000),
    /**
     * GitHub's secret-scanning public keys, in GitHub's `public_keys` format: what the signatures
     * of `POST /v1/secret-scanning/github` are checked against. Tests point it at a local fake.
     */
    GITHUB_SECRET_SCANNING_KEYS_URL: z.url({ protocol: /^https?$/ }).default(GITHUB_SECRET_SCANNING_KEYS_URL),
    /** How often the background health probe reads storage. */
    HEALTH_PROBE_INTERVAL_MS: intSetting(5000, 100, 300_000),
    /** Largest OTLP request body accepted by `POST /v1/traces` (after decompression). */
    INGEST_MAX_BODY_BYTES: intSetting(4 * 1024 * 1024, 1024, 64 * 1024 * 1024),
    /** Memory that ingest requests being decoded and stored may hold at once per instance (estimated from their shape). */
    INGEST_MEMORY_BUDGET_MB: intSetting(256, 16, 16_384),
    /** Folder for local-only state (the local secret store). Ignored in Azure. */
    LOCAL_DATA_DIR: z.string().trim().min(1).default('.local'),
    /** Plan table overrides as JSON, e.g. `{"pro":{"keyLimit":8,"trustPolicyLimit":20}}`; unnamed values keep their defaults. */
    PLANS: plansSetting,
    /** Issuer the portal's session tokens must carry. */
    PORTAL_JWT_ISSUER: z.string({ error: 'is required' }).trim().min(1),
    /** Audience the portal's session tokens must carry. */
    PORTAL_JWT_AUDIENCE: z.string({ error: 'is required' }).trim().min(1),
    /** JWKS of the portal's token issuer (production). */
    PORTAL_JWKS_URL: z.url({ protocol: /^https?$/ }).optional(),
    /**
     * Where the portal page sends a user to be signed in (the portal back end): it returns them to
     * `/portal#access_token=…&state=…` with the state the page sent (see docs/operations.md, "Portal sign-in in production").
     */
    PORTAL_SIGN_IN_URL: z.url({ protocol: /^https?$/ }).optional(),
    /** HS256 secret for portal tokens (local and tests only; refused in Azure). */
    PORTAL_JWT_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
    /** How often each instance reads the revocation feed. */
    REVOCATION_POLL_INTERVAL_MS: intSetting(1000, 100, 60_000),
    /** After this long without a successful feed read, cached keys are not trusted. */
    REVOCATION_FEED_MAX_STALENESS_SECONDS: intSetting(30, 1, 3600),
    /** Key Vault holding customers' master components (`https://<vault>.vault.azure.net`). Required in Azure. */
    KEY_VAULT_URL: z.url({ protocol: /^https$/ }).optional(),
    /** How long a rotated-out master component keeps working. */
    TENANT_KEY_GRACE_PERIOD_HOURS: intSetting(168, 0, 24 * 90),
    /** How long component values are kept in memory (values of a version never change). */
    COMPONENT_CACHE_TTL_HOURS: intSetting(8, 1, 48),
    /** How often instances share rate-limit demand while a key is near its limit. */
    RATE_LIMIT_SYNC_INTERVAL_MS: intSetting(250, 50, 10_000),
    /** How often they share otherwise (it is also each instance's heartbeat). */
    RATE_LIMIT_IDLE_SYNC_INTERVAL_MS: intSetting(2000, 200, 60_000),
    /** Sustained requests per second one portal user (a token's `sub`, staff included) may make. */
    PORTAL_RATE_LIMIT_USER_PER_SECOND: intSetting(5, 1, 1_000_000),
    /** Requests a portal user may make at once above that rate. */
    PORTAL_RATE_LIMIT_USER_BURST: intSetting(20, 1, 10_000_000),
    /** Sustained requests per second the portal users of one customer may make together. */
    PORTAL_RATE_LIMIT_CUSTOMER_PER_SECOND: intSetting(10, 1, 1_000_000),
    /** Requests a customer's portal users may make at once above that rate. */
    PORTAL_RATE_LIMIT_CUSTOMER_BURST: intSetting(40, 1, 10_000_000),
    /** Sustained token exchanges (POST /v1/oauth/token) per second from one client address, checked before anything is read. */
    TOKEN_EXCHANGE_RATE_LIMIT_ADDRESS_PER_SECOND: intSetting(5, 1, 1_000_000),
    /** Exchanges one address may make at once above that rate. */
    TOKEN_EXCHANGE_RATE_LIMIT_ADDRESS_BURST: intSetting(50, 1, 10_000_000),
    /** Sustained token exchanges per second for one customer (its `audience`), all addresses together, checked before verification. */
    TOKEN_EXCHANGE_RATE_LIMIT_CUSTOMER_PER_SECOND: intSetting(20, 1, 1_000_000),
    /** Exchanges for one customer at once above that rate. */
    TOKEN_EXCHANGE_RATE_LIMIT_CUSTOMER_BURST: intSetting(200, 1, 10_000_000),
    /** How often usage counts are written (the most a crash can lose). */
    USAGE_FLUSH_INTERVAL_MS: intSetting(30_000, 500, 600_000),
    /** How long hourly usage is kept (at least 35 days). */
    USAGE_RETENTION_DAYS: intSetting(40, 35, 400),
    /** A key unused this long is stale. */
    STALE_KEY_DAYS: intSetting(30, 1, 365),
    /** A key older than this is due for rotation (a reminder in the listing, the portal and to staff). */
    KEY_ROTATION_DAYS: intSetting(90, 1, 3650),
    /**
     * Proxies in front of the app that append to `X-Forwarded-For` (Azure's front end: 1). The
     * client's address is the entry that many places from the end; entries before it are the
     * client's own words and never trusted (IP allowlists, the failed-authentication throttle).
     */
    TRUSTED_PROXY_HOPS: intSetting(1, 1, 10),
    /**
     * Client ID of the user-assigned managed identity the app uses for storage and Key Vault
     * (set by infra/). Unset: DefaultAzureCredential's own chain (developer sign-in, system identity).
     */
    AZURE_CLIENT_ID: z.uuid({ error: 'must be the client ID (a GUID) of a managed identity' }).optional(),
    /**
     * `true` turns on the developer-machine rules: portal tokens signed with PORTAL_JWT_SECRET,
     * the local sign-in route, master components in a file under LOCAL_DATA_DIR. Only `npm start`,
     * local.settings.json (for `func start`) and the tests set it; every other runtime gets the
     * production rules, whatever else its environment looks like.
     */
    VERIPROOF_LOCAL_MODE: z.enum(['true', 'false'], { error: 'must be true or false' }).default('false'),
    /** Set by the platform on every Azure instance; either one means "running in Azure". */
    WEBSITE_INSTANCE_ID: z.string().optional(),
    /** Set by the platform on every Azure Functions app, Flex Consumption included. */
    WEBSITE_SITE_NAME: z.string().optional(),
  })
  .superRefine((env, ctx) => {
    const inAzure = Boolean(env.WEBSITE_INSTANCE_ID || env.WEBSITE_SITE_NAME);
    const local = env.VERIPROOF_LOCAL_MODE === 'true';
    if (local && inAzure) {
      ctx.addIssue({
        code: 'custom',
        path: ['VERIPROOF_LOCAL_MODE'],
        message: 'is for developer machines and tests; it cannot be on in Azure',
      });
    }
    const portal = [env.PORTAL_JWKS_URL, env.PORTAL_JWT_SECRET].filter(Boolean).length;
    if (portal !== 1) {
      ctx.addIssue({
        code: 'custom',
        path: ['PORTAL_JWKS_URL'],
        message:
          portal === 0
            ? 'set PORTAL_JWKS_URL (production) or PORTAL_JWT_SECRET (local mode)'
            : 'set only one of PORTAL_JWKS_URL and PORTAL_JWT_SECRET',
      });
    }
    if (env.PORTAL_JWT_SECRET && !local) {
      ctx.addIssue({
        code: 'custom',
        path: ['PORTAL_JWT_SECRET'],
        message: 'a shared-secret portal token key is for local mode only (VERIPROOF_LOCAL_MODE=true); set PORTAL_JWKS_URL',
      });
    }
    if (env.PORTAL_SIGN_IN_URL && !local && !env.PORTAL_SIGN_IN_URL.startsWith('https://')) {
      ctx.addIssue({ code: 'custom', path: ['PORTAL_SIGN_IN_URL'], message: 'must be https outside local mode' });
    }
    if (env.PORTAL_JWKS_URL && !local && !env.PORTAL_JWKS_URL.startsWith('https://')) {
      ctx.addIssue({
        code: 'custom',
        path: ['PORTAL_JWKS_URL'],
        message: 'must be https outside local mode (the signing keys of every portal token come from it)',
      });
    }
    if (!local && !env.GITHUB_SECRET_SCANNING_KEYS_URL.startsWith('https://')) {
      ctx.addIssue({
        code: 'custom',
        path: ['GITHUB_SECRET_SCANNING_KEYS_URL'],
        message: 'must be https outside local mode (the keys that authenticate leak reports come from it)',
      });
    }
    if (!local && !env.KEY_VAULT_URL) {
      ctx.addIssue({
        code: 'custom',
        path: ['KEY_VAULT_URL'],
        message: 'is required outside local mode: master components live in Key Vault, never on the instance',
      });
    }
    if (env.SESSIONS_TABLES_ENDPOINTS && env.SESSIONS_TABLES_CONNECTION_STRINGS) {
      ctx.addIssue({
        code: 'custom',
        path: ['SESSIONS_TABLES_ENDPOINTS'],
        message: 'set only one of SESSIONS_TABLES_ENDPOINTS and SESSIONS_TABLES_CONNECTION_STRINGS',
      });
    }
    if (env.QUEUES_CONNECTION_STRING && env.QUEUES_ENDPOINT) {
      ctx.addIssue({
        code: 'custom',
        path: ['QUEUES_CONNECTION_STRING'],
        message: 'set only one of QUEUES_CONNECTION_STRING and QUEUES_ENDPOINT',
      });
    } else if (!env.QUEUES_CONNECTION_STRING && !env.QUEUES_ENDPOINT && !env.TABLES_CONNECTION_STRING && env.TABLES_ENDPOINT) {
      if (!queueEndpointOf(env.TABLES_ENDPOINT)) {
        ctx.addIssue({
          code: 'custom',
          path: ['QUEUES_ENDPOINT'],
          message: 'is required when TABLES_ENDPOINT is not a storage account table endpoint (https://<account>.table.<suffix>)',
        });
      }
    }
    const given = [env.TABLES_CONNECTION_STRING, env.TABLES_ENDPOINT].filter(Boolean).length;
    if (given !== 1) {
      ctx.addIssue({
        code: 'custom',
        path: ['TABLES_CONNECTION_STRING'],
        message:
          given === 0
            ? 'set TABLES_CONNECTION_STRING (local, e.g. UseDevelopmentStorage=true) or TABLES_ENDPOINT (Azure, with a managed identity)'
            : 'set only one of TABLES_CONNECTION_STRING and TABLES_ENDPOINT',
      });
    }
  });

/** A storage account's queue endpoint from its table endpoint (`https://<account>.table.<suffix>`); undefined for anything else. */
export function queueEndpointOf(tableEndpoint: string): string | undefined {
  const match = /^(https?:\/\/[a-z0-9]+)\.table\.(.+)$/i.exec(tableEndpoint.replace(/\/+$/, ''));
  return match ? `${match[1]}.queue.${match[2]}` : undefined;
}

export interface Config {
  /** Our queues (webhook deliveries): in the tables' account unless set apart; names take the tables' prefix. */
  queues: {
    connectionString: string | undefined;
    endpoint: string | undefined;
    prefix: string;
    timeoutMs: number;
  };
  webhooks: {
    /** How long a failed delivery waits before each retry (one retry per entry), before jitter. */
    retryDelaysMs: number[];
  };
  tables: {
    connectionString: string | undefined;
    endpoint: string | undefined;
    prefix: string;
    timeoutMs: number;
  };
  /** The accounts that hold ingested sessions; empty: the main account ({@link Config.tables}). */
  sessionAccounts: Array<{ connectionString: string; endpoint?: undefined } | { endpoint: string; connectionString?: undefined }>;
  authCache: { ttlMs: number; maxEntries: number; failuresPerMinute: number };
  health: { probeIntervalMs: number };
  ingest: { maxBodyBytes: number; memoryBudgetBytes: number };
  localDataDir: string;
  plans: Record<Plan, PlanLimits>;
  portal: {
    issuer: string;
    audience: string;
    jwksUrl: string | undefined;
    /** Present only in local mode. */
    sharedSecret: string | undefined;
    /** The portal back end's sign-in address the page sends users to (production). */
    signInUrl: string | undefined;
  };
  revocationFeed: { pollIntervalMs: number; maxStalenessMs: number };
  rateLimit: { syncIntervalMs: number; idleSyncIntervalMs: number };
  /** What portal-token requests are held to: per user (staff too) and per customer (its users together). */
  portalRateLimit: { perUser: RateSetting; perCustomer: RateSetting };
  /** What token exchanges are held to, before any verification: per client address and per customer. */
  tokenExchangeRateLimit: { perAddress: RateSetting; perCustomer: RateSetting };
  usage: { flushIntervalMs: number; retentionDays: number };
  staleKeyDays: number;
  /** Keys older than this are due for rotation. */
  rotationDueMs: number;
  /** Proxies that append to X-Forwarded-For in front of the app. */
  trustedProxyHops: number;
  secretScanning: {
    /** GitHub's secret-scanning public keys (GITHUB_SECRET_SCANNING_KEYS_URL). */
    githubKeysUrl: string;
  };
  masterComponent: {
    /** Key Vault URL; undefined locally (a file store under LOCAL_DATA_DIR stands in). */
    vaultUrl: string | undefined;
    gracePeriodMs: number;
    cacheTtlMs: number;
  };
  /**
   * Which rules apply: `local` only when VERIPROOF_LOCAL_MODE=true (npm start, tests); `azure`
   * where the platform says so; `production` anywhere else (a container, another cloud).
   */
  runtime: 'azure' | 'production' | 'local';
  /** Client ID of the managed identity for Azure SDK clients; undefined: the default credential chain. */
  managedIdentityClientId: string | undefined;
}

/** Thrown when the environment does not describe a runnable service. */
export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`Invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** Names of every setting the service reads (used by the docs and the infra drift test). */
export const CONFIG_SETTINGS = Object.keys(configSchema.shape) as Array<keyof typeof configSchema.shape>;

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const relevant = Object.fromEntries(CONFIG_SETTINGS.map((name) => [name, env[name] === '' ? undefined : env[name]]));
  const parsed = configSchema.safeParse(relevant);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((issue) => `${issue.path.join('.') || 'config'}: ${issue.message}`));
  }
  const v = parsed.data;
  const queueConnection = v.QUEUES_CONNECTION_STRING ?? (v.QUEUES_ENDPOINT ? undefined : v.TABLES_CONNECTION_STRING);
  return {
    queues: {
      connectionString: queueConnection,
      endpoint: queueConnection ? undefined : (v.QUEUES_ENDPOINT ?? queueEndpointOf(v.TABLES_ENDPOINT ?? '')),
      prefix: v.TABLES_PREFIX,
      timeoutMs: v.STORAGE_TIMEOUT_MS,
    },
    webhooks: { retryDelaysMs: v.WEBHOOK_RETRY_DELAYS_SECONDS.map((s) => s * 1000) },
    tables: {
      connectionString: v.TABLES_CONNECTION_STRING,
      endpoint: v.TABLES_ENDPOINT,
      prefix: v.TABLES_PREFIX,
      timeoutMs: v.STORAGE_TIMEOUT_MS,
    },
    sessionAccounts: [
      ...(v.SESSIONS_TABLES_ENDPOINTS ?? []).map((endpoint) => ({ endpoint })),
      ...(v.SESSIONS_TABLES_CONNECTION_STRINGS ?? []).map((connectionString) => ({ connectionString })),
    ],
    authCache: {
      ttlMs: v.AUTH_CACHE_TTL_SECONDS * 1000,
      maxEntries: v.AUTH_CACHE_MAX_ENTRIES,
      failuresPerMinute: v.AUTH_FAILURES_PER_MINUTE,
    },
    health: { probeIntervalMs: v.HEALTH_PROBE_INTERVAL_MS },
    ingest: { maxBodyBytes: v.INGEST_MAX_BODY_BYTES, memoryBudgetBytes: v.INGEST_MEMORY_BUDGET_MB * 1024 * 1024 },
    localDataDir: v.LOCAL_DATA_DIR,
    plans: v.PLANS ?? DEFAULT_PLANS,
    portal: {
      issuer: v.PORTAL_JWT_ISSUER,
      audience: v.PORTAL_JWT_AUDIENCE,
      jwksUrl: v.PORTAL_JWKS_URL,
      sharedSecret: v.PORTAL_JWT_SECRET,
      signInUrl: v.PORTAL_SIGN_IN_URL,
    },
    revocationFeed: {
      pollIntervalMs: v.REVOCATION_POLL_INTERVAL_MS,
      maxStalenessMs: v.REVOCATION_FEED_MAX_STALENESS_SECONDS * 1000,
    },
    rateLimit: { syncIntervalMs: v.RATE_LIMIT_SYNC_INTERVAL_MS, idleSyncIntervalMs: v.RATE_LIMIT_IDLE_SYNC_INTERVAL_MS },
    portalRateLimit: {
      perUser: { requestsPerSecond: v.PORTAL_RATE_LIMIT_USER_PER_SECOND, burst: v.PORTAL_RATE_LIMIT_USER_BURST },
      perCustomer: { requestsPerSecond: v.PORTAL_RATE_LIMIT_CUSTOMER_PER_SECOND, burst: v.PORTAL_RATE_LIMIT_CUSTOMER_BURST },
    },
    tokenExchangeRateLimit: {
      perAddress: {
        requestsPerSecond: v.TOKEN_EXCHANGE_RATE_LIMIT_ADDRESS_PER_SECOND,
        burst: v.TOKEN_EXCHANGE_RATE_LIMIT_ADDRESS_BURST,
      },
      perCustomer: {
        requestsPerSecond: v.TOKEN_EXCHANGE_RATE_LIMIT_CUSTOMER_PER_SECOND,
        burst: v.TOKEN_EXCHANGE_RATE_LIMIT_CUSTOMER_BURST,
      },
    },
    usage: { flushIntervalMs: v.USAGE_FLUSH_INTERVAL_MS, retentionDays: v.USAGE_RETENTION_DAYS },
    staleKeyDays: v.STALE_KEY_DAYS,
    rotationDueMs: v.KEY_ROTATION_DAYS * 86_400_000,
    trustedProxyHops: v.TRUSTED_PROXY_HOPS,
    secretScanning: { githubKeysUrl: v.GITHUB_SECRET_SCANNING_KEYS_URL },
    masterComponent: {
      vaultUrl: v.KEY_VAULT_URL,
      gracePeriodMs: v.TENANT_KEY_GRACE_PERIOD_HOURS * 3_600_000,
      cacheTtlMs: v.COMPONENT_CACHE_TTL_HOURS * 3_600_000,
    },
    runtime: v.VERIPROOF_LOCAL_MODE === 'true' ? 'local' : v.WEBSITE_INSTANCE_ID || v.WEBSITE_SITE_NAME ? 'azure' : 'production',
    managedIdentityClientId: v.AZURE_CLIENT_ID,
  };
}
