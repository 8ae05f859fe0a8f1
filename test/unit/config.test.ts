import { ConfigError, DEFAULT_PLANS, loadConfig } from '../../shared/config';
import { TEST_PORTAL_ENV } from '../support/portal';

const base = { TABLES_CONNECTION_STRING: 'UseDevelopmentStorage=true', ...TEST_PORTAL_ENV };

describe('config', () => {
  it('parses a minimal local environment with defaults', () => {
    const config = loadConfig(base);
    expect(config).toEqual({
      queues: { connectionString: 'UseDevelopmentStorage=true', endpoint: undefined, prefix: '', timeoutMs: 3000 },
      webhooks: { retryDelaysMs: [5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000] },
      tables: { connectionString: 'UseDevelopmentStorage=true', endpoint: undefined, prefix: '', timeoutMs: 3000 },
      sessionAccounts: [],
      authCache: { ttlMs: 300_000, maxEntries: 10_000, failuresPerMinute: 60 },
      health: { probeIntervalMs: 5000 },
      ingest: { maxBodyBytes: 4 * 1024 * 1024, memoryBudgetBytes: 256 * 1024 * 1024 },
      localDataDir: '.local',
      plans: DEFAULT_PLANS,
      portal: {
        issuer: TEST_PORTAL_ENV.PORTAL_JWT_ISSUER,
        audience: TEST_PORTAL_ENV.PORTAL_JWT_AUDIENCE,
        jwksUrl: undefined,
        sharedSecret: TEST_PORTAL_ENV.PORTAL_JWT_SECRET,
        signInUrl: undefined,
      },
      revocationFeed: { pollIntervalMs: 1000, maxStalenessMs: 30_000 },
      rateLimit: { syncIntervalMs: 250, idleSyncIntervalMs: 2000 },
      portalRateLimit: { perUser: { requestsPerSecond: 5, burst: 20 }, perCustomer: { requestsPerSecond: 10, burst: 40 } },
      tokenExchangeRateLimit: { perAddress: { requestsPerSecond: 5, burst: 50 }, perCustomer: { requestsPerSecond: 20, burst: 200 } },
      usage: { flushIntervalMs: 30_000, retentionDays: 40 },
      staleKeyDays: 30,
      rotationDueMs: 90 * 86_400_000,
      trustedProxyHops: 1,
      secretScanning: { githubKeysUrl: 'https://api.github.com/meta/public_keys/secret_scanning' },
      masterComponent: { vaultUrl: undefined, gracePeriodMs: 7 * 24 * 3_600_000, cacheTtlMs: 8 * 3_600_000 },
      runtime: 'local',
      managedIdentityClientId: undefined,
    });
  });

  it('has the plan table of the product: starter 2, pro 5, enterprise 50 keys; 2, 10 and 50 trust policies', () => {
    expect(DEFAULT_PLANS).toEqual({
      starter: { keyLimit: 2, trustPolicyLimit: 2, webhookEndpointLimit: 2, requestsPerSecond: 10, burst: 20 },
      pro: { keyLimit: 5, trustPolicyLimit: 10, webhookEndpointLimit: 10, requestsPerSecond: 100, burst: 200 },
      enterprise: { keyLimit: 50, trustPolicyLimit: 50, webhookEndpointLimit: 50, requestsPerSecond: 1000, burst: 2000 },
    });
  });

  it('takes the sessions accounts as endpoints (Azure) or connection strings (local)', () => {
    expect(
      loadConfig({ ...base, SESSIONS_TABLES_ENDPOINTS: ' https://a.table.core.windows.net, https://b.table.core.windows.net ' })
        .sessionAccounts,
    ).toEqual([{ endpoint: 'https://a.table.core.windows.net' }, { endpoint: 'https://b.table.core.windows.net' }]);
    expect(loadConfig({ ...base, SESSIONS_TABLES_CONNECTION_STRINGS: '["UseDevelopmentStorage=true"]' }).sessionAccounts).toEqual([
      { connectionString: 'UseDevelopmentStorage=true' },
    ]);
  });

  it('takes plan overrides as JSON, keeping unnamed values', () => {
    const config = loadConfig({ ...base, PLANS: '{"pro":{"keyLimit":8},"starter":{"trustPolicyLimit":0,"webhookEndpointLimit":0}}' });
    expect(config.plans.pro).toEqual({ keyLimit: 8, trustPolicyLimit: 10, webhookEndpointLimit: 10, requestsPerSecond: 100, burst: 200 });
    expect(config.plans.starter).toEqual({ ...DEFAULT_PLANS.starter, trustPolicyLimit: 0, webhookEndpointLimit: 0 });
    expect(config.plans.enterprise).toEqual(DEFAULT_PLANS.enterprise);
  });

  it('takes a table endpoint and a JWKS URL (the Azure shape)', () => {
    const { PORTAL_JWT_SECRET: _secret, VERIPROOF_LOCAL_MODE: _local, ...portal } = TEST_PORTAL_ENV;
    const config = loadConfig({
      ...portal,
      TABLES_ENDPOINT: 'https://acct.table.core.windows.net',
      PORTAL_JWKS_URL: 'https://login.example.com/keys',
      KEY_VAULT_URL: 'https://acme-keys.vault.azure.net',
      WEBSITE_INSTANCE_ID: 'abc',
      AZURE_CLIENT_ID: '5b0f8a52-52c6-4c38-9a4f-3f6a1c2e9d10',
    });
    expect(config.managedIdentityClientId).toBe('5b0f8a52-52c6-4c38-9a4f-3f6a1c2e9d10');
    expect(config.masterComponent.vaultUrl).toBe('https://acme-keys.vault.azure.net');
    expect(config.tables.endpoint).toBe('https://acct.table.core.windows.net');
    // The queues live in the tables' account unless set apart.
    expect(config.queues).toMatchObject({ connectionString: undefined, endpoint: 'https://acct.queue.core.windows.net' });
    expect(config.portal).toMatchObject({ jwksUrl: 'https://login.example.com/keys', sharedSecret: undefined });
    expect(config.runtime).toBe('azure');
  });

  it('takes the queues from their own setting, else from the tables', () => {
    expect(loadConfig({ ...base, QUEUES_CONNECTION_STRING: 'QueueEndpoint=http://127.0.0.1:1/x;' }).queues.connectionString).toBe(
      'QueueEndpoint=http://127.0.0.1:1/x;',
    );
    expect(loadConfig({ ...base, QUEUES_ENDPOINT: 'https://other.queue.core.windows.net' }).queues).toMatchObject({
      connectionString: undefined,
      endpoint: 'https://other.queue.core.windows.net',
    });
    const { PORTAL_JWT_SECRET: _secret, ...portal } = TEST_PORTAL_ENV;
    const sovereign = loadConfig({
      ...portal,
      PORTAL_JWKS_URL: 'https://login.example.com/keys',
      TABLES_ENDPOINT: 'https://acct.table.core.chinacloudapi.cn/',
    });
    expect(sovereign.queues.endpoint).toBe('https://acct.queue.core.chinacloudapi.cn');
  });

  it('reads the webhook retry delays as a comma list of seconds', () => {
    expect(loadConfig({ ...base, WEBHOOK_RETRY_DELAYS_SECONDS: ' 1, 2,3 ' }).webhooks.retryDelaysMs).toEqual([1000, 2000, 3000]);
    expect(loadConfig({ ...base, WEBHOOK_RETRY_DELAYS_SECONDS: '604800' }).webhooks.retryDelaysMs).toEqual([604_800_000]);
  });

  it.each([
    [{ ...TEST_PORTAL_ENV }, /TABLES_CONNECTION_STRING: set TABLES_CONNECTION_STRING/],
    [{ ...base, QUEUES_CONNECTION_STRING: 'a', QUEUES_ENDPOINT: 'https://a.queue.core.windows.net' }, /set only one of QUEUES_/],
    [{ ...base, QUEUES_ENDPOINT: 'not a url' }, /QUEUES_ENDPOINT/],
    [
      { ...base, TABLES_CONNECTION_STRING: undefined, TABLES_ENDPOINT: 'https://tables.example.com' },
      /QUEUES_ENDPOINT: is required when TABLES_ENDPOINT is not a storage account table endpoint/,
    ],
    [{ ...base, WEBHOOK_RETRY_DELAYS_SECONDS: '5,five' }, /WEBHOOK_RETRY_DELAYS_SECONDS.*whole numbers of seconds/],
    [{ ...base, WEBHOOK_RETRY_DELAYS_SECONDS: '0' }, /WEBHOOK_RETRY_DELAYS_SECONDS/],
    [{ ...base, WEBHOOK_RETRY_DELAYS_SECONDS: '604801' }, /WEBHOOK_RETRY_DELAYS_SECONDS/],
    [{ ...base, WEBHOOK_RETRY_DELAYS_SECONDS: '5,,6' }, /WEBHOOK_RETRY_DELAYS_SECONDS/],
    [{ ...base, TABLES_ENDPOINT: 'https://a.table.core.windows.net' }, /set only one/],
    [{ ...base, TABLES_CONNECTION_STRING: undefined, TABLES_ENDPOINT: 'not a url' }, /TABLES_ENDPOINT/],
    [{ ...base, AUTH_CACHE_TTL_SECONDS: 'ten' }, /AUTH_CACHE_TTL_SECONDS: must be a whole number/],
    [{ ...base, AUTH_CACHE_MAX_ENTRIES: '0' }, /AUTH_CACHE_MAX_ENTRIES/],
    [{ ...base, TABLES_PREFIX: '1abc' }, /TABLES_PREFIX/],
    [{ ...base, INGEST_MAX_BODY_BYTES: '-5' }, /INGEST_MAX_BODY_BYTES/],
    [{ ...base, PORTAL_JWT_ISSUER: undefined }, /PORTAL_JWT_ISSUER: is required/],
    [{ ...base, PORTAL_JWT_SECRET: undefined }, /PORTAL_JWKS_URL: set PORTAL_JWKS_URL/],
    [{ ...base, PORTAL_JWKS_URL: 'https://x.example/keys' }, /only one of PORTAL_JWKS_URL and PORTAL_JWT_SECRET/],
    [{ ...base, PORTAL_JWT_SECRET: 'short' }, /PORTAL_JWT_SECRET: must be at least 32/],
    [{ ...base, WEBSITE_INSTANCE_ID: 'abc' }, /VERIPROOF_LOCAL_MODE: is for developer machines and tests; it cannot be on in Azure/],
    [
      { ...base, VERIPROOF_LOCAL_MODE: undefined, WEBSITE_SITE_NAME: 'func-veriproof' },
      /PORTAL_JWT_SECRET: a shared-secret portal token key is for local mode only/,
    ],
    // Anywhere but a developer machine (a container, another cloud): the production rules.
    [{ ...base, VERIPROOF_LOCAL_MODE: undefined }, /PORTAL_JWT_SECRET: a shared-secret portal token key is for local mode only/],
    [{ ...base, VERIPROOF_LOCAL_MODE: 'false' }, /KEY_VAULT_URL: is required outside local mode/],
    [{ ...base, VERIPROOF_LOCAL_MODE: 'yes' }, /VERIPROOF_LOCAL_MODE: must be true or false/],
    [
      {
        ...base,
        VERIPROOF_LOCAL_MODE: undefined,
        PORTAL_JWT_SECRET: undefined,
        PORTAL_JWKS_URL: 'http://login.example.com/keys',
        KEY_VAULT_URL: 'https://v.vault.azure.net',
      },
      /PORTAL_JWKS_URL: must be https outside local mode/,
    ],
    [
      {
        ...base,
        VERIPROOF_LOCAL_MODE: undefined,
        PORTAL_JWT_SECRET: undefined,
        PORTAL_JWKS_URL: 'https://login.example.com/keys',
        KEY_VAULT_URL: 'https://v.vault.azure.net',
        GITHUB_SECRET_SCANNING_KEYS_URL: 'http://api.github.example/keys',
      },
      /GITHUB_SECRET_SCANNING_KEYS_URL: must be https outside local mode/,
    ],
    [{ ...base, GITHUB_SECRET_SCANNING_KEYS_URL: 'not a url' }, /GITHUB_SECRET_SCANNING_KEYS_URL/],
    [{ ...base, AZURE_CLIENT_ID: 'not-a-guid' }, /AZURE_CLIENT_ID: must be the client ID/],
    [{ ...base, PLANS: '{nope' }, /PLANS: must be JSON/],
    [
      {
        ...base,
        VERIPROOF_LOCAL_MODE: undefined,
        PORTAL_JWT_SECRET: undefined,
        PORTAL_JWKS_URL: 'https://x.example/keys',
        WEBSITE_INSTANCE_ID: 'abc',
      },
      /KEY_VAULT_URL: is required outside local mode/,
    ],
    [{ ...base, KEY_VAULT_URL: 'http://vault.local' }, /KEY_VAULT_URL/],
    [{ ...base, TENANT_KEY_GRACE_PERIOD_HOURS: '-1' }, /TENANT_KEY_GRACE_PERIOD_HOURS/],
    [{ ...base, USAGE_RETENTION_DAYS: '30' }, /USAGE_RETENTION_DAYS/],
    [{ ...base, PLANS: '{"gold":{"keyLimit":1}}' }, /PLANS/],
    [{ ...base, PLANS: '{"pro":{"keyLimit":0}}' }, /PLANS/],
    [{ ...base, PLANS: '{"pro":{"trustPolicyLimit":-1}}' }, /PLANS/],
    [{ ...base, PLANS: '{"pro":{"webhookEndpointLimit":1.5}}' }, /PLANS/],
    [{ ...base, SESSIONS_TABLES_ENDPOINTS: 'https://a.table.core.windows.net,not a url' }, /SESSIONS_TABLES_ENDPOINTS/],
    [
      { ...base, SESSIONS_TABLES_CONNECTION_STRINGS: 'UseDevelopmentStorage=true' },
      /SESSIONS_TABLES_CONNECTION_STRINGS: must be a JSON array/,
    ],
    [{ ...base, SESSIONS_TABLES_CONNECTION_STRINGS: '[]' }, /SESSIONS_TABLES_CONNECTION_STRINGS/],
    [
      { ...base, SESSIONS_TABLES_CONNECTION_STRINGS: '["a"]', SESSIONS_TABLES_ENDPOINTS: 'https://a.table.core.windows.net' },
      /set only one of SESSIONS_TABLES_ENDPOINTS and SESSIONS_TABLES_CONNECTION_STRINGS/,
    ],
  ])('refuses %j, naming the setting', (env, message) => {
    expect(() => loadConfig(env as Record<string, string>)).toThrow(ConfigError);
    expect(() => loadConfig(env as Record<string, string>)).toThrow(message);
  });

  it('applies the production rules outside local mode, and says which rules apply', () => {
    const { PORTAL_JWT_SECRET: _secret, VERIPROOF_LOCAL_MODE: _local, ...portal } = TEST_PORTAL_ENV;
    const container = loadConfig({
      ...portal,
      TABLES_CONNECTION_STRING: 'DefaultEndpointsProtocol=https;AccountName=a;AccountKey=b;',
      PORTAL_JWKS_URL: 'https://login.example.com/keys',
      KEY_VAULT_URL: 'https://v.vault.azure.net',
    });
    expect(container.runtime).toBe('production');
    expect(loadConfig(base).runtime).toBe('local');
  });

  it('treats empty values as unset', () => {
    expect(loadConfig({ ...base, TABLES_ENDPOINT: '', AUTH_CACHE_TTL_SECONDS: '' }).authCache.ttlMs).toBe(300_000);
  });
});
