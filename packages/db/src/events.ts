/**
 * Experiment events over Redis pub/sub: workers publish (status changes, epoch metrics, logs),
 * the API fans them out to SSE clients. One subscriber connection per process, pattern-subscribed.
 * Events are hints for live views; Postgres stays the record (a client that misses one re-reads it).
 */
import type { Redis } from 'ioredis';

export type ExperimentEvent =
  | { type: 'status'; status: string; error?: unknown }
  | { type: 'epoch'; member: number | 'ensemble'; epoch: number; record: unknown }
  | { type: 'log'; id: string; level: string; message: string; at: string }
  | { type: 'job'; jobId: string; kind: string; state: string }
  | { type: 'report' };

export const eventsChannel = (prefix: string, experimentId: string) => `${prefix}:events:${experimentId}`;
export const cancelChannel = (prefix: string) => `${prefix}:cancel`;

export class EventPublisher {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  async publish(experimentId: string, event: ExperimentEvent): Promise<void> {
    await this.redis.publish(eventsChannel(this.prefix, experimentId), JSON.stringify(event));
  }

  /** Tells every worker to abort the jobs of an experiment. */
  async publishCancel(experimentId: string): Promise<void> {
    await this.redis.publish(cancelChannel(this.prefix), experimentId);
  }
}

type Listener = (event: ExperimentEvent) => void;

/** Fans one pattern subscription out to in-process listeners per experiment. `redis` must be dedicated to it. */
export class EventSubscriber {
  private readonly listeners = new Map<string, Set<Listener>>();
  private started?: Promise<unknown>;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private start(): Promise<unknown> {
    this.started ??= (async () => {
      const head = `${this.prefix}:events:`;
      this.redis.on('pmessage', (_pattern: string, channel: string, message: string) => {
        if (!channel.startsWith(head)) return;
        const set = this.listeners.get(channel.slice(head.length));
        if (!set) return;
        let event: ExperimentEvent;
        try {
          event = JSON.parse(message);
        } catch {
          return;
        }
        for (const l of set) l(event);
      });
      await this.redis.psubscribe(`${head}*`);
    })();
    return this.started;
  }

  /** Resolves once subscribed; the returned function unsubscribes. */
  async subscribe(experimentId: string, listener: Listener): Promise<() => void> {
    let set = this.listeners.get(experimentId);
    if (!set) this.listeners.set(experimentId, (set = new Set()));
    set.add(listener);
    await this.start();
    return () => {
      set!.delete(listener);
      if (set!.size === 0) this.listeners.delete(experimentId);
    };
  }

  /** Calls `onCancel(experimentId)` for every cancel broadcast. */
  async onCancel(onCancel: (experimentId: string) => void): Promise<void> {
    const channel = cancelChannel(this.prefix);
    this.redis.on('message', (ch: string, message: string) => {
      if (ch === channel) onCancel(message);
    });
    await this.redis.subscribe(channel);
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }
}
