/**
 * The orchestrate queue: short bookkeeping jobs that plan the graph and close it. Runs in the worker's
 * own process (no tfjs here).
 *
 * Graph today: start → train:experiment (the whole experiment through core's runExperiment, resumable
 * from its checkpoints) → finalize.
 */
import { type ExperimentReport } from '@arcal/contracts';
import { jobIds } from '@arcal/db';
import type { HandlerTable } from '../run-job.ts';

export const orchestrateHandlers: HandlerTable = {
  'orchestrate:start': async ({ ctx, payload, experiment }) => {
    const id = payload.experimentId;
    if (await ctx.repos.experiments.transition(id, ['queued'], 'running')) {
      await ctx.events.publish(id, { type: 'status', status: 'running' });
    }
    const line = await ctx.repos.results.appendLog(id, 'info', `attempt ${experiment.attempt}: planned the inline graph (train:experiment → finalize)`);
    await ctx.events.publish(id, { type: 'log', id: line.id.toString(), level: 'info', message: line.message, at: line.createdAt.toISOString() });
    await ctx.dispatcher.dispatch([
      { id: jobIds.experiment(id, experiment.attempt), kind: 'train:experiment', experimentId: id, payload: { experimentId: id } },
    ]);
    return { planned: ['train:experiment'] };
  },

  'orchestrate:finalize': async ({ ctx, payload }) => {
    const id = payload.experimentId;
    const report = (await ctx.repos.results.getReport(id)) as ExperimentReport | null;
    if (!report) throw new Error(`finalize: experiment ${id} has no report yet`);
    const runs = await ctx.repos.runs.listForExperiment(id);
    for (const m of report.members) {
      const run = runs.find((r) => r.member === m.member);
      if (run) await ctx.repos.runs.setFinal(run.id, m.final);
    }
    if (await ctx.repos.experiments.transition(id, ['running', 'queued'], 'succeeded')) {
      await ctx.events.publish(id, { type: 'report' });
      await ctx.events.publish(id, { type: 'status', status: 'succeeded' });
    }
    return { final: report.final.accuracy };
  },

  /** Records itself and nothing else: what bench/api-throughput.ts measures as per-job overhead. */
  'orchestrate:noop': async () => ({ ok: true }),
};
