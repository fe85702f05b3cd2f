/**
 * The attack queue: robustness radii of one shard [start, end) of a split under the vanilla reference
 * model, cached as a file in robustnessOf's own format and recorded in `robustness_shards`. The last
 * shard to finish hands the experiment to the merge step. Sandboxed processes only (tfjs).
 */
import { mkdir } from 'node:fs/promises';
import { dirname, relative, resolve } from 'node:path';
import type { ResolvedSpec } from '@arcal/contracts';
import { jobIds } from '@arcal/db';
import { isLastOfGroup } from '../barrier.ts';
import type { HandlerTable } from '../run-job.ts';
import { computeJob, referenceModel } from './compute-context.ts';

export const attackHandlers: HandlerTable = {
  'attack:robustness-shard': async ({ ctx, payload, signal, experiment, job }) => {
    const id = payload.experimentId;
    const { split, shard, start, end } = payload;
    const c = await computeJob({ ctx, experiment, job });
    const whole = c.data[split];
    if (!(start >= 0 && end <= whole.n && start < end))
      throw new Error(`shard ${split}[${start}, ${end}) is outside the split (n = ${whole.n})`);
    const per = c.data.shape[0] * c.data.shape[1] * c.data.shape[2];
    const part = {
      x: whole.x.subarray(start * per, end * per),
      y: whole.y.subarray(start, end),
      n: end - start,
      fileIndex: whole.fileIndex.subarray(start, end),
    };
    // The training and validation ranking use the method's attack; the test subsets the evaluation's.
    const attack = (
      split === 'test' ? c.spec.evaluation.robustness.attack : c.spec.method.robustness.attack
    ) as ResolvedSpec['method']['robustness']['attack'];
    const ref = await referenceModel(c, signal);
    const file = c.layout.shard(split, shard);
    await mkdir(dirname(file), { recursive: true });
    let norms: Float32Array;
    try {
      norms = await c.core.robustnessOf([ref.model], part, c.data.shape, c.spec, attack, {
        file,
        what: `${split} [${start}, ${end})`,
      });
    } finally {
      ref.dispose();
    }
    const unfooled = norms.filter((v) => !Number.isFinite(v)).length;
    const result = { split, shard, n: part.n, unfooled };
    await ctx.repos.runs.recordShard(id, {
      split,
      shard,
      start,
      end,
      path: relative(resolve(ctx.config.artifactDir), file),
      result,
    });
    const shards = await ctx.repos.runs.shardsForExperiment(id);
    const group = shards.map((s) => jobIds.shard(id, s.split as typeof split, s.shard, experiment.attempt));
    if (await isLastOfGroup(ctx, job, result, group)) {
      await ctx.dispatcher.dispatch([
        {
          id: jobIds.merge(id, experiment.attempt),
          kind: 'orchestrate:merge-robustness',
          experimentId: id,
          payload: { experimentId: id },
        },
      ]);
    }
    return result;
  },
};
