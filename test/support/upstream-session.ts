import { randomBytes } from 'node:crypto';
import { FakeCopilot, type FakeOptions } from '../fake-copilot/fake-copilot.js';

/** The editor identity Copilot insists on (copilot-upstream.md §3), as the specs of the fake send it. */
export const EDITOR = {
  'editor-version': 'vscode/1.99.3',
  'editor-plugin-version': 'copilot-chat/0.26.7',
  'copilot-integration-id': 'vscode-chat',
  'user-agent': 'GitHubCopilotChat/0.26.7',
};

export interface Upstream {
  fake: FakeCopilot;
  token: string;
  /** the API base the exchange named (endpoints.api) */
  apiBase: string;
  call(path: string, body?: unknown, headers?: Record<string, string>, init?: RequestInit): Promise<Response>;
}

/**
 * A fake with one user whose GitHub token has been exchanged for a Copilot token, as the gateway
 * does, for specs that speak to the fake directly (no gateway). Throws if the exchange fails.
 */
export async function upstreamSession(options: FakeOptions = {}, user = { login: 'fakespec', id: 4711 }): Promise<Upstream> {
  const fake = await new FakeCopilot(options).start();
  const githubToken = `ghu_${randomBytes(18).toString('hex')}`;
  fake.addUser(githubToken, user);
  const exchange = await fetch(`${fake.url}/copilot_internal/v2/token`, { headers: { authorization: `token ${githubToken}`, ...EDITOR } });
  if (exchange.status !== 200) throw new Error(`the fake's token exchange answered ${exchange.status}`);
  const { token, endpoints } = await exchange.json();
  return {
    fake,
    token,
    apiBase: endpoints.api,
    call: (path, body, headers = {}, init = {}) =>
      fetch(fake.url + path, {
        method: body === undefined ? 'GET' : 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...EDITOR, ...headers },
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
        ...init,
      }),
  };
}

export interface SseEvent {
  event: string | undefined;
  data: any;
}

/** SSE text into events (either line end), data parsed as JSON where it is ([DONE] stays a string). */
export function parseSse(text: string): SseEvent[] {
  return text
    .split(/\r?\n\r?\n/)
    .filter((b) => b.trim())
    .map((b) => {
      const lines = b.split(/\r?\n/);
      const event = lines.find((l) => l.startsWith('event: '))?.slice(7);
      const raw = lines
        .filter((l) => l.startsWith('data: '))
        .map((l) => l.slice(6))
        .join('\n');
      let data: any = raw;
      try {
        data = JSON.parse(raw);
      } catch {
        /* [DONE] */
      }
      return { event, data };
    });
}
