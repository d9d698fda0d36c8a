/* OpenAI Responses API shapes (platform.openai.com "Responses", "Streaming responses"), as far as
   the gateway reads or writes them. Requests keep every other field a client sends. */

export interface InputText {
  type: 'input_text';
  text: string;
}

export interface InputImage {
  type: 'input_image';
  image_url?: string | null;
  file_id?: string | null;
  detail?: 'low' | 'high' | 'auto' | 'original';
}

export interface InputFile {
  type: 'input_file';
  file_id?: string | null;
  file_data?: string;
  file_url?: string;
  filename?: string;
}

export interface OutputText {
  type: 'output_text';
  text: string;
  annotations?: unknown[];
  logprobs?: unknown[];
}

/** output_text as the gateway writes it: annotations always there, and none (chat has no citations) */
export interface OutputTextPart extends OutputText {
  annotations: never[];
  logprobs?: never[];
}

export interface Refusal {
  type: 'refusal';
  refusal: string;
}

export type ContentPart = InputText | InputImage | InputFile | OutputText | Refusal;

export type Role = 'user' | 'assistant' | 'system' | 'developer';

/** A message item; `type` may be left out (the SDKs' "easy input message"). */
export interface MessageItem {
  type?: 'message';
  id?: string;
  role: Role;
  content: string | ContentPart[];
  status?: ItemStatus;
  phase?: 'commentary' | 'final_answer' | null;
}

export type ItemStatus = 'in_progress' | 'completed' | 'incomplete';

export interface FunctionCallItem {
  type: 'function_call';
  id?: string;
  call_id: string;
  name: string;
  /** set when the function belongs to a `namespace` tool */
  namespace?: string;
  arguments: string;
  status?: ItemStatus;
}

export interface FunctionCallOutputItem {
  type: 'function_call_output';
  id?: string;
  call_id: string;
  output: string | Array<InputText | InputImage | InputFile>;
  status?: ItemStatus;
}

export interface CustomToolCallItem {
  type: 'custom_tool_call';
  id?: string;
  call_id: string;
  name: string;
  namespace?: string;
  input: string;
}

export interface CustomToolCallOutputItem {
  type: 'custom_tool_call_output';
  id?: string;
  call_id: string;
  output: string | Array<InputText | InputImage | InputFile>;
}

export interface SummaryText {
  type: 'summary_text';
  text: string;
}

export interface ReasoningItem {
  type: 'reasoning';
  id: string;
  summary: SummaryText[];
  content?: Array<{ type: 'reasoning_text'; text: string }>;
  /** opaque to everyone but the model; sent back unchanged (copilot-upstream.md §3) */
  encrypted_content?: string | null;
  status?: ItemStatus;
}

/** Items this gateway does not model (web_search_call, local_shell_call, item_reference, …) pass as they are. */
export interface OtherItem {
  type: string;
  [k: string]: unknown;
}

export type InputItem =
  | MessageItem
  | FunctionCallItem
  | FunctionCallOutputItem
  | CustomToolCallItem
  | CustomToolCallOutputItem
  | ReasoningItem
  | OtherItem;

export interface FunctionTool {
  type: 'function';
  name: string;
  description?: string | null;
  parameters?: Record<string, unknown> | null;
  strict?: boolean | null;
  defer_loading?: boolean;
}

/** Codex's named group of functions; the model calls them as `name` with `namespace` set. */
export interface NamespaceTool {
  type: 'namespace';
  name: string;
  description?: string;
  tools: Array<FunctionTool | { type: string; name: string; [k: string]: unknown }>;
}

/** Hosted and freeform tools: web_search, local_shell, custom, file_search, mcp, … */
export interface OtherTool {
  type: string;
  [k: string]: unknown;
}

export type Tool = FunctionTool | NamespaceTool | OtherTool;

export type ToolChoice =
  | 'auto'
  | 'none'
  | 'required'
  | { type: 'function'; name: string }
  | { type: 'allowed_tools'; mode: 'auto' | 'required'; tools: Array<Record<string, unknown>> }
  | { type: string; [k: string]: unknown };

export type TextFormat =
  | { type: 'text' }
  | { type: 'json_object' }
  | { type: 'json_schema'; name: string; schema: Record<string, unknown>; description?: string; strict?: boolean | null };

export interface TextConfig {
  format?: TextFormat;
  verbosity?: 'low' | 'medium' | 'high' | null;
}

export interface ReasoningConfig {
  effort?: 'none' | 'minimal' | 'low' | 'medium' | 'high' | 'xhigh' | null;
  summary?: 'auto' | 'concise' | 'detailed' | null;
}

export interface ResponsesRequest {
  model: string;
  input?: string | InputItem[];
  instructions?: string | null;
  tools?: Tool[];
  tool_choice?: ToolChoice;
  parallel_tool_calls?: boolean | null;
  max_output_tokens?: number | null;
  temperature?: number | null;
  top_p?: number | null;
  text?: TextConfig;
  reasoning?: ReasoningConfig | null;
  include?: string[] | null;
  store?: boolean | null;
  stream?: boolean | null;
  previous_response_id?: string | null;
  prompt_cache_key?: string | null;
  client_metadata?: Record<string, unknown>;
  metadata?: Record<string, string> | null;
  service_tier?: string | null;
  user?: string;
  [k: string]: unknown;
}

export interface OutputMessage {
  type: 'message';
  id: string;
  status: ItemStatus;
  role: 'assistant';
  content: Array<OutputTextPart | Refusal>;
}

export interface OutputFunctionCall {
  type: 'function_call';
  id: string;
  status: ItemStatus;
  call_id: string;
  name: string;
  namespace?: string;
  arguments: string;
}

export interface OutputReasoning {
  type: 'reasoning';
  id: string;
  summary: SummaryText[];
  encrypted_content?: string | null;
}

export type OutputItem = OutputMessage | OutputFunctionCall | OutputReasoning;

export interface ResponseUsage {
  input_tokens: number;
  input_tokens_details: { cached_tokens: number; cache_write_tokens: number };
  output_tokens: number;
  output_tokens_details: { reasoning_tokens: number };
  total_tokens: number;
}

export type ResponseStatus = 'completed' | 'incomplete' | 'failed' | 'in_progress';

export interface ResponseObject {
  id: string;
  object: 'response';
  created_at: number;
  status: ResponseStatus;
  model: string;
  output: OutputItem[];
  usage: ResponseUsage | null;
  error: { code: string; message: string } | null;
  incomplete_details: { reason: 'max_output_tokens' | 'content_filter' } | null;
  instructions: string | null;
  tools: Tool[];
  tool_choice: ToolChoice;
  parallel_tool_calls: boolean;
  temperature: number | null;
  top_p: number | null;
  max_output_tokens: number | null;
  previous_response_id: string | null;
  reasoning: ReasoningConfig | null;
  text: TextConfig;
  store: boolean;
  metadata: Record<string, string>;
}

type ItemEvent = { output_index: number; item_id: string; sequence_number: number };
type ContentEvent = ItemEvent & { content_index: number };
type SummaryEvent = ItemEvent & { summary_index: number };

export type StreamEvent =
  | { type: 'response.created' | 'response.in_progress' | 'response.completed' | 'response.incomplete' | 'response.failed'; response: ResponseObject; sequence_number: number }
  | { type: 'response.output_item.added' | 'response.output_item.done'; output_index: number; item: OutputItem; sequence_number: number }
  | (ContentEvent & { type: 'response.content_part.added' | 'response.content_part.done'; part: OutputTextPart })
  | (ContentEvent & { type: 'response.output_text.delta'; delta: string; logprobs: unknown[] })
  | (ContentEvent & { type: 'response.output_text.done'; text: string; logprobs: unknown[] })
  | (ItemEvent & { type: 'response.function_call_arguments.delta'; delta: string })
  | (ItemEvent & { type: 'response.function_call_arguments.done'; arguments: string; name: string })
  | (SummaryEvent & { type: 'response.reasoning_summary_part.added' | 'response.reasoning_summary_part.done'; part: SummaryText })
  | (SummaryEvent & { type: 'response.reasoning_summary_text.delta'; delta: string })
  | (SummaryEvent & { type: 'response.reasoning_summary_text.done'; text: string });
