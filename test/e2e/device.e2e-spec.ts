import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FakeCopilot } from '../fake-copilot/fake-copilot.js';
import { chatBody, startFake, startGateway, uniquePrefix, type TestGateway } from '../support/gateway.js';

/** Two replicas on one Redis: a flow started on one is polled on the other. */
let fake: FakeCopilot;
let a: TestGateway;
let b: TestGateway;

beforeAll(async () => {
  fake = await startFake({ deviceIntervalSeconds: 0 });
  const prefix = uniquePrefix();
  a = await startGateway(fake, { ALLOWED_GITHUB_LOGINS: 'octocat,NoCopilot,Again', DEVICE_START_LIMIT: '1000' }, { prefix, role: 'auth' });
  b = await startGateway(fake, { ALLOWED_GITHUB_LOGINS: 'octocat,NoCopilot,Again', DEVICE_START_LIMIT: '1000' }, { prefix });
});
afterAll(async () => {
  await Promise.all([a?.close(), b?.close()]);
  await fake?.stop();
});

const start = async (gw = a) => {
  const res = await gw.post('/auth/device/start', {});
  expect(res.status).toBe(200);
  return res.json();
};
const poll = (code: string, gw = b) => gw.get(`/auth/device/poll?device_code=${code}`);

describe('device flow', () => {
  it('starts, stays pending, and on approval issues a key once, polled on another replica', async () => {
    const s = await start();
    expect(Object.keys(s).sort()).toEqual(['device_code', 'expires_in', 'interval', 'user_code', 'verification_uri', 'verification_uri_complete']);
    expect(s.verification_uri_complete).toBe(`${s.verification_uri}?user_code=${s.user_code}`);
    expect(await (await poll(s.device_code)).json()).toEqual({ status: 'pending', interval: 0 });

    fake.addUser('ghu_deviceflowuser00000000000000000000', { login: 'octocat', id: 583231 });
    fake.approveDevice(s.user_code, 'ghu_deviceflowuser00000000000000000000');
    const done = await poll(s.device_code);
    expect(done.status).toBe(200);
    const body = await done.json();
    expect(body).toMatchObject({ status: 'success', username: 'octocat', account_id: 'acc_583231' });
    expect(body.api_key).toMatch(/^sk-cgw-[0-9A-Za-z]{40}$/);
    expect((await b.post('/v1/chat/completions', chatBody(), body.api_key)).status).toBe(200);

    const again = await poll(s.device_code);
    expect(again.status).toBe(404);
    expect((await again.json()).error.code).toBe('unknown_device_code');
  });

  it('honours slow_down: answers the new interval and does not ask GitHub again before it', async () => {
    const s = await start();
    fake.slowDown(s.user_code);
    expect(await (await poll(s.device_code)).json()).toEqual({ status: 'slow_down', interval: 5 });
    const polls = fake.counters.devicePolls;
    expect(await (await poll(s.device_code, a)).json()).toEqual({ status: 'pending', interval: 5 });
    expect(fake.counters.devicePolls).toBe(polls);
  });

  it('answers 403 when the person denies, 410 when the code expired, 404 for an unknown code, 400 without one', async () => {
    const denied = await start();
    fake.denyDevice(denied.user_code);
    const d = await poll(denied.device_code);
    expect(d.status).toBe(403);
    expect((await d.json()).error).toMatchObject({ type: 'permission_error', code: 'access_denied' });

    const expired = await start();
    fake.expireDevice(expired.user_code);
    const e = await poll(expired.device_code);
    expect(e.status).toBe(410);
    expect((await e.json()).error.code).toBe('expired_token');
    expect((await poll(expired.device_code)).status).toBe(410);

    const forgotten = await start();
    fake.devices.delete(forgotten.device_code); // GitHub answers incorrect_device_code
    const f = await poll(forgotten.device_code);
    expect(f.status).toBe(404);
    expect((await f.json()).error.message).toBe('GitHub does not know this device code (incorrect_device_code)');

    const unknown = await poll('0123456789abcdef0123');
    expect(unknown.status).toBe(404);
    const missing = await b.get('/auth/device/poll');
    expect(missing.status).toBe(400);
    expect((await missing.json()).error.param).toBe('device_code');
  });

  it('gives a clear 403 and no key to a user without Copilot', async () => {
    const s = await start();
    fake.addUser('ghu_nocopilotuser000000000000000000000', { login: 'NoCopilot', id: 99, copilot: 404 });
    fake.approveDevice(s.user_code, 'ghu_nocopilotuser000000000000000000000');
    const res = await poll(s.device_code);
    expect(res.status).toBe(403);
    expect((await res.json()).error).toMatchObject({ code: 'no_copilot_subscription' });
    expect((await a.accounts.listAccounts()).some((x) => x.login === 'NoCopilot')).toBe(false);
  });

  it('refuses a login outside ALLOWED_GITHUB_LOGINS', async () => {
    const s = await start();
    fake.addUser('ghu_strangeruser0000000000000000000000', { login: 'stranger', id: 7 });
    fake.approveDevice(s.user_code, 'ghu_strangeruser0000000000000000000000');
    const res = await poll(s.device_code);
    expect(res.status).toBe(403);
    expect(await res.json()).toEqual({
      error: { message: 'The GitHub account stranger is not allowed to use this gateway', type: 'permission_error', param: null, code: 'login_not_allowed' },
    });
  });

  it('updates the account of a login that authorizes again instead of adding one', async () => {
    const keys: string[] = [];
    for (const token of ['ghu_againuserfirst00000000000000000000', 'ghu_againusersecond0000000000000000000']) {
      fake.addUser(token, { login: 'Again', id: 3131 });
      const s = await start();
      fake.approveDevice(s.user_code, token);
      keys.push((await (await poll(s.device_code)).json()).api_key);
    }
    expect((await a.accounts.listAccounts()).filter((x) => x.login === 'Again')).toHaveLength(1);
    for (const k of keys) expect((await b.post('/v1/chat/completions', chatBody(), k)).status).toBe(200);
  });
});
