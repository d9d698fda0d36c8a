export { envSchema, loadConfig, ConfigError, type AppConfig, type AppRole } from './config.schema.js';
export { ConfigModule, APP_CONFIG, InjectConfig } from './config.module.js';
export { createLogger, PinoNestLogger } from './logger.js';
