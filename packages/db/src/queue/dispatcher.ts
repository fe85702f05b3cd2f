/**
 * Enqueue after commit: job rows are written to Postgres (state `pending`) first, then handed to
 * BullMQ under the same id. A crash in between leaves `pending` rows that `repairPending` enqueues
 * later; BullMQ ignores an id it already holds, so repeating any step is harmless.
 */
import { type JobsOptions, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { JobsRepository } from '../repositories/jobs.repository.ts';
import { type JobKind, type JobRequest, kindOf, nameOf, QUEUE_NAMES, type QueueName, queueOf } from './catalog.ts';

export type Queues = Record<QueueName, Queue>;

/** One BullMQ queue per name, all under `prefix` (tests use their own prefix). */
export function createQueues(connection: Redis, prefix: string): Queues {
  const out = {} as Queues;
  for (const name of QUEUE_NAMES) {
    out[name] = new Queue(name, { connection, prefix });
    // Connection errors while Redis is away are retried by ioredis (and surface in the failing call); without a
    // listener the queue's 'error' event would end the process.
    out[name].on('error', () => {});
  }
  return out;
}

export async function closeQueues(queues: Queues): Promise<void> {
  await Promise.all(Object.values(queues).map((q) => q.close()));
}

/** Retries: compute jobs resume from checkpoints, so a few attempts with backoff are safe. */
export function jobOptions(kind: JobKind, id: string): JobsOptions {
  const queue = queueOf(kind);
  return {
    jobId: id,
    attempts: queue === 'orchestrate' ? 5 : 3,
    backoff: { type: 'exponential', delay: 1000 },
    // Completed ids stay a while so a repeated fan-out or barrier is recognised as done.
    removeOnComplete: { age: 7 * 24 * 3600, count: 50_000 },
    removeOnFail: { age: 14 * 24 * 3600 },
  };
}

interface Waiting {
  requests: JobRequest[];
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class JobDispatcher {
  /** Requests that arrived while a batch was being handed over; they form the next batch. */
  private waiting: Waiting[] = [];
  private draining = false;

  constructor(
    private readonly jobs: JobsRepository,
    readonly queues: Queues,
  ) {}

  /** Writes the rows (idempotent) and enqueues them. */
  async dispatch(requests: JobRequest[]): Promise<void> {
    await this.jobs.createPending(requests);
    await this.enqueue(requests);
  }

  /**
   * Hands already-written rows to BullMQ and marks them `queued`; resolves once both are done. Concurrent
   * calls are coalesced (group commit): while one batch is in flight, the requests that arrive meanwhile
   * wait and then go together, one `addBulk` per queue and one UPDATE for all of them. A failed batch
   * rejects every call in it; their rows stay `pending` for `repairPending`.
   */
  enqueue(requests: JobRequest[]): Promise<void> {
    if (!requests.length) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ requests, resolve, reject });
      if (!this.draining) {
        this.draining = true;
        // Let the calls made in this same tick join the first batch.
        queueMicrotask(() => void this.drain());
      }
    });
  }

  private async drain(): Promise<void> {
    while (this.waiting.length) {
      const batch = this.waiting;
      this.waiting = [];
      try {
        await this.enqueueNow(batch.flatMap((w) => w.requests));
        for (const w of batch) w.resolve();
      } catch (err) {
        for (const w of batch) w.reject(err);
      }
    }
    this.draining = false;
  }

  private async enqueueNow(requests: JobRequest[]): Promise<void> {
    const byQueue = new Map<QueueName, JobRequest[]>();
    for (const r of requests) {
      const q = queueOf(r.kind);
      const list = byQueue.get(q);
      if (list) list.push(r);
      else byQueue.set(q, [r]);
    }
    await Promise.all(
      [...byQueue].map(([q, list]) =>
        this.queues[q].addBulk(
          list.map((r) => ({ name: nameOf(r.kind), data: r.payload, opts: jobOptions(r.kind, r.id) })),
        ),
      ),
    );
    await this.jobs.markQueued(requests.map((r) => r.id));
  }

  /** Enqueues rows left `pending` for longer than `olderThanMs`; returns how many. */
  async repairPending(olderThanMs = 30_000): Promise<number> {
    const rows = await this.jobs.findStalePending(olderThanMs);
    if (!rows.length) return 0;
    await this.enqueue(
      rows.map((r) => ({
        id: r.id,
        kind: kindOf(r.queue, r.name),
        experimentId: r.experimentId,
        payload: r.payload as never,
      })),
    );
    return rows.length;
  }

  /** Removes the waiting/delayed BullMQ jobs of `ids` (cancel); active ones are aborted by their worker. */
  async removeWaiting(ids: Array<{ id: string; queue: string }>): Promise<void> {
    for (const { id, queue } of ids) {
      const q = this.queues[queue as QueueName];
      const job = q ? await q.getJob(id) : undefined;
      if (!job) continue;
      const state = await job.getState();
      if (state === 'waiting' || state === 'delayed' || state === 'prioritized' || state === 'waiting-children') {
        await job.remove().catch(() => {});
      }
    }
  }

  /** Waiting + active + delayed counts per queue (for /metrics and /readyz). */
  async depths(): Promise<Record<QueueName, Record<string, number>>> {
    const out = {} as Record<QueueName, Record<string, number>>;
    for (const name of QUEUE_NAMES) {
      out[name] = await this.queues[name].getJobCounts(
        'waiting',
        'active',
        'delayed',
        'failed',
        'completed',
        'prioritized',
      );
    }
    return out;
  }
}
