import { readFileSync } from 'node:fs';
import { FakeCopilot } from './fake-copilot.js';

/**
 * Runs the fake upstream on its own, for trying the gateway without GitHub:
 *   node dist/test/fake-copilot/main.js [port]
 * Any ghu_/gho_/ghp_ token is accepted; point GITHUB_API_URL at the printed URL.
 * FAKE_REQUIRE_EDITOR_VERSION=<v> answers 466 to other editor-versions; FAKE_LATE_USAGE=true sends
 * chat stream usage in a chunk of its own after the finish chunk. FAKE_ITEM_ID_MISMATCH=true|all gives
 * /responses stream items other ids in output_item.done; FAKE_WHITESPACE_ARGS=N streams N whitespace
 * argument deltas before each /responses function call's arguments. FAKE_TLS_KEY and FAKE_TLS_CERT
 * (PEM files) serve HTTPS, HTTP/2 and HTTP/1.1 by ALPN, advertising FAKE_MAX_CONCURRENT_STREAMS
 * streams per connection (default 100).
 */
const port = Number(process.argv[2] ?? process.env.FAKE_PORT ?? 0);
const fake = await new FakeCopilot({
  acceptAnyToken: true,
  streamEvents: Number(process.env.FAKE_STREAM_EVENTS ?? 5),
  streamIntervalMs: Number(process.env.FAKE_STREAM_INTERVAL_MS ?? 0),
  splitWrites: process.env.FAKE_SPLIT_WRITES !== 'false',
  ...(process.env.FAKE_REQUIRE_EDITOR_VERSION ? { requireEditorVersion: process.env.FAKE_REQUIRE_EDITOR_VERSION } : {}),
  ...(process.env.FAKE_LATE_USAGE === 'true' ? { lateUsage: true } : {}),
  ...(process.env.FAKE_ITEM_ID_MISMATCH ? { itemIdMismatch: process.env.FAKE_ITEM_ID_MISMATCH === 'all' ? ('all' as const) : process.env.FAKE_ITEM_ID_MISMATCH === 'true' } : {}),
  ...(process.env.FAKE_WHITESPACE_ARGS ? { whitespaceArgs: Number(process.env.FAKE_WHITESPACE_ARGS) } : {}),
  ...(process.env.FAKE_TLS_KEY && process.env.FAKE_TLS_CERT
    ? { tls: { key: readFileSync(process.env.FAKE_TLS_KEY), cert: readFileSync(process.env.FAKE_TLS_CERT) } }
    : {}),
  ...(process.env.FAKE_MAX_CONCURRENT_STREAMS ? { maxConcurrentStreams: Number(process.env.FAKE_MAX_CONCURRENT_STREAMS) } : {}),
}).start(port);
console.log(fake.url);
process.on('SIGTERM', () => fake.stop().then(() => process.exit(0)));
process.on('SIGINT', () => fake.stop().then(() => process.exit(0)));
