import { StreamNormalizer, type Usage } from './normalize.js';
import { SseParser } from './sse-parser.js';

/**
 * Copilot's event stream in, OpenAI's out, as text ready to write: bytes split anywhere go in,
 * whole `data: …\n\n` events come out, ending with the usage chunk (when asked) and [DONE].
 */
export class StreamTranslator {
  private readonly parser = new SseParser();
  private readonly normalizer: StreamNormalizer;
  model: string;

  constructor(requestedModel: string, includeUsage: boolean, n = 1) {
    this.model = requestedModel;
    this.normalizer = new StreamNormalizer(requestedModel, includeUsage, n);
  }

  /** The text to send for one read from upstream; '' when it completed nothing worth sending. */
  push(bytes: Uint8Array): string {
    return this.translate(this.parser.push(bytes));
  }

  /** The rest, when upstream has finished. */
  end(): string {
    const usage = this.normalizer.trailingUsage();
    return `${this.translate(this.parser.end())}${usage ? `data: ${JSON.stringify(usage)}\n\n` : ''}data: [DONE]\n\n`;
  }

  get usage(): Usage | null {
    return this.normalizer.usage;
  }

  private translate(events: string[]): string {
    let text = '';
    for (const data of events) {
      if (data === '[DONE]') continue;
      let event: Record<string, unknown>;
      try {
        event = JSON.parse(data);
      } catch {
        continue; // a malformed event is dropped; the ones around it still go out
      }
      if (typeof event !== 'object' || event === null) continue;
      for (const chunk of this.normalizer.push(event)) {
        this.model = chunk.model;
        text += `data: ${JSON.stringify(chunk)}\n\n`;
      }
    }
    return text;
  }
}
