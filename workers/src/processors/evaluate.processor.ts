/**
 * The evaluate queue: once every member is trained, core's runExperiment is run on the experiment's folder.
 * Every stage it would train finds its checkpoint or cached robustness file there, so it only evaluates
 * (post-hoc calibration, test metrics, robustness subsets, shift and OOD) and writes report.json and the
 * exported models exactly as an inline run would. Sandboxed processes only (tfjs).
 */
import { join } from 'node:path';
import type { ExperimentReport } from '@arcal/contracts';
import { evaluateStep, KEYS } from '@arcal/core/plan';
import { jobIds } from '@arcal/db';
import type { HandlerTable } from '../run-job.ts';
import { computeJob, writeAtomic } from './compute-context.ts';
import { inlineOrder, recordArtifacts } from './records.ts';
import { checkpointEpoch } from './train.processor.ts';

export { inlineOrder } from './records.ts';

export const evaluateHandlers: HandlerTable = {
  'evaluate:evaluate': async ({ ctx, payload, signal, experiment, job }) => {
    const id = payload.experimentId;
    const c = await computeJob({ ctx, experiment, job });
    const epochs = c.spec.training.epochs;
    // Refuse to train here: every member must be complete.
    for (let m = 0; m < c.spec.ensemble.members; m++) {
      const at = await checkpointEpoch(c.layout.member(m));
      if (at < epochs) throw new Error(`member ${m} is not trained yet (checkpoint at epoch ${at} of ${epochs})`);
    }
    ctx.onStep?.(evaluateStep(c.spec, c.data.test.n));
    let pending: Promise<void> = Promise.resolve();
    const report: ExperimentReport = await c.core.runExperiment(c.spec, {
      outDir: c.layout.outDir,
      data: c.data,
      signal,
      loadOod: (name: string) => c.core.loadOodSet(name as never, c.dataOptions) as never,
      onEvent: (e) => {
        if (e.type === 'stage' && e.stage === 'evaluate')
          pending = pending.then(() => c.say('info', 'evaluating the trained members'));
      },
    });
    await pending;
    // The resumed runner saw no epochs being trained; the history is what the jobs recorded.
    report.epochs = inlineOrder(await ctx.repos.runs.metricsForExperiment(id), c.spec.ensemble.mode === 'joint');
    await writeAtomic(join(c.layout.outDir, KEYS.report), `${JSON.stringify(report, null, 2)}\n`);
    await ctx.repos.results.saveReport(id, report);
    await recordArtifacts(ctx, id);
    await ctx.dispatcher.dispatch([
      {
        id: jobIds.finalize(id, experiment.attempt),
        kind: 'orchestrate:finalize',
        experimentId: id,
        payload: { experimentId: id },
      },
    ]);
    return { accuracy: report.final.accuracy, ece: report.final.ece };
  },
};
