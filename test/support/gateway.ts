import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { AccountsService } from '#libs/accounts';
import { loadConfig, type AppConfig, type AppRole } from '#libs/config';
import { createApp } from '#libs/platform';
import { APPS } from '../../apps/all/src/apps.js';
import { FakeCopilot, type FakeOptions } from '../fake-copilot/fake-copilot.js';
import { redisEnv } from './redis-target.js';

export const TEST_ENCRYPTION_KEY = randomBytes(32).toString('hex');

export interface TestGateway {
  url: string;
  config: AppConfig;
  accounts: AccountsService;
  close(): Promise<void>;
  /** fetch relative to the gateway, with JSON helpers */
  post(path: string, body: unknown, key?: string, headers?: Record<string, string>): Promise<Response>;
  get(path: string, key?: string): Promise<Response>;
}

/** A unique REDIS_KEY_PREFIX, so suites sharing the run's Redis never see each other's keys. */
export const uniquePrefix = () => `t${randomBytes(4).toString('hex')}:`;

/**
 * Boots the real module graph on a real port against a fake upstream, on the suite's Redis
 * (redis-target.ts). `redis: false` runs it embedded (memory driver, DATA_DIR in a temp folder).
 */
export async function startGateway(
  upstream: FakeCopilot,
  env: Record<string, string> = {},
  opts: { redis?: boolean; prefix?: string; role?: AppRole } = {},
): Promise<TestGateway> {
  const redis = opts.redis ?? true;
  const config = loadConfig(
    {
      GITHUB_API_URL: upstream.url,
      GITHUB_BASE_URL: upstream.url,
      LOG_LEVEL: 'silent',
      DATA_DIR: mkdtempSync(join(tmpdir(), 'cgw-data-')),
      RATE_LIMIT_REQUESTS: '100000',
      ...(redis ? { ...redisEnv(), REDIS_KEY_PREFIX: opts.prefix ?? uniquePrefix(), TOKEN_ENCRYPTION_KEY: TEST_ENCRYPTION_KEY } : {}),
      ...env,
    },
    opts.role ?? 'all',
  );
  const { app } = await createApp(config, APPS[config.role](config), pino({ level: 'silent' }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  const url = await app.getUrl();
  const auth = (key?: string): Record<string, string> => (key ? { authorization: `Bearer ${key}` } : {});
  return {
    url: url.replace('[::1]', '127.0.0.1'),
    config,
    accounts: app.get(AccountsService),
    close: () => app.close(),
    post: (path, body, key, headers = {}) =>
      fetch(url + path, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...auth(key), ...headers },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      }),
    get: (path, key) => fetch(url + path, { headers: auth(key) }),
  };
}

export async function startFake(options: FakeOptions = {}): Promise<FakeCopilot> {
  return new FakeCopilot(options).start();
}

/** A registered account (through AccountsService, as the auth issue's routes will) and a key. */
export async function accountWithKey(gw: TestGateway, fake: FakeCopilot, login = 'octocat') {
  const id = 1000 + Math.floor(Math.random() * 1e6);
  const githubToken = `ghu_${randomBytes(18).toString('hex')}`;
  fake.addUser(githubToken, { login, id });
  const account = await gw.accounts.registerGithubToken(githubToken);
  const { key, record } = await gw.accounts.issueKey(account.id, { name: 'test' });
  return { account, key, record, githubToken };
}

/** Reads an SSE response into its data payloads. */
export async function readSse(res: Response): Promise<string[]> {
  const text = await res.text();
  return text
    .split('\n\n')
    .filter((b) => b.startsWith('data: '))
    .map((b) => b.slice(6));
}

export const chatBody = (extra: Record<string, unknown> = {}) => ({
  model: 'gpt-4o',
  messages: [{ role: 'user', content: 'Say hello' }],
  ...extra,
});
