import { Redis } from 'ioredis';
import type { RedisConfig } from '#libs/config';

type SentinelTarget = Extract<RedisConfig, { kind: 'sentinel' }>;

/**
 * Tells `onSwitch` the new primary (`host:port`) each time a sentinel announces +switch-master for
 * our master. One subscription per sentinel for the whole process: ioredis's own failoverDetector
 * opens them per connection, and in ioredis 6 the announcement ends a connection for good when it
 * arrives while that connection is between the sentinels and a primary (a reconnect in progress).
 * Returns what stops the watch.
 */
export function watchFailovers(target: SentinelTarget, onSwitch: (primary: string) => void): () => void {
  const subscriptions = target.sentinels.map(({ host, port }) => {
    const sub = new Redis({
      host,
      port,
      password: target.sentinelPassword,
      connectionName: 'cgw-failover-watch',
      connectTimeout: 2000,
      retryStrategy: () => 1000,
      maxRetriesPerRequest: null,
    });
    // A sentinel that is down is retried every second; the others still speak.
    sub.on('error', () => {});
    sub.on('message', (_channel: string, message: string) => {
      // <master name> <old ip> <old port> <new ip> <new port>
      const [name, , , ip, newPort] = message.split(' ');
      if (name === target.masterName) onSwitch(`${ip}:${newPort}`);
    });
    sub.subscribe('+switch-master').catch(() => {});
    return sub;
  });
  return () => subscriptions.forEach((sub) => sub.disconnect());
}
