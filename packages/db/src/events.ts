/**
 * Experiment events: workers publish (status changes, epoch metrics, logs), the API fans them out to SSE
 * clients. Each event is appended to a per-experiment Redis stream and announced on a pub/sub channel in one
 * script, so its id is the stream entry id: monotone per experiment, kept across API restarts, and the
 * announcements arrive in id order. A client that reconnects with the last id it saw gets the entries
 * after it from the stream (`history`) and then the live ones, without repeats or gaps. One subscriber
 * connection per process, pattern-subscribed. Postgres stays the record: the stream keeps the last
 * EVENT_LOG_MAX_ENTRIES entries for EVENT_LOG_TTL_MS after the last event; a client whose id fell out of it
 * re-reads the state from Postgres (a snapshot).
 */
import type { Redis } from 'ioredis';

export type ExperimentEvent =
  | { type: 'status'; status: string; error?: unknown }
  | { type: 'epoch'; member: number | 'ensemble'; epoch: number; record: unknown }
  | { type: 'log'; id: string; level: string; message: string; at: string }
  | { type: 'job'; jobId: string; kind: string; state: string }
  | { type: 'report' };

export const eventsChannel = (prefix: string, experimentId: string) => `${prefix}:events:${experimentId}`;
export const eventLogKey = (prefix: string, experimentId: string) => `${prefix}:event-log:${experimentId}`;
export const cancelChannel = (prefix: string) => `${prefix}:cancel`;

/** Entries kept per experiment (approximately: Redis trims whole nodes). */
export const EVENT_LOG_MAX_ENTRIES = 2000;
/** How long an experiment's stream outlives its last event. */
export const EVENT_LOG_TTL_MS = 24 * 3600 * 1000;

/** A Redis stream entry id, `<ms>-<seq>`. */
export const EVENT_ID = /^\d{1,20}-\d{1,20}$/;

/** Orders two stream ids (negative when a comes first). */
export function compareEventIds(a: string, b: string): number {
  const [am, as] = a.split('-').map(BigInt) as [bigint, bigint];
  const [bm, bs] = b.split('-').map(BigInt) as [bigint, bigint];
  return am !== bm ? (am < bm ? -1 : 1) : as === bs ? 0 : as < bs ? -1 : 1;
}

// Append and announce atomically: two publishers can never announce out of id order.
const PUBLISH_SCRIPT = `
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'e', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PUBLISH', ARGV[4], id .. ' ' .. ARGV[2])
return id`;

export class EventPublisher {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  /** Appends the event to the experiment's log and announces it; resolves with its id. */
  async publish(experimentId: string, event: ExperimentEvent): Promise<string> {
    return (await this.redis.eval(
      PUBLISH_SCRIPT,
      1,
      eventLogKey(this.prefix, experimentId),
      String(EVENT_LOG_MAX_ENTRIES),
      JSON.stringify(event),
      String(EVENT_LOG_TTL_MS),
      eventsChannel(this.prefix, experimentId),
    )) as string;
  }

  /** Tells every worker to abort the jobs of an experiment. */
  async publishCancel(experimentId: string): Promise<void> {
    await this.redis.publish(cancelChannel(this.prefix), experimentId);
  }
}

/** `id` is undefined only for an announcement without one (a publisher older than the event log). */
type Listener = (event: ExperimentEvent, id: string | undefined) => void;

function parseAnnouncement(message: string): { id?: string; event: ExperimentEvent } | undefined {
  const space = message.indexOf(' ');
  const id = space > 0 ? message.slice(0, space) : '';
  try {
    return EVENT_ID.test(id)
      ? { id, event: JSON.parse(message.slice(space + 1)) }
      : { event: JSON.parse(message) as ExperimentEvent };
  } catch {
    return undefined;
  }
}

/**
 * Fans one pattern subscription out to in-process listeners per experiment, and reads the event log.
 * `redis` must be dedicated to the subscription; the log is read on a duplicate made on first use.
 */
export class EventSubscriber {
  private readonly listeners = new Map<string, Set<Listener>>();
  private started?: Promise<unknown>;
  private reader?: Redis;

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
        const a = parseAnnouncement(message);
        if (!a) return;
        for (const l of set) l(a.event, a.id);
      });
      await this.redis.psubscribe(`${head}*`);
    })();
    return this.started;
  }

  /** Resolves once subscribed; the returned function unsubscribes. */
  async subscribe(experimentId: string, listener: Listener): Promise<() => void> {
    let set = this.listeners.get(experimentId);
    if (!set) {
      set = new Set();
      this.listeners.set(experimentId, set);
    }
    set.add(listener);
    await this.start();
    return () => {
      set!.delete(listener);
      if (set!.size === 0) this.listeners.delete(experimentId);
    };
  }

  private log(): Redis {
    if (!this.reader) {
      this.reader = this.redis.duplicate();
      // A lost connection also fails the command that needed it, which its caller reports (503 in the API);
      // without a listener ioredis would print every reconnection attempt as an unhandled error.
      this.reader.on('error', () => {});
    }
    return this.reader;
  }

  /** Id of the experiment's last event, or `0-0` when it has none (ids start after it). */
  async lastEventId(experimentId: string): Promise<string> {
    const last = await this.log().xrevrange(eventLogKey(this.prefix, experimentId), '+', '-', 'COUNT', 1);
    return last[0]?.[0] ?? '0-0';
  }

  /**
   * The events after `afterId`, oldest first; undefined when the log no longer holds all of them (trimmed
   * or expired), so the caller must start again from the state in Postgres.
   */
  async history(
    experimentId: string,
    afterId: string,
  ): Promise<Array<{ id: string; event: ExperimentEvent }> | undefined> {
    const key = eventLogKey(this.prefix, experimentId);
    const redis = this.log();
    const [info, entries] = await Promise.all([
      redis
        .call('XINFO', 'STREAM', key)
        .catch((e: Error) => (/no such key/i.test(e.message) ? null : Promise.reject(e))),
      redis.xrange(key, `(${afterId}`, '+'),
    ]);
    // No stream: never written or expired; only Postgres can say which, so the caller takes a snapshot.
    if (!info) return undefined;
    const f = info as unknown[];
    const field = (name: string) => {
      const i = f.indexOf(name);
      return i >= 0 ? f[i + 1] : undefined;
    };
    // Trimming drops the oldest entries, so the ones after afterId are all here unless something was dropped
    // and afterId is older than the first entry kept (Redis ≥ 7 counts entries added; before that, a stream
    // at its length cap is taken to have dropped some).
    const length = Number(field('length'));
    const added = field('entries-added');
    const someDropped = added !== undefined ? Number(added) > length : length >= EVENT_LOG_MAX_ENTRIES;
    const first = (field('first-entry') as [string, unknown] | null | undefined)?.[0];
    const dropped = someDropped && (first === undefined || compareEventIds(afterId, first) < 0);
    if (dropped) return undefined;
    const out: Array<{ id: string; event: ExperimentEvent }> = [];
    for (const [id, kv] of entries) {
      const at = kv.indexOf('e');
      try {
        out.push({ id, event: JSON.parse(kv[at + 1]!) });
      } catch {
        // an entry that is not an event: skip it rather than stop the stream
      }
    }
    return out;
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
    this.reader?.disconnect();
    this.redis.disconnect();
  }
}
