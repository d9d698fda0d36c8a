import cluster from 'node:cluster';
import { ConfigError, createLogger, loadConfig, type AppRole } from '#libs/config';
import { StartupError } from '#libs/redis';
import { drainAndClose } from './ops/shutdown.js';
import { createApp } from './platform.js';

const ROLES: AppRole[] = ['all', 'gateway', 'auth'];

async function main() {
  const role = (process.argv[2] ?? 'all') as AppRole;
  if (!ROLES.includes(role)) {
    console.error(`usage: node dist/apps/main.js [${ROLES.join('|')}]`);
    process.exit(2);
  }
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
    cluster.on('exit', (worker, code, signal) => {
      log.warn({ pid: worker.process.pid, code, signal }, 'worker exited; starting another');
      if (!process.exitCode) cluster.fork();
    });
    return;
  }

  const { app } = await createApp(config, log);
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      log.info({ signal }, 'shutting down');
      drainAndClose(app, config, log, signal).then(
        () => process.exit(0),
        (err) => {
          log.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
    });
  }
  await app.listen({ port: config.port, host: config.host });
  const port = (app.getHttpServer().address() as { port: number }).port;
  log.info(
    { role, mode: config.mode, port },
    config.mode === 'redis'
      ? `copilot-gateway (${role}) listening on ${config.host}:${port}, Redis mode`
      : `copilot-gateway (${role}) listening on ${config.host}:${port}, embedded mode (no REDIS_URL): state in ${config.dataDir}`,
  );
}

main().catch((err) => {
  console.error(err instanceof StartupError ? `copilot-gateway cannot start: ${err.message}` : err instanceof Error ? (err.stack ?? err.message) : err);
  process.exit(1);
});
