export class QueueFull extends Error {
  override name = 'QueueFull';
}

/** At most `limit` tasks at once; up to `maxQueued` more wait their turn in order, the rest get QueueFull. */
export class Semaphore {
  private running = 0;
  private readonly queue: (() => void)[] = [];

  constructor(
    private readonly limit: number,
    private readonly maxQueued: number,
  ) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.limit) {
      if (this.queue.length >= this.maxQueued) throw new QueueFull();
      await new Promise<void>((resolve) => this.queue.push(resolve));
    } else this.running++;
    try {
      return await task();
    } finally {
      const next = this.queue.shift();
      if (next) next();
      else this.running--;
    }
  }

  get active() {
    return this.running;
  }
  get waiting() {
    return this.queue.length;
  }
}
