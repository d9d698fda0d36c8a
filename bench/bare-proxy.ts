import { createServer, type IncomingMessage } from 'node:http';
import { Pool } from 'undici';

/**
 * The yardstick: the least a Copilot proxy can do. One undici Pool, one fixed Copilot token, the
 * body piped through both ways: no keys, no rate limit, no parsing, no metrics.
 *   UPSTREAM=http://127.0.0.1:PORT GITHUB_TOKEN=ghu_... PORT=... node dist/bench/bare-proxy.js
 * A path ending in /messages goes to Copilot's /v1/messages (with an anthropic-version), one
 * ending in /responses to Copilot's /responses, anything
 * else to /chat/completions: the bytes are never looked at.
 *
 * H2=true (an https UPSTREAM, trusted through NODE_EXTRA_CA_CERTS): undici's own HTTP/2, as a bare
 * proxy would use it: the same Pool with allowH2, up to STREAMS_PER_CONNECTION (1000) streams a
 * connection, calls marked idempotent and bodies read first (else undici sends a POST, or a
 * streamed body, only on an otherwise idle connection).
 */
const upstream = process.env.UPSTREAM!;
const h2 = process.env.H2 === 'true';
const pool = new Pool(upstream, {
  connections: Number(process.env.CONNECTIONS ?? 256),
  ...(h2 ? { allowH2: true, pipelining: Number(process.env.STREAMS_PER_CONNECTION ?? 1000) } : { pipelining: 1 }),
});
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

async function bodyOf(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

const server = createServer((req, res) => {
  const ac = new AbortController();
  res.on('close', () => !res.writableFinished && ac.abort());
  const messages = req.url!.endsWith('/messages');
  const responses = req.url!.endsWith('/responses');
  const send = (body: Buffer | IncomingMessage) =>
    pool
      .request({
        method: 'POST',
        path: messages ? '/v1/messages' : responses ? '/responses' : '/chat/completions',
        headers: messages ? messagesHeaders : headers,
        body,
        signal: ac.signal,
        idempotent: h2,
      })
      .then(({ statusCode, headers: h, body }) => {
        res.writeHead(statusCode, { 'content-type': String(h['content-type'] ?? 'application/json') });
        body.pipe(res);
      })
      .catch(() => {
        if (!res.headersSent) res.writeHead(502);
        res.end();
      });
  if (h2) bodyOf(req).then(send, () => res.destroy());
  else send(req);
});
server.keepAliveTimeout = 60_000;
server.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1', backlog: 4096 }, () => {
  console.log(`http://127.0.0.1:${(server.address() as { port: number }).port}`);
});
// A clean exit, so that a `node --cpu-prof` run of this process writes its profile.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(0));
