import { Global, Module } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '#libs/config';
import { CopilotClient } from './copilot.client.js';

@Global()
@Module({
  providers: [{ provide: CopilotClient, inject: [APP_CONFIG], useFactory: (config: AppConfig) => new CopilotClient(config) }],
  exports: [CopilotClient],
})
export class CopilotModule {}
