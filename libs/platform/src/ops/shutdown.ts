import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { ModulesContainer } from '@nestjs/core';
import type { Server } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { AppConfig } from '#libs/config';
import { Draining } from './health/draining.js';

/** After delay + drain, closing (BullMQ, Redis, upstream pools) gets this long before the watchdog exits. */
export const CLOSE_GRACE_MS = 5000;
/** One close hook may hold the next ones up this long; then they run and it is left to finish on its own. */
const STEP_MS = 2000;
const HOOKS = ['onModuleDestroy', 'beforeApplicationShutdown', 'onApplicationShutdown'] as const;

/** Ctrl-C is a person at a terminal, not a load balancer that needs time to notice. */
export const shutdownDelayMs = (config: AppConfig, signal: NodeJS.Signals) => (signal === 'SIGINT' ? 0 : config.shutdown.delayMs);

/** The latest a process may still be running after the signal, whatever Redis or the upstream do. */
export const shutdownBoundMs = (config: AppConfig, signal: NodeJS.Signals) => shutdownDelayMs(config, signal) + config.shutdown.drainMs + CLOSE_GRACE_MS;

/** What the shutdown is busy with, so a watchdog that has to exit can say which step hung. */
export class ShutdownSteps {
  private readonly running = new Set<string>();

  constructor(private readonly log: Logger) {}

  /** The steps not finished yet, outermost first; a step left behind at its deadline stays listed. */
  get pending(): string {
    return [...this.running].join(' > ') || 'nothing';
  }

  /** Runs `fn` as step `name`; past `deadlineMs` (if given) the caller goes on and the step is left to finish alone. */
  async run(name: string, fn: () => unknown, deadlineMs?: number): Promise<void> {
    this.running.add(name);
    const done = Promise.resolve()
      .then(fn)
      .finally(() => this.running.delete(name));
    if (deadlineMs === undefined) return void (await done);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(resolve, deadlineMs, 'late')));
    try {
      if ((await Promise.race([done, late])) === 'late') {
        done.catch(() => {});
        this.log.warn({ step: name, deadlineMs }, `shutdown: ${name} still running after ${deadlineMs} ms; going on without it`);
      }
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * Puts every lifecycle hook app.close() will call (ours, BullMQ's, Nest's) under `steps`, each with
 * STEP_MS: Nest awaits them one module after another, so one stuck hook would hold up all the rest.
 */
function boundCloseHooks(app: NestFastifyApplication, steps: ShutdownSteps) {
  const seen = new WeakSet<object>();
  for (const module of app.get(ModulesContainer).values()) {
    const wrappers = [...module.providers.values(), ...module.controllers.values(), ...module.injectables.values()];
    for (const wrapper of wrappers) {
      const instance = wrapper.instance as Record<string, unknown> | undefined;
      if (!instance || typeof instance !== 'object' || seen.has(instance)) continue;
      seen.add(instance);
      for (const hook of HOOKS) {
        const original = instance[hook];
        if (typeof original !== 'function') continue;
        const name = `${instance.constructor?.name ?? String(wrapper.name)}.${hook}`;
        try {
          instance[hook] = (...args: unknown[]) => steps.run(name, () => original.apply(instance, args), STEP_MS);
        } catch {
          // A frozen instance keeps its hook as it is; the watchdog still bounds it.
        }
      }
    }
  }
}

/**
 * SIGTERM, the Kubernetes way: readiness turns 503 at once (liveness stays 200) so the endpoint
 * is dropped; after SHUTDOWN_DELAY_MS no new connection is accepted; open requests and streams
 * get DRAIN_TIMEOUT_MS to finish; then the app closes (BullMQ worker, Redis, upstream pools), each
 * close step bounded. The caller's watchdog (shutdownBoundMs) covers whatever still hangs.
 */
export async function drainAndClose(app: NestFastifyApplication, config: AppConfig, log: Logger, signal: NodeJS.Signals, steps = new ShutdownSteps(log)): Promise<void> {
  app.get(Draining).active = true;
  const delayMs = shutdownDelayMs(config, signal);
  log.info({ delayMs, drainMs: config.shutdown.drainMs }, 'draining: readiness is 503');
  await steps.run('shutdown delay', () => sleep(delayMs));

  await steps.run('drain', async () => {
    const server = app.getHttpServer() as Server;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    // Idle keep-alive connections would hold close() open; busy ones finish their request first.
    server.closeIdleConnections();
    const idleSweep = setInterval(() => server.closeIdleConnections(), 250);
    const drained = await Promise.race([closed.then(() => true), sleep(config.shutdown.drainMs).then(() => false)]);
    clearInterval(idleSweep);
    if (!drained) {
      log.warn('drain timeout: closing the connections still open');
      server.closeAllConnections();
    }
  });

  boundCloseHooks(app, steps);
  await steps.run('app.close', () => app.close());
}
