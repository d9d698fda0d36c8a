export { resolveModelId, parseModelAliases } from './models.js';
export type {
  MessagesRequest,
  MessageParam,
  ContentBlock,
  Tool,
  ToolChoice,
  ThinkingConfig,
  MessagesResponse,
  ResponseBlock,
  StopReason,
  StreamEvent,
} from './anthropic-messages/types.js';
export { parseMessagesRequest } from './anthropic-messages/validate.js';
export { messagesToChat, hasImage, type ToChatOptions } from './anthropic-messages/to-chat.js';
export { chatToMessage } from './anthropic-messages/from-chat.js';
export { ChatToMessagesStream } from './anthropic-messages/stream.js';
export { anthropicErrorType, anthropicErrorBody } from './anthropic-messages/errors.js';
export { prepareNativeBody, filterBetas, NativeUsageReader, type NativeUsage } from './anthropic-messages/native.js';
export { messagesInitiator, isCompactionRequest } from './anthropic-messages/initiator.js';
export { countMessagesTokens, type CountTokensOptions } from './anthropic-messages/count-tokens.js';
export { errorBody, type Dialect } from './errors.js';
export { chatToResponsesRequest, effortForBudget, ENCRYPTED_REASONING_PREFIX } from './openai-chat/to-responses.js';
export { responseToChatCompletion } from './openai-chat/from-responses.js';
export { ResponsesToChatStream } from './openai-chat/responses-stream.js';
export type {
  ResponsesRequest,
  ResponseObject,
  ResponseUsage,
  InputItem as ResponsesInputItem,
  OutputItem as ResponsesOutputItem,
  Tool as ResponsesTool,
  StreamEvent as ResponsesStreamEvent,
} from './openai-responses/types.js';
export { parseResponsesRequest } from './openai-responses/validate.js';
export { responsesToChat, responsesHasImage, responsesInputItems, type ResponsesToChatOptions } from './openai-responses/to-chat.js';
export { chatToResponse, responseUsage, responseShell, type ResponseContext } from './openai-responses/from-chat.js';
export { ChatToResponsesStream } from './openai-responses/stream.js';
export { prepareNativeResponsesBody, fixNativeResponse, NativeResponsesStream } from './openai-responses/native.js';
export { responsesInitiator } from './openai-responses/initiator.js';
