import { FakeCopilot } from './fake-copilot.js';

/**
 * Runs the fake upstream on its own, for trying the gateway without GitHub:
 *   node dist/test/fake-copilot/main.js [port]
 * Any ghu_/gho_/ghp_ token is accepted; point GITHUB_API_URL at the printed URL.
 */
const port = Number(process.argv[2] ?? process.env.FAKE_PORT ?? 0);
const fake = await new FakeCopilot({
  acceptAnyToken: true,
  streamEvents: Number(process.env.FAKE_STREAM_EVENTS ?? 5),
  streamIntervalMs: Number(process.env.FAKE_STREAM_INTERVAL_MS ?? 0),
  splitWrites: process.env.FAKE_SPLIT_WRITES !== 'false',
}).start(port);
console.log(fake.url);
process.on('SIGTERM', () => fake.stop().then(() => process.exit(0)));
process.on('SIGINT', () => fake.stop().then(() => process.exit(0)));
