import type { ApiError } from '#libs/copilot';
import { anthropicErrorBody } from './anthropic-messages/errors.js';

export type Dialect = 'openai' | 'anthropic' | 'responses';

/** An error as the client's dialect writes it: OpenAI's `{error:{…}}` (also the Responses API's) or Anthropic's `{type:'error',…}`. */
export function errorBody(dialect: Dialect | undefined, err: ApiError): unknown {
  return dialect === 'anthropic' ? anthropicErrorBody(err.status, err.message) : err.toJSON();
}
