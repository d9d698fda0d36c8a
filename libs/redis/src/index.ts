export { RedisKeys } from './redis.keys.js';
export { RedisModule, RedisConnections, REDIS, InjectRedis, StartupError, StoreDownError, redactUrl, requestPathOptions, queueOptions } from './redis.module.js';
