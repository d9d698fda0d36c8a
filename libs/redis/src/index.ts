export { RedisKeys, storeKeys } from './redis.keys.js';
export { RedisModule, RedisConnections, REDIS, InjectRedis, StartupError, StoreDownError, requestPathOptions, queueOptions } from './redis.module.js';
export { connectRedis, describeTarget, keepSubscribed, type RedisClient } from './connect.js';
