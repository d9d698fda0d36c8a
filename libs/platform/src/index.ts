export { createApp, type CreatedApp } from './platform.js';
export { launch } from './launch.js';
export { PlatformModule, type AppModules } from './platform.module.js';
export { keyRoute, KEY_ROUTE, dialectOf, ADMIN_ROUTE, AdminRoutes, adminTokenCheck } from './gate.js';
