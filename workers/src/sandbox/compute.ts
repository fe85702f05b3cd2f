/**
 * Entry of a sandboxed compute process (forked by BullMQ for the train, attack and evaluate queues).
 * Reads its configuration once from the environment the worker passed down, builds its own
 * connections, and runs one job at a time with the same frame as the main process.
 */
import { sandboxConfig } from '../config.ts';
import { createContext, type WorkerContext } from '../context.ts';
import { sandboxedHandlers as handlers } from '../handlers.ts';
import { type JobLike, runJob } from '../run-job.ts';
import { MEMORY_CAP_EXIT } from '../supervision.ts';

let ctx: WorkerContext | undefined;

// A worker that dies (kill -9, OOM) closes the IPC channel: exit too, so that a job BullMQ hands to another
// worker is never finished twice; its checkpoints stay for the retry.
process.on('disconnect', () => process.exit(1));

// The memory cap beside the heap limit the worker sets (--max-old-space-size): tensors, typed arrays and wasm
// memory live outside the JavaScript heap. Over the cap the process exits with a code the worker reports as
// "over its memory cap", before one job can take the host's memory.
const capMb = sandboxConfig(process.env).computeMemoryMb;
setInterval(() => {
  const rss = process.memoryUsage.rss();
  if (rss > capMb * 2 ** 20) {
    process.stderr.write(
      `${JSON.stringify({ level: 'error', pid: process.pid, message: `resident memory ${Math.round(rss / 2 ** 20)} MiB is over the cap of ${capMb} MiB` })}\n`,
    );
    process.exit(MEMORY_CAP_EXIT);
  }
}, 500).unref();

export default async function compute(job: JobLike, _token?: string, signal?: AbortSignal): Promise<unknown> {
  ctx ??= createContext(sandboxConfig(process.env), (level, message, data) =>
    process.stderr.write(`${JSON.stringify({ level, pid: process.pid, message, ...data })}\n`),
  );
  return runJob(ctx, handlers, job, signal);
}
