export { AccountsModule, loadEncryptionKey } from './accounts.module.js';
export { AccountsService, type Principal, type IssuedKey } from './accounts.service.js';
export { CopilotTokenService, type TokenOwner } from './copilot-token.service.js';
export { STATE_STORE, type StateStore, type AccountRecord, type KeyRecord, type StoreEvent, type AccountStatus } from './store.js';
export { SecretBox, sha256, generateApiKey, isGithubToken, isIssuedKeyFormat, API_KEY_PREFIX } from './crypto.js';
export { MemoryStore } from './memory.store.js';
export { RedisStore } from './redis.store.js';
export { Lru } from './lru.js';
export { StateFile } from './state-file.js';
