import cluster from 'node:cluster';
import { ConfigError, createLogger, loadConfig, type AppRole } from '#libs/config';
import { StartupError } from '#libs/redis';
import { drainAndClose, shutdownBoundMs, ShutdownSteps } from './ops/shutdown.js';
import type { AppConfig } from '#libs/config';
import type { AppModules } from './platform.module.js';
import { createApp } from './platform.js';

/**
 * Runs an app as a process: validated config, WORKERS processes sharing the port, SIGTERM/SIGINT
 * drained the Kubernetes way with a watchdog. Each app's main.ts is one call of this.
 */
export function launch(role: AppRole, apps: (config: AppConfig) => AppModules): void {
  main(role, apps).catch((err) => {
    console.error(err instanceof StartupError ? `copilot-gateway cannot start: ${err.message}` : err instanceof Error ? (err.stack ?? err.message) : err);
    process.exit(1);
  });
}

async function main(role: AppRole, apps: (config: AppConfig) => AppModules) {
  let config;
  try {
    config = loadConfig(process.env, role);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(err.message);
    process.exit(1);
  }
  const log = createLogger(config);

  if (config.workers > 1 && cluster.isPrimary) {
    log.info({ workers: config.workers }, `starting ${config.workers} workers`);
    for (let i = 0; i < config.workers; i++) cluster.fork();
    let stopping: NodeJS.Signals | null = null;
    let failed = false;
    cluster.on('exit', (worker, code, signal) => {
      if (stopping) {
        failed ||= code !== 0;
        if (!Object.values(cluster.workers ?? {}).some((w) => w && !w.isDead())) process.exit(failed ? 1 : 0);
        return;
      }
      log.warn({ pid: worker.process.pid, code, signal }, 'worker exited; starting another');
      cluster.fork();
    });
    // The workers drain; the primary passes the signal on and waits, since its exit would end them at once.
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) return void log.info({ signal }, `already shutting down (${stopping})`);
      stopping = signal;
      log.info({ signal }, 'shutting down: passing the signal to the workers');
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill(signal);
      // Each worker keeps its own bound; this one only catches a worker that could not.
      const boundMs = shutdownBoundMs(config, signal) + 1000;
      setTimeout(() => {
        const left = Object.values(cluster.workers ?? {}).filter((w) => w && !w.isDead());
        log.error({ signal, boundMs, pids: left.map((w) => w!.process.pid) }, `shutdown watchdog: ${left.length} worker(s) still running ${boundMs} ms after ${signal}; killing them`);
        for (const w of left) w!.process.kill('SIGKILL');
        process.exit(1);
      }, boundMs).unref();
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    return;
  }

  let app: Awaited<ReturnType<typeof createApp>>['app'] | undefined;
  let stopping: NodeJS.Signals | null = null;
  const onSignal = (signal: NodeJS.Signals) => {
    // One drain only: a second signal (an impatient operator, a repeated kill) changes nothing.
    if (stopping) return void log.info({ signal }, `already shutting down (${stopping})`);
    stopping = signal;
    log.info({ signal }, 'shutting down');
    // Still starting: no request has been served, so there is nothing to drain.
    if (!app) process.exit(0);
    const steps = new ShutdownSteps(log);
    // Whatever Redis or the upstream do, the process is gone by delay + drain + 5 s.
    const boundMs = shutdownBoundMs(config, signal);
    setTimeout(() => {
      log.error({ signal, boundMs, step: steps.pending }, `shutdown watchdog: still in ${steps.pending} ${boundMs} ms after ${signal}; exiting`);
      process.exit(1);
    }, boundMs).unref();
    drainAndClose(app, config, log, signal, steps).then(
      () => process.exit(0),
      (err) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  ({ app } = await createApp(config, apps(config), log));
  await app.listen({ port: config.port, host: config.host });
  const port = (app.getHttpServer().address() as { port: number }).port;
  log.info(
    { role, mode: config.mode, port },
    config.mode === 'redis'
      ? `copilot-gateway (${role}) listening on ${config.host}:${port}, Redis mode`
      : `copilot-gateway (${role}) listening on ${config.host}:${port}, embedded mode (no REDIS_URL): state in ${config.dataDir}`,
  );
}
