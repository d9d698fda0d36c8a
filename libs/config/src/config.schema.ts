import { z } from 'zod';

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no', 'on', 'off'], { error: 'must be true or false' })
  .transform((v) => ['true', '1', 'yes', 'on'].includes(v));

const int = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z.coerce
    .number({ error: 'must be a number' })
    .int({ error: 'must be a whole number' })
    .min(min, { error: `must be at least ${min}` })
    .max(max, { error: `must be at most ${max}` });

const httpUrl = z
  .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
  .transform((v) => v.replace(/\/+$/, ''));

const list = z.string().transform((v) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
);

/** `host:port,host:port` (IPv6 as `[::1]:26379`); a missing port is an error, not a guess. */
function hostPorts(v: string, ctx: z.RefinementCtx): { host: string; port: number }[] {
  const out: { host: string; port: number }[] = [];
  for (const item of v.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^(?:\[([^\]]+)\]|([^:\s]+)):(\d{1,5})$/.exec(item);
    const port = m ? Number(m[3]) : 0;
    if (!m || port < 1 || port > 65535) {
      ctx.addIssue({ code: 'custom', message: `'${item}' must be host:port` });
      return z.NEVER;
    }
    out.push({ host: m[1] ?? m[2], port });
  }
  if (!out.length) {
    ctx.addIssue({ code: 'custom', message: 'must list at least one host:port' });
    return z.NEVER;
  }
  return out;
}

const SIZE = /^(\d+)\s*(b|kb|kib|mb|mib|gb|gib)?$/i;
const UNITS: Record<string, number> = { b: 1, kb: 1e3, kib: 1024, mb: 1e6, mib: 1024 ** 2, gb: 1e9, gib: 1024 ** 3 };
const byteSize = z.string().transform((v, ctx) => {
  const m = SIZE.exec(v.trim());
  if (!m) {
    ctx.addIssue({ code: 'custom', message: 'must be a size like 10485760, 512kb or 10mb' });
    return z.NEVER;
  }
  return Number(m[1]) * UNITS[(m[2] ?? 'b').toLowerCase()];
});

const encryptionKey = z.string().transform((v, ctx) => {
  const s = v.trim();
  const key = /^[0-9a-f]{64}$/i.test(s) ? Buffer.from(s, 'hex') : Buffer.from(s, 'base64');
  if (key.length !== 32) {
    ctx.addIssue({ code: 'custom', message: 'must be 32 bytes, as 64 hex characters or base64' });
    return z.NEVER;
  }
  return key;
});

export const envSchema = z.object({
  HOST: z.string().min(1).default('0.0.0.0'),
  PORT: int(0, 65535).optional(),
  WORKERS: int(1, 64).default(1),
  REDIS_URL: z
    .url({ protocol: /^rediss?$/, error: 'must be a redis:// or rediss:// URL' })
    .optional(),
  REDIS_SENTINELS: z.string().transform((v, ctx) => hostPorts(v, ctx)).optional(),
  REDIS_SENTINEL_MASTER: z.string().min(1).optional(),
  REDIS_CLUSTER_NODES: z.string().transform((v, ctx) => hostPorts(v, ctx)).optional(),
  REDIS_PASSWORD: z.string().min(1).optional(),
  REDIS_SENTINEL_PASSWORD: z.string().min(1).optional(),
  REDIS_KEY_PREFIX: z.string().default('cgw:'),
  GITHUB_BASE_URL: httpUrl.default('https://github.com'),
  GITHUB_API_URL: httpUrl.default('https://api.github.com'),
  COPILOT_API_URL: httpUrl.optional(),
  GITHUB_OAUTH_CLIENT_ID: z.string().min(1).default('Iv1.b507a08c87ecfe98'),
  GITHUB_TOKEN: z.string().min(1).optional(),
  ADMIN_TOKEN: z.string().min(16, { error: 'must be at least 16 characters' }).optional(),
  TOKEN_ENCRYPTION_KEY: encryptionKey.optional(),
  DATA_DIR: z.string().min(1).default('./data'),
  ALLOW_GITHUB_TOKEN_PASSTHROUGH: bool.default(true),
  ALLOWED_GITHUB_LOGINS: list.default([]),
  RATE_LIMIT_ENABLED: bool.default(true),
  RATE_LIMIT_REQUESTS: int(1).default(60),
  RATE_LIMIT_WINDOW: int(1).default(60),
  MODEL_CACHE_TTL: int(1).default(3600),
  MAX_CLIENTS_CACHE: int(1).default(1000),
  KEY_RECHECK_SECONDS: int(1, 86_400).default(60),
  HTTP_MAX_CONNECTIONS: int(1, 65535).default(256),
  UPSTREAM_HTTP2: bool.default(true),
  UPSTREAM_HEADERS_TIMEOUT_MS: int(1).default(60_000),
  UPSTREAM_BODY_TIMEOUT_MS: int(1).default(300_000),
  BODY_LIMIT: byteSize.default(10 * 1024 * 1024),
  REQUEST_BODY_TIMEOUT_MS: int(100, 3_600_000).default(30_000),
  CLIENT_STALL_TIMEOUT_MS: int(100, 3_600_000).default(60_000),
  DEVICE_START_LIMIT: int(1, 1_000_000).default(10),
  TRUST_PROXY: z
    .string()
    .transform((v, ctx) => {
      const s = v.trim().toLowerCase();
      if (['false', '0', 'no', 'off'].includes(s)) return 0;
      if (/^\d+$/.test(s) && Number(s) <= 32) return Number(s);
      ctx.addIssue({ code: 'custom', message: 'must be false or a number of proxy hops (1, 2, …)' });
      return z.NEVER;
    })
    .default(0),
  CORS_ORIGINS: list.default(['*']),
  SHUTDOWN_DELAY_MS: int(0, 600_000).default(5_000),
  DRAIN_TIMEOUT_MS: int(0, 3_600_000).default(30_000),
  MODEL_ALIASES: z.string().default(''),
  RESPONSES_STORE_TTL: int(60, 365 * 86_400).default(2_592_000),
  USAGE_RETENTION_DAYS: int(1, 3650).default(90),
  // What Copilot is told the client is; it answers 466 to identities it considers too old.
  COPILOT_EDITOR_VERSION: z.string().min(1).default('vscode/1.107.0'),
  COPILOT_PLUGIN_VERSION: z.string().min(1).default('copilot-chat/0.35.0'),
  COPILOT_USER_AGENT: z.string().min(1).default('GitHubCopilotChat/0.35.0'),
  COPILOT_API_VERSION: z.string().min(1).default('2025-10-01'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export interface HostPort {
  host: string;
  port: number;
}

/** How Redis is reached: exactly one of REDIS_URL, REDIS_SENTINELS, REDIS_CLUSTER_NODES. */
export type RedisTarget =
  | { kind: 'single'; url: string }
  | { kind: 'sentinel'; sentinels: HostPort[]; masterName: string; password?: string; sentinelPassword?: string }
  | { kind: 'cluster'; nodes: HostPort[]; password?: string };

export type RedisConfig = RedisTarget & { keyPrefix: string };

export type AppRole = 'all' | 'gateway' | 'auth';

export interface AppConfig {
  role: AppRole;
  host: string;
  port: number;
  workers: number;
  mode: 'redis' | 'embedded';
  redis: RedisConfig | null;
  github: { baseUrl: string; apiUrl: string; oauthClientId: string; bootstrapToken?: string };
  copilotApiUrl?: string;
  adminToken?: string;
  encryptionKey?: Buffer;
  dataDir: string;
  allowPassthrough: boolean;
  allowedLogins: string[];
  rateLimit: { enabled: boolean; requests: number; windowMs: number };
  modelCacheTtlSeconds: number;
  maxClientsCache: number;
  /** a cached key is re-read from the store after this (a net under pub/sub revocation) */
  keyRecheckMs: number;
  /** maxConnections: per origin; with http2 each connection carries many streams */
  upstream: { maxConnections: number; headersTimeoutMs: number; bodyTimeoutMs: number; http2: boolean };
  bodyLimit: number;
  /** a request body not fully received by then → 408, socket closed */
  requestBodyTimeoutMs: number;
  /** a stream the client has not drained for this long: upstream aborted, socket closed */
  clientStallTimeoutMs: number;
  /** POST /auth/device/start per client address per minute */
  deviceStartLimit: number;
  /** proxy hops whose X-Forwarded-For is believed (0: none) */
  trustProxy: number;
  corsOrigins: string[];
  /** SIGTERM: readiness 503 at once, new connections refused after delayMs, open requests get drainMs */
  shutdown: { delayMs: number; drainMs: number };
  logLevel: z.infer<typeof envSchema>['LOG_LEVEL'];
  /** how long a stored /v1/responses answer (for previous_response_id, retrieve) lives */
  responsesStoreTtlMs: number;
  /** how long the daily usage rollups are kept (hourly buckets: 48 h) */
  usageRetentionDays: number;
  /** MODEL_ALIASES: asked id → Copilot id, on top of the built-in Claude date rule */
  modelAliases: Record<string, string>;
  /** the editor identity sent to GitHub and Copilot (COPILOT_*_VERSION, COPILOT_USER_AGENT) */
  identity: { editorVersion: string; pluginVersion: string; userAgent: string; apiVersion: string };
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Parses the environment once; every problem is reported on its own line, naming the variable. */
export function loadConfig(env: Record<string, string | undefined>, role: AppRole = 'all'): AppConfig {
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  }
  const e = parsed.data;
  const problems: string[] = [];
  const modes = (['REDIS_URL', 'REDIS_SENTINELS', 'REDIS_CLUSTER_NODES'] as const).filter((k) => e[k] !== undefined);
  if (modes.length > 1) problems.push(`${modes.join(', ')}: set exactly one of them (they each select a Redis mode)`);
  const usesRedis = modes.length > 0;
  if (e.REDIS_SENTINELS && !e.REDIS_SENTINEL_MASTER) problems.push("REDIS_SENTINEL_MASTER: required with REDIS_SENTINELS (the master's name the sentinels monitor)");
  if (e.REDIS_SENTINEL_MASTER && !e.REDIS_SENTINELS) problems.push('REDIS_SENTINELS: required with REDIS_SENTINEL_MASTER (host:port of each sentinel)');
  if (e.REDIS_SENTINEL_PASSWORD && !e.REDIS_SENTINELS) problems.push('REDIS_SENTINEL_PASSWORD: only means something with REDIS_SENTINELS');
  if (usesRedis && !e.TOKEN_ENCRYPTION_KEY) {
    problems.push(`TOKEN_ENCRYPTION_KEY: required when ${modes[0]} is set (32 bytes, hex or base64)`);
  }
  if (!usesRedis && e.WORKERS > 1) {
    problems.push('WORKERS: must be 1 in embedded mode (set REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_NODES to run several workers)');
  }
  const aliases: Record<string, string> = {};
  for (const pair of e.MODEL_ALIASES.split(',').map((p) => p.trim()).filter(Boolean)) {
    const [asked, target, extra] = pair.split('=').map((p) => p.trim());
    if (!asked || !target || extra !== undefined) problems.push(`MODEL_ALIASES: '${pair}' must be asked=copilot_id`);
    else aliases[asked] = target;
  }
  if (problems.length) throw new ConfigError(problems);

  return {
    role,
    host: e.HOST,
    port: e.PORT ?? (role === 'auth' ? 8001 : 8000),
    workers: e.WORKERS,
    mode: usesRedis ? 'redis' : 'embedded',
    redis: redisConfig(e),
    github: {
      baseUrl: e.GITHUB_BASE_URL,
      apiUrl: e.GITHUB_API_URL,
      oauthClientId: e.GITHUB_OAUTH_CLIENT_ID,
      bootstrapToken: e.GITHUB_TOKEN,
    },
    copilotApiUrl: e.COPILOT_API_URL,
    adminToken: e.ADMIN_TOKEN,
    encryptionKey: e.TOKEN_ENCRYPTION_KEY,
    dataDir: e.DATA_DIR,
    allowPassthrough: e.ALLOW_GITHUB_TOKEN_PASSTHROUGH,
    allowedLogins: e.ALLOWED_GITHUB_LOGINS,
    rateLimit: {
      enabled: e.RATE_LIMIT_ENABLED,
      requests: e.RATE_LIMIT_REQUESTS,
      windowMs: e.RATE_LIMIT_WINDOW * 1000,
    },
    modelCacheTtlSeconds: e.MODEL_CACHE_TTL,
    maxClientsCache: e.MAX_CLIENTS_CACHE,
    keyRecheckMs: e.KEY_RECHECK_SECONDS * 1000,
    upstream: {
      maxConnections: e.HTTP_MAX_CONNECTIONS,
      headersTimeoutMs: e.UPSTREAM_HEADERS_TIMEOUT_MS,
      bodyTimeoutMs: e.UPSTREAM_BODY_TIMEOUT_MS,
      http2: e.UPSTREAM_HTTP2,
    },
    bodyLimit: e.BODY_LIMIT,
    requestBodyTimeoutMs: e.REQUEST_BODY_TIMEOUT_MS,
    clientStallTimeoutMs: e.CLIENT_STALL_TIMEOUT_MS,
    deviceStartLimit: e.DEVICE_START_LIMIT,
    trustProxy: e.TRUST_PROXY,
    corsOrigins: e.CORS_ORIGINS,
    shutdown: { delayMs: e.SHUTDOWN_DELAY_MS, drainMs: e.DRAIN_TIMEOUT_MS },
    logLevel: e.LOG_LEVEL,
    modelAliases: aliases,
    responsesStoreTtlMs: e.RESPONSES_STORE_TTL * 1000,
    usageRetentionDays: e.USAGE_RETENTION_DAYS,
    identity: { editorVersion: e.COPILOT_EDITOR_VERSION, pluginVersion: e.COPILOT_PLUGIN_VERSION, userAgent: e.COPILOT_USER_AGENT, apiVersion: e.COPILOT_API_VERSION },
  };
}

function redisConfig(e: z.infer<typeof envSchema>): RedisConfig | null {
  const keyPrefix = e.REDIS_KEY_PREFIX;
  if (e.REDIS_URL) {
    // REDIS_PASSWORD fills in a URL that carries none (the URL's own wins).
    const url = new URL(e.REDIS_URL);
    if (e.REDIS_PASSWORD && !url.password) url.password = encodeURIComponent(e.REDIS_PASSWORD);
    return { kind: 'single', url: e.REDIS_PASSWORD ? url.toString() : e.REDIS_URL, keyPrefix };
  }
  if (e.REDIS_SENTINELS)
    return { kind: 'sentinel', sentinels: e.REDIS_SENTINELS, masterName: e.REDIS_SENTINEL_MASTER!, password: e.REDIS_PASSWORD, sentinelPassword: e.REDIS_SENTINEL_PASSWORD, keyPrefix };
  if (e.REDIS_CLUSTER_NODES) return { kind: 'cluster', nodes: e.REDIS_CLUSTER_NODES, password: e.REDIS_PASSWORD, keyPrefix };
  return null;
}
