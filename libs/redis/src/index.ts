export { RedisKeys } from './redis.keys.js';
export { RedisModule, RedisConnections, REDIS, InjectRedis, StartupError, redactUrl, requestPathOptions, queueOptions } from './redis.module.js';
