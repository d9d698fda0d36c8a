import { ApiError } from '#libs/copilot';

type Json = Record<string, unknown>;

export interface ChatRequest {
  model: string;
  stream: boolean;
  includeUsage: boolean;
  n: number;
  initiator: 'user' | 'agent';
  vision: boolean;
}

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function requireObject(body: unknown): Json {
  if (!isObject(body)) throw ApiError.badRequest('The request body must be a JSON object', null, 'invalid_body');
  return body;
}

function requireModel(body: Json): string {
  if (body.model === undefined) throw ApiError.badRequest('You must provide a model parameter', 'model', 'missing_required_parameter');
  if (typeof body.model !== 'string' || body.model.trim() === '')
    throw ApiError.badRequest("'model' must be a non-empty string", 'model', 'invalid_type');
  return body.model;
}

const hasImage = (content: unknown) =>
  Array.isArray(content) && content.some((part) => isObject(part) && part.type === 'image_url');

/** Checks what the gateway itself relies on; everything else is Copilot's to judge. */
export function validateChat(input: unknown): ChatRequest {
  const body = requireObject(input);
  const model = requireModel(body);
  const messages = body.messages;
  if (messages === undefined) throw ApiError.badRequest("'messages' is a required property", 'messages', 'missing_required_parameter');
  if (!Array.isArray(messages)) throw ApiError.badRequest("'messages' must be an array", 'messages', 'invalid_type');
  if (messages.length === 0) throw ApiError.badRequest("'messages' must contain at least one message", 'messages', 'empty_array');
  let vision = false;
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i];
    if (!isObject(m) || typeof m.role !== 'string')
      throw ApiError.badRequest(`'messages[${i}]' must be an object with a string 'role'`, `messages[${i}]`, 'invalid_type');
    if (!vision && hasImage(m.content)) vision = true;
  }
  if (body.stream !== undefined && body.stream !== null && typeof body.stream !== 'boolean')
    throw ApiError.badRequest("'stream' must be a boolean", 'stream', 'invalid_type');
  const n = body.n ?? 1;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 128)
    throw ApiError.badRequest("'n' must be an integer from 1 to 128", 'n', 'invalid_value');
  const so = body.stream_options;
  if (so !== undefined && so !== null && !isObject(so))
    throw ApiError.badRequest("'stream_options' must be an object", 'stream_options', 'invalid_type');
  const last = messages[messages.length - 1] as Json;
  return {
    model,
    stream: body.stream === true,
    includeUsage: isObject(so) && so.include_usage === true,
    n,
    initiator: last.role === 'user' ? 'user' : 'agent',
    vision,
  };
}

export function validateEmbeddings(input: unknown): { model: string; encoding: 'float' | 'base64' } {
  const body = requireObject(input);
  const model = requireModel(body);
  const inp = body.input;
  if (inp === undefined) throw ApiError.badRequest("'input' is a required property", 'input', 'missing_required_parameter');
  const ok =
    typeof inp === 'string' ||
    (Array.isArray(inp) && inp.length > 0 && inp.every((x) => typeof x === 'string' || typeof x === 'number' || Array.isArray(x)));
  if (!ok) throw ApiError.badRequest("'input' must be a string or a non-empty array", 'input', 'invalid_type');
  const encoding = body.encoding_format ?? 'float';
  if (encoding !== 'float' && encoding !== 'base64')
    throw ApiError.badRequest("'encoding_format' must be 'float' or 'base64'", 'encoding_format', 'invalid_value');
  return { model, encoding };
}
