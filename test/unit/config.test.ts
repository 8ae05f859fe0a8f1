import { ConfigError, loadConfig } from '../../shared/config';

describe('config', () => {
  it('parses a minimal local environment with defaults', () => {
    const config = loadConfig({ TABLES_CONNECTION_STRING: 'UseDevelopmentStorage=true' });
    expect(config).toEqual({
      tables: { connectionString: 'UseDevelopmentStorage=true', endpoint: undefined, prefix: '', timeoutMs: 3000 },
      authCache: { ttlMs: 30_000, maxEntries: 10_000 },
      health: { probeIntervalMs: 5000 },
      ingest: { maxBodyBytes: 4 * 1024 * 1024 },
      localDataDir: '.local',
    });
  });

  it('takes a table endpoint instead of a connection string', () => {
    const config = loadConfig({ TABLES_ENDPOINT: 'https://acct.table.core.windows.net' });
    expect(config.tables.endpoint).toBe('https://acct.table.core.windows.net');
  });

  it.each([
    [{}, /TABLES_CONNECTION_STRING: set TABLES_CONNECTION_STRING/],
    [{ TABLES_CONNECTION_STRING: 'x', TABLES_ENDPOINT: 'https://a.table.core.windows.net' }, /set only one/],
    [{ TABLES_ENDPOINT: 'not a url' }, /TABLES_ENDPOINT/],
    [{ TABLES_CONNECTION_STRING: 'x', AUTH_CACHE_TTL_SECONDS: 'ten' }, /AUTH_CACHE_TTL_SECONDS: must be a whole number/],
    [{ TABLES_CONNECTION_STRING: 'x', AUTH_CACHE_MAX_ENTRIES: '0' }, /AUTH_CACHE_MAX_ENTRIES/],
    [{ TABLES_CONNECTION_STRING: 'x', TABLES_PREFIX: '1abc' }, /TABLES_PREFIX/],
    [{ TABLES_CONNECTION_STRING: 'x', INGEST_MAX_BODY_BYTES: '-5' }, /INGEST_MAX_BODY_BYTES/],
  ])('refuses %j, naming the setting', (env, message) => {
    expect(() => loadConfig(env as Record<string, string>)).toThrow(ConfigError);
    expect(() => loadConfig(env as Record<string, string>)).toThrow(message);
  });

  it('treats empty values as unset', () => {
    expect(loadConfig({ TABLES_CONNECTION_STRING: 'x', TABLES_ENDPOINT: '', AUTH_CACHE_TTL_SECONDS: '' }).authCache.ttlMs).toBe(30_000);
  });
});
