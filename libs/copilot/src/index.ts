export { CopilotModule } from './copilot.module.js';
export { ApiError, type ApiErrorType } from './api-error.js';
export { SseParser } from './sse-parser.js';
export { randomHex } from './random-id.js';
export { CallSignal, onAbort, sleepUnlessAborted, type AnySignal } from './call-signal.js';
export { StreamTranslator } from './stream-translator.js';
export { normalizeCompletion, normalizeEmbeddings, normalizeModels, StreamNormalizer, completionId, type OpenAIModel, type Usage } from './normalize.js';
export {
  CopilotClient,
  ExchangeError,
  editorHeaders,
  parseCopilotQuota,
  type CopilotQuota,
  type CopilotToken,
  type DeviceCode,
  type DevicePoll,
  type ExchangeFailure,
  type GithubUser,
  type UpstreamCall,
} from './copilot.client.js';
export { fromUpstreamStatus, upstreamFailure, isRetryableNetworkError, retryAfterSeconds } from './upstream-errors.js';
export { contentDelta } from './content-delta.js';
