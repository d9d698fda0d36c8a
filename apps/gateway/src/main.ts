import { launch } from '#libs/platform';
import { GatewayModule } from './gateway.module.js';

// `npm run start:gateway`: the stateless /v1/* proxy alone.
launch('gateway', () => [GatewayModule]);
