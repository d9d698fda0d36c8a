import { EventEmitter } from 'node:events';

/**
 * The abort signal of an upstream call, in the form undici also takes (an EventEmitter with
 * `aborted` and `reason` that emits 'abort'). Per request the gateway needs two (the client hung
 * up; the headers deadline passed) and undici one that fires on either: as AbortControllers joined
 * by AbortSignal.any that was three EventTargets and a set of weak references per request, a few
 * percent of the gateway's CPU in the profile. These cost an EventEmitter each.
 */
export class CallSignal extends EventEmitter {
  aborted = false;
  reason: unknown = undefined;

  /** Fires once; the reason defaults to what AbortController.abort() gives. */
  abort(reason: unknown = new DOMException('This operation was aborted', 'AbortError')): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.emit('abort', reason);
  }
}

export type AnySignal = CallSignal | AbortSignal;

/** Calls `listener` once when `signal` aborts; returns what removes it. */
export function onAbort(signal: AnySignal, listener: () => void): () => void {
  if (signal instanceof CallSignal) {
    signal.once('abort', listener);
    return () => void signal.removeListener('abort', listener);
  }
  signal.addEventListener('abort', listener, { once: true });
  return () => signal.removeEventListener('abort', listener);
}

/** Waits `ms`, or less if `signal` aborts first (never rejects). */
export function sleepUnlessAborted(ms: number, signal?: AnySignal): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    let off = () => {};
    const done = () => {
      clearTimeout(timer);
      off();
      resolve();
    };
    const timer = setTimeout(done, ms);
    if (signal) off = onAbort(signal, done);
  });
}
