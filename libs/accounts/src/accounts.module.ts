import { Global, Logger, Module, type OnApplicationBootstrap, type OnModuleDestroy, Inject } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { APP_CONFIG, type AppConfig } from '#libs/config';
import { MetricsService } from '#libs/metrics';
import { REDIS, type RedisConnections } from '#libs/redis';
import { AccountsService } from './accounts.service.js';
import { CopilotTokenService } from './copilot-token.service.js';
import { SecretBox } from './crypto.js';
import { MemoryStore } from './memory.store.js';
import { migrateKeyLayout } from './layout-migration.js';
import { RedisStore } from './redis.store.js';
import { STATE_STORE, type StateStore } from './store.js';

/** Embedded mode may generate its key; with Redis the key must be given (config enforces it). */
export async function loadEncryptionKey(config: AppConfig): Promise<Buffer> {
  if (config.encryptionKey) return config.encryptionKey;
  const file = join(config.dataDir, 'encryption.key');
  try {
    return Buffer.from((await readFile(file, 'utf8')).trim(), 'base64');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  const key = randomBytes(32);
  await writeFile(file, key.toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
  new Logger('Accounts').log(`generated a token encryption key in ${file}`);
  return key;
}

@Global()
@Module({
  providers: [
    {
      provide: STATE_STORE,
      inject: [APP_CONFIG, REDIS],
      useFactory: async (config: AppConfig, redis: RedisConnections | null): Promise<StateStore> => {
        if (!redis) return MemoryStore.open(config.dataDir);
        const store = new RedisStore(redis);
        await migrateKeyLayout(redis, store);
        return store;
      },
    },
    {
      provide: SecretBox,
      inject: [APP_CONFIG],
      useFactory: async (config: AppConfig) => new SecretBox(await loadEncryptionKey(config)),
    },
    CopilotTokenService,
    AccountsService,
  ],
  exports: [STATE_STORE, SecretBox, AccountsService, CopilotTokenService],
})
export class AccountsModule implements OnApplicationBootstrap, OnModuleDestroy {
  constructor(
    private readonly accounts: AccountsService,
    @Inject(STATE_STORE) private readonly store: StateStore,
    metrics: MetricsService,
  ) {
    metrics.observeStore(() => store.ping());
  }

  async onApplicationBootstrap() {
    await this.accounts.registerBootstrapToken();
  }

  async onModuleDestroy() {
    await this.store.close();
  }
}
