/**
 * Fan-in without a coordinator: each job of a group marks its own row completed (with its result) and then
 * counts the completed rows of the group. Every job's count runs after its own commit, so the last job to
 * commit sees the whole group and dispatches the next step; two that finish together may both dispatch it,
 * which the next step's deterministic job id turns into one job.
 */
import type { WorkerContext } from './context.ts';
import type { JobLike } from './run-job.ts';

export async function isLastOfGroup(
  ctx: WorkerContext,
  job: JobLike,
  result: unknown,
  groupIds: string[],
): Promise<boolean> {
  if (job.id) await ctx.repos.jobs.markCompleted(job.id, result ?? null);
  return (await ctx.repos.jobs.countCompleted(groupIds)) === groupIds.length;
}
