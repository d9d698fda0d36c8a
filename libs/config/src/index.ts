export { envSchema, loadConfig, ConfigError, type AppConfig, type AppRole, type RedisConfig, type RedisTarget, type HostPort } from './config.schema.js';
export { ConfigModule, APP_CONFIG, InjectConfig } from './config.module.js';
export { createLogger, PinoNestLogger } from './logger.js';
