export { RedisKeys } from './redis.keys.js';
export { RedisModule, RedisConnections, REDIS, InjectRedis, requestPathOptions, queueOptions } from './redis.module.js';
