import type { AppRole } from '#libs/config';
import { launch } from '#libs/platform';
import { APPS, ROLES } from './apps.js';

// `npm start`, and the image's entry: gateway + auth in one process, or the role its command names.
const role = (process.argv[2] ?? 'all') as AppRole;
if (!ROLES.includes(role)) {
  console.error(`usage: node dist/apps/all/src/main.js [${ROLES.join('|')}]`);
  process.exit(2);
}
launch(role, APPS[role]);
