import { FakeCopilot } from './fake-copilot.js';

/**
 * Runs the fake upstream on its own, for trying the gateway without GitHub:
 *   node dist/test/fake-copilot/main.js [port]
 * Any ghu_/gho_/ghp_ token is accepted; point GITHUB_API_URL at the printed URL.
 * FAKE_REQUIRE_EDITOR_VERSION=<v> answers 466 to other editor-versions; FAKE_LATE_USAGE=true sends
 * chat stream usage in a chunk of its own after the finish chunk. FAKE_ITEM_ID_MISMATCH=true|all gives
 * /responses stream items other ids in output_item.done; FAKE_WHITESPACE_ARGS=N streams N whitespace
 * argument deltas before each /responses function call's arguments.
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
}).start(port);
console.log(fake.url);
process.on('SIGTERM', () => fake.stop().then(() => process.exit(0)));
process.on('SIGINT', () => fake.stop().then(() => process.exit(0)));
