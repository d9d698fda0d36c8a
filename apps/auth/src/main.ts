import { launch } from '#libs/platform';
import { AuthModule } from './auth.module.js';

// `npm run start:auth`: device flow, admin API and console, token-refresh worker.
launch('auth', (config) => [AuthModule.forRoot(config)]);
