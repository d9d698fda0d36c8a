/** A JSON string without raw control characters: escapes are checked by JSON.parse when present. */
const STRING = String.raw`"(?:[^"\\\u0000-\u001f]|\\.)*"`;
/** A plain string, number, boolean or null (no escapes, no containers). */
const SCALAR = String.raw`(?:"[^"\\\u0000-\u001f]*"|-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|true|false|null)`;
/** An object of scalars, or of objects of scalars: Copilot's content-filter annotations. */
const object = (value: string) => String.raw`\{(?:"[a-z_]+":${value}(?:,"[a-z_]+":${value})*)?\}`;
const FILTER = object(`(?:${SCALAR}|${object(SCALAR)})`);

/**
 * The one shape this reads: a single choice 0 whose delta is `{"content": …}` (the first one also
 * `"role":"assistant"`, which says nothing the translators do not know) and nothing else,
 * beside Copilot's content-filter annotations and a null finish_reason or logprobs, and around it
 * only the chunk's id, created, model, object and system_fingerprint.
 */
const CONTENT_ONLY = new RegExp(
  String.raw`^\{"choices":\[\{"index":0,"delta":\{(?:"role":"assistant",)?"content":(${STRING})\}(?:,"content_filter_(?:offsets|results)":${FILTER}|,"(?:finish_reason|logprobs)":null)*\}\]` +
    String.raw`(?:,"(?:created|id|model|object|system_fingerprint)":${SCALAR})*\}$`,
);

/**
 * The text of a chat stream chunk that carries nothing but a content delta for choice 0 (most of a
 * Copilot stream), read without JSON.parse: on a translated stream, parsing every chunk whole —
 * content-filter annotations and all, which no translator reads — was the translators' largest
 * cost (about 4 µs a chunk). Null for every other chunk, and for anything the pattern does not
 * know (another field order, a finish_reason, usage, tool calls, a bad escape): parse that one.
 * The pattern has no nested quantifiers over the same characters, so it runs in linear time.
 */
export function contentDelta(data: string): string | null {
  const m = CONTENT_ONLY.exec(data);
  if (!m) return null;
  const literal = m[1];
  if (literal.indexOf('\\') === -1) return literal.slice(1, -1);
  try {
    return JSON.parse(literal) as string;
  } catch {
    return null;
  }
}
