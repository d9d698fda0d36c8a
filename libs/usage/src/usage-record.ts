/** What one proxied request cost, recorded once it is over (stream or not, any dialect). */
export interface UsageRecord {
  /** epoch ms when the request ended */
  at: number;
  keyId: string;
  accountId: string;
  /** the model's metric label: an id the account lists, or `other` */
  model: string;
  dialect: 'openai' | 'anthropic' | 'responses';
  /** the upstream endpoint: /chat/completions, /v1/messages, /responses, /embeddings */
  endpoint: string;
  /** the status the client got; 'stream_error' when a stream broke off after its first byte */
  status: number | string;
  inputTokens: number;
  outputTokens: number;
  cachedTokens: number;
  initiator: 'user' | 'agent';
  /** the model's billing.multiplier when the initiator is `user`, else 0 */
  premiumRequests: number;
  /** copilot_usage.total_nano_aiu, when Copilot sent it */
  creditsNanoAiu: number;
  durationMs: number;
}

/** Where the pipeline hands its records (libs/usage implements it; batched, never awaited on the hot path). */
export const USAGE_SINK = Symbol('USAGE_SINK');
export interface UsageSink {
  record(r: UsageRecord): void;
}
