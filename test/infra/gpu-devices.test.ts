/**
 * `arcal-worker --devices`: one set of sandboxed compute processes per device, each forked with
 * CUDA_VISIBLE_DEVICES set to its own device. No GPU is needed: the device list is fake, and a stand-in
 * processor reports the environment each real BullMQ child process received.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { loadWorkerConfig, parseDevices } from '../../workers/src/config.ts';
import { workerSlots } from '../../workers/src/devices.ts';
import { testRedis } from './redis-env.ts';

const probeFile = fileURLToPath(new URL('./fixtures/device-probe.mjs', import.meta.url));

describe('--devices / ARCAL_DEVICES', () => {
  it('parses ordinals and UUIDs, the flag over the variable, and no list as CPU', () => {
    expect(loadWorkerConfig(['--devices', '0,1,2,3,4'], {}).devices).toEqual(['0', '1', '2', '3', '4']);
    expect(loadWorkerConfig([], { ARCAL_DEVICES: '2, 3' }).devices).toEqual(['2', '3']);
    expect(loadWorkerConfig(['--devices=1'], { ARCAL_DEVICES: '2,3' }).devices).toEqual(['1']);
    expect(loadWorkerConfig([], {}).devices).toBeUndefined();
    expect(loadWorkerConfig([], { ARCAL_DEVICES: '' }).devices).toBeUndefined();
    expect(parseDevices('GPU-8e6b2a1c-0f4d-4c55-9d1e-1234567890ab,MIG-GPU-8e6b2a1c/1/0', 'x')).toHaveLength(2);
  });

  it('rejects what CUDA would silently ignore: junk, duplicates, a missing list', () => {
    expect(() => loadWorkerConfig(['--devices', '0,gpu1'], {})).toThrow(/not a device id: gpu1/);
    expect(() => loadWorkerConfig(['--devices', '1,1'], {})).toThrow(/device 1 listed twice/);
    expect(() => loadWorkerConfig(['--devices'], {})).toThrow(/--devices needs a list/);
    expect(() => loadWorkerConfig([], { ARCAL_DEVICES: '-1' })).toThrow(/ARCAL_DEVICES: not a device id/);
  });

  it('gives each sandboxed queue one slot per device and leaves orchestrate and the CPU default alone', () => {
    const env = { PATH: '/bin', CUDA_VISIBLE_DEVICES: '7' };
    const slots = workerSlots(loadWorkerConfig(['--queues', 'train,orchestrate', '--devices', '0,1,2,3,4'], {}), env);
    const train = slots.filter((s) => s.queue === 'train');
    expect(train.map((s) => s.device)).toEqual(['0', '1', '2', '3', '4']);
    expect(train.map((s) => s.forkOptions?.env?.CUDA_VISIBLE_DEVICES)).toEqual(['0', '1', '2', '3', '4']);
    expect(slots.filter((s) => s.queue === 'orchestrate')).toEqual([{ queue: 'orchestrate' }]);
    expect(workerSlots(loadWorkerConfig(['--queues', 'train,attack'], {}), env)).toEqual([
      { queue: 'train' },
      { queue: 'attack' },
    ]);
    // an operator's own memory setting wins over the default
    const own = workerSlots({ queues: ['train'], devices: ['0'] }, { TF_FORCE_GPU_ALLOW_GROWTH: 'false' });
    expect(own[0]!.forkOptions?.env?.TF_FORCE_GPU_ALLOW_GROWTH).toBe('false');
  });
});

const redis = await testRedis('gpu-devices');

describe.skipIf(!redis)('compute processes forked per device (real BullMQ on Redis)', () => {
  const connection = redis ? new Redis(redis.url, { maxRetriesPerRequest: null }) : undefined!;
  const workers: Worker[] = [];
  const dirs: string[] = [];

  afterAll(async () => {
    await Promise.all(workers.map((w) => w.close()));
    connection.disconnect();
    await redis?.cleanup();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  /** Runs `n` jobs on the train queue through the Workers of `slots`, as arcal-worker builds them. */
  async function run(queueName: string, slots: ReturnType<typeof workerSlots>, n: number) {
    const dir = mkdtempSync(join(tmpdir(), 'arcal-devices-'));
    dirs.push(dir);
    const mine: Worker[] = [];
    for (const slot of slots.filter((s) => s.queue === 'train')) {
      mine.push(
        new Worker(queueName, probeFile, {
          connection,
          prefix: redis!.prefix,
          concurrency: 1,
          useWorkerThreads: false,
          ...(slot.forkOptions ? { workerForkOptions: slot.forkOptions } : {}),
        }),
      );
    }
    workers.push(...mine);
    const queue = new Queue(queueName, { connection, prefix: redis!.prefix });
    try {
      const jobs = await queue.addBulk(
        Array.from({ length: n }, (_, i) => ({ name: 'member', data: { dir, expected: n }, opts: { jobId: `m${i}` } })),
      );
      const results = [];
      for (const job of jobs) {
        for (;;) {
          const state = await queue.getJobState(job.id!);
          if (state === 'completed') break;
          if (state === 'failed') throw new Error((await queue.getJob(job.id!))!.failedReason);
          await new Promise((r) => setTimeout(r, 100));
        }
        results.push((await queue.getJob(job.id!))!.returnvalue);
      }
      return results as { pid: number; cuda: string | null; growth: string | null; marker: string | null }[];
    } finally {
      await Promise.all(mine.map((w) => w.close()));
      await queue.close();
    }
  }

  it('five members on a fake five-device list run at once, each in its own process seeing only its device', async () => {
    const config = loadWorkerConfig(['--queues', 'train', '--devices', '0,1,2,3,4'], {});
    const { CUDA_VISIBLE_DEVICES: _, ...parent } = process.env;
    const results = await run('train', workerSlots(config, { ...parent, ARCAL_TEST_MARKER: 'inherited' }), 5);
    expect(results.map((r) => r.cuda).sort()).toEqual(['0', '1', '2', '3', '4']);
    expect(new Set(results.map((r) => r.pid)).size).toBe(5);
    expect(results.every((r) => r.pid !== process.pid)).toBe(true);
    // the rest of the worker's environment (database, Redis, artifact settings) still reaches the child
    expect(results.map((r) => r.marker)).toEqual(Array(5).fill('inherited'));
    expect(results.map((r) => r.growth)).toEqual(Array(5).fill('true'));
  });

  it('without --devices the compute process inherits the environment unchanged (CPU)', async () => {
    const config = loadWorkerConfig(['--queues', 'train'], {});
    const before = process.env.CUDA_VISIBLE_DEVICES;
    process.env.ARCAL_TEST_MARKER = 'parent';
    try {
      const [r] = await run('train-cpu', workerSlots(config, process.env), 1);
      expect(r!.cuda).toBe(before ?? null);
      expect(r!.marker).toBe('parent');
      expect(r!.growth).toBe(process.env.TF_FORCE_GPU_ALLOW_GROWTH ?? null);
    } finally {
      delete process.env.ARCAL_TEST_MARKER;
    }
  });
});
