import { createServer } from 'node:http';
import { Pool } from 'undici';

/**
 * The yardstick: the least a Copilot proxy can do. One undici Pool, one fixed Copilot token, the
 * body piped through both ways: no keys, no rate limit, no parsing, no metrics.
 *   UPSTREAM=http://127.0.0.1:PORT GITHUB_TOKEN=ghu_... PORT=... node dist/bench/bare-proxy.js
 * A path ending in /messages goes to Copilot's /v1/messages (with an anthropic-version), one
 * ending in /responses to Copilot's /responses, anything
 * else to /chat/completions: the bytes are never looked at.
 */
const upstream = process.env.UPSTREAM!;
const pool = new Pool(upstream, { connections: Number(process.env.CONNECTIONS ?? 256), pipelining: 1 });
const exchange = await pool.request({
  method: 'GET',
  path: '/copilot_internal/v2/token',
  headers: { authorization: `token ${process.env.GITHUB_TOKEN}` },
});
const { token } = (await exchange.body.json()) as { token: string };
const headers = {
  authorization: `Bearer ${token}`,
  'content-type': 'application/json',
  'copilot-integration-id': 'vscode-chat',
  'editor-version': 'vscode/1.99.3',
  'editor-plugin-version': 'copilot-chat/0.26.7',
  'user-agent': 'GitHubCopilotChat/0.26.7',
};
const messagesHeaders = { ...headers, 'anthropic-version': '2023-06-01' };

const server = createServer((req, res) => {
  const ac = new AbortController();
  res.on('close', () => !res.writableFinished && ac.abort());
  const messages = req.url!.endsWith('/messages');
  const responses = req.url!.endsWith('/responses');
  pool
    .request({
      method: 'POST',
      path: messages ? '/v1/messages' : responses ? '/responses' : '/chat/completions',
      headers: messages ? messagesHeaders : headers,
      body: req,
      signal: ac.signal,
    })
    .then(({ statusCode, headers: h, body }) => {
      res.writeHead(statusCode, { 'content-type': String(h['content-type'] ?? 'application/json') });
      body.pipe(res);
    })
    .catch(() => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
});
server.keepAliveTimeout = 60_000;
server.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1', backlog: 4096 }, () => {
  console.log(`http://127.0.0.1:${(server.address() as { port: number }).port}`);
});
// A clean exit, so that a `node --cpu-prof` run of this process writes its profile.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(0));
