/**
 * Where each BullMQ Worker of `arcal-worker` runs its jobs. Orchestrate jobs run in this process; a sandboxed
 * queue gets one Worker per device (`--devices`), whose forked compute processes see only that device through
 * `CUDA_VISIBLE_DEVICES`, so five members of an ensemble on five GPUs train at once instead of queueing on one.
 * Without devices a sandboxed queue gets one Worker whose processes inherit the environment, as before.
 */
import type { ForkOptions } from 'node:child_process';
import type { QueueName } from '@arcal/db';
import { SANDBOXED_QUEUES } from './handlers.ts';

export interface WorkerSlot {
  queue: QueueName;
  /** The device its compute processes see, when it has one. */
  device?: string;
  /** BullMQ `workerForkOptions` for its compute processes (their whole environment). */
  forkOptions?: ForkOptions;
}

export function workerSlots(
  config: { queues: QueueName[]; devices?: string[] },
  env: Record<string, string | undefined>,
): WorkerSlot[] {
  const out: WorkerSlot[] = [];
  for (const queue of config.queues) {
    if (!config.devices || !SANDBOXED_QUEUES.includes(queue)) {
      out.push({ queue });
      continue;
    }
    for (const device of config.devices) {
      const childEnv: Record<string, string | undefined> = { ...env, CUDA_VISIBLE_DEVICES: device };
      // TensorFlow reserves nearly all of a GPU's memory in its first process; the compute processes of the
      // other queues placed on the same device would then fail to allocate. Growth on demand lets them share.
      childEnv.TF_FORCE_GPU_ALLOW_GROWTH ??= 'true';
      out.push({ queue, device, forkOptions: { env: childEnv } });
    }
  }
  return out;
}
