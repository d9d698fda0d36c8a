import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.schema.js';

const problems = (env: Record<string, string>) => {
  try {
    loadConfig(env);
  } catch (err) {
    return (err as ConfigError).problems;
  }
  return [];
};

describe('loadConfig', () => {
  it('gives the design defaults for an empty environment (embedded mode)', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      host: '0.0.0.0',
      port: 8000,
      mode: 'embedded',
      redis: null,
      github: { baseUrl: 'https://github.com', apiUrl: 'https://api.github.com', oauthClientId: 'Iv1.b507a08c87ecfe98' },
      dataDir: './data',
      allowPassthrough: true,
      rateLimit: { enabled: true, requests: 60, windowMs: 60_000 },
      modelCacheTtlSeconds: 3600,
      maxClientsCache: 1000,
      upstream: { maxConnections: 256, headersTimeoutMs: 60_000, bodyTimeoutMs: 300_000 },
      bodyLimit: 10 * 1024 * 1024,
      corsOrigins: ['*'],
      logLevel: 'info',
    });
    expect(loadConfig({}, 'auth').port).toBe(8001);
  });

  it('reads Redis mode, sizes, lists and booleans', () => {
    const c = loadConfig({
      REDIS_URL: 'redis://r:6379/0',
      TOKEN_ENCRYPTION_KEY: 'ab'.repeat(32),
      BODY_LIMIT: '2mb',
      CORS_ORIGINS: 'https://a.example, https://b.example',
      ALLOW_GITHUB_TOKEN_PASSTHROUGH: 'false',
      GITHUB_API_URL: 'http://127.0.0.1:9999/',
    });
    expect(c.mode).toBe('redis');
    expect(c.redis).toEqual({ kind: 'single', url: 'redis://r:6379/0', keyPrefix: 'cgw:' });
    expect(c.upstream.http2).toBe(true);
    expect(c.encryptionKey?.length).toBe(32);
    expect(c.bodyLimit).toBe(2_000_000);
    expect(c.corsOrigins).toEqual(['https://a.example', 'https://b.example']);
    expect(c.allowPassthrough).toBe(false);
    expect(c.github.apiUrl).toBe('http://127.0.0.1:9999');
  });

  it('names every wrong variable on a line of its own', () => {
    expect(problems({ PORT: 'eighty', RATE_LIMIT_REQUESTS: '0', REDIS_URL: 'http://x', LOG_LEVEL: 'loud', BODY_LIMIT: 'huge', RATE_LIMIT_ENABLED: 'maybe' })).toEqual([
      'PORT: must be a number',
      'REDIS_URL: must be a redis:// or rediss:// URL',
      'RATE_LIMIT_ENABLED: must be true or false',
      'RATE_LIMIT_REQUESTS: must be at least 1',
      'BODY_LIMIT: must be a size like 10485760, 512kb or 10mb',
      expect.stringMatching(/^LOG_LEVEL: /),
    ]);
  });

  it('requires an encryption key with Redis and one worker without it', () => {
    expect(problems({ REDIS_URL: 'redis://r:6379' })).toEqual(['TOKEN_ENCRYPTION_KEY: required when REDIS_URL is set (32 bytes, hex or base64)']);
    expect(problems({ WORKERS: '4' })).toEqual(['WORKERS: must be 1 in embedded mode (set REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_NODES to run several workers)']);
    expect(problems({ TOKEN_ENCRYPTION_KEY: 'short' })).toEqual(['TOKEN_ENCRYPTION_KEY: must be 32 bytes, as 64 hex characters or base64']);
  });

  it('reads Sentinel and Cluster modes, with their passwords', () => {
    const key = { TOKEN_ENCRYPTION_KEY: 'ab'.repeat(32) };
    const s = loadConfig({ ...key, REDIS_SENTINELS: 's1:26379, [::1]:26380', REDIS_SENTINEL_MASTER: 'cgw', REDIS_PASSWORD: 'p', REDIS_SENTINEL_PASSWORD: 'sp', WORKERS: '2' });
    expect(s.mode).toBe('redis');
    expect(s.redis).toEqual({ kind: 'sentinel', sentinels: [{ host: 's1', port: 26379 }, { host: '::1', port: 26380 }], masterName: 'cgw', password: 'p', sentinelPassword: 'sp', keyPrefix: 'cgw:' });
    const c = loadConfig({ ...key, REDIS_CLUSTER_NODES: 'a:7000,b:7001', REDIS_PASSWORD: 'p', REDIS_KEY_PREFIX: 'x:' });
    expect(c.redis).toEqual({ kind: 'cluster', nodes: [{ host: 'a', port: 7000 }, { host: 'b', port: 7001 }], password: 'p', keyPrefix: 'x:' });
    // REDIS_PASSWORD fills in a URL without one; a URL's own password wins.
    expect(loadConfig({ ...key, REDIS_URL: 'redis://r:6379', REDIS_PASSWORD: 'p w' }).redis).toMatchObject({ url: 'redis://:p%20w@r:6379' });
    expect(loadConfig({ ...key, REDIS_URL: 'redis://:own@r:6379', REDIS_PASSWORD: 'p' }).redis).toMatchObject({ url: 'redis://:own@r:6379' });
    expect(loadConfig({ UPSTREAM_HTTP2: 'false' }).upstream.http2).toBe(false);
  });

  it('refuses two Redis modes at once, and half a Sentinel setting', () => {
    const key = { TOKEN_ENCRYPTION_KEY: 'ab'.repeat(32) };
    expect(problems({ ...key, REDIS_URL: 'redis://r:6379', REDIS_CLUSTER_NODES: 'a:7000' })).toEqual([
      'REDIS_URL, REDIS_CLUSTER_NODES: set exactly one of them (they each select a Redis mode)',
    ]);
    expect(problems({ ...key, REDIS_SENTINELS: 's1:26379' })).toEqual([
      "REDIS_SENTINEL_MASTER: required with REDIS_SENTINELS (the master's name the sentinels monitor)",
    ]);
    expect(problems({ ...key, REDIS_SENTINEL_MASTER: 'cgw', REDIS_URL: 'redis://r' })).toEqual([
      'REDIS_SENTINELS: required with REDIS_SENTINEL_MASTER (host:port of each sentinel)',
    ]);
    expect(problems({ ...key, REDIS_CLUSTER_NODES: 'a:7000,b' })).toEqual(["REDIS_CLUSTER_NODES: 'b' must be host:port"]);
    expect(problems({ REDIS_CLUSTER_NODES: 'a:7000' })).toEqual(['TOKEN_ENCRYPTION_KEY: required when REDIS_CLUSTER_NODES is set (32 bytes, hex or base64)']);
  });

  it('treats empty variables as unset', () => {
    expect(loadConfig({ REDIS_URL: '', PORT: '' }).mode).toBe('embedded');
  });
});
