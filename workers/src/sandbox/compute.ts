/**
 * Entry of a sandboxed compute process (forked by BullMQ for the train, attack and evaluate queues).
 * Reads its configuration once from the environment the worker passed down, builds its own
 * connections, and runs one job at a time with the same frame as the main process.
 */
import { sandboxConfig } from '../config.ts';
import { createContext, type WorkerContext } from '../context.ts';
import { trainHandlers } from '../processors/train.processor.ts';
import { type JobLike, runJob } from '../run-job.ts';

let ctx: WorkerContext | undefined;

export default async function compute(job: JobLike, _token?: string, signal?: AbortSignal): Promise<unknown> {
  ctx ??= createContext(sandboxConfig(process.env), (level, message, data) =>
    process.stderr.write(`${JSON.stringify({ level, pid: process.pid, message, ...data })}\n`),
  );
  return runJob(ctx, trainHandlers, job, signal);
}
