/**
 * The artifact store's periodic sweep, run by `arcal-worker`'s main process: stored objects no record points to
 * (uploads of a writer killed before it recorded them, bytes of a re-recorded key, objects left by a crash in a
 * delete) and stale multipart uploads are removed once older than the grace period, counted from the upload.
 *
 * Only an object store is swept. In a shared local folder the jobs write their files directly, without records
 * (see handoff.ts), so a sweep there would take every file for an orphan.
 */
import type { ArtifactConfig, ArtifactStore } from '@arcal/storage';

export interface SweepSchedule {
  /** Between two sweeps, ms (ARCAL_SWEEP_INTERVAL_MS [1 h]); 0: never. */
  intervalMs: number;
  /** Unrecorded objects younger than this are kept: a writer may be about to record them (ARCAL_SWEEP_GRACE_MS [24 h]). */
  graceMs: number;
}

function nonNegative(v: string | undefined, d: number, name: string): number {
  if (v === undefined || v.trim() === '') return d;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a non-negative number of ms, got "${v}"`);
  return n;
}

export function sweepScheduleFromEnv(env: Record<string, string | undefined>): SweepSchedule {
  const intervalMs = nonNegative(env.ARCAL_SWEEP_INTERVAL_MS, 3_600_000, 'ARCAL_SWEEP_INTERVAL_MS');
  const graceMs = nonNegative(env.ARCAL_SWEEP_GRACE_MS, 24 * 3_600_000, 'ARCAL_SWEEP_GRACE_MS');
  // an upload takes a while between its bytes and its record; a grace shorter than a minute would race it
  if (intervalMs > 0 && graceMs < 60_000)
    throw new Error(`ARCAL_SWEEP_GRACE_MS must be at least 60000, got ${graceMs}`);
  return { intervalMs, graceMs };
}

/** Whether this store is swept at all (see the module comment). */
export const sweeps = (artifact: ArtifactConfig | undefined, schedule: SweepSchedule) =>
  schedule.intervalMs > 0 && artifact?.kind === 's3';

/**
 * Sweeps every `intervalMs`, the first pass after a random part of one interval (hosts started together do not
 * sweep together; several sweeping at once is harmless, only wasted listing). Returns a stop function.
 */
export function startSweep(
  store: Pick<ArtifactStore, 'sweep'>,
  schedule: SweepSchedule,
  log: (level: 'info' | 'warn', message: string, data?: Record<string, unknown>) => void,
  random: () => number = Math.random,
): () => void {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  // the next pass is timed from the end of this one, so passes never overlap
  const pass = async () => {
    try {
      const r = await store.sweep({ graceMs: schedule.graceMs });
      if (r.removed.length || r.abortedUploads)
        log('info', 'artifact store swept', { removed: r.removed.length, abortedUploads: r.abortedUploads });
    } catch (err) {
      log('warn', 'artifact store sweep failed; the next one retries', { err: (err as Error).message });
    }
  };
  const next = (ms: number) => {
    if (stopped) return;
    timer = setTimeout(async () => {
      await pass();
      next(schedule.intervalMs);
    }, ms);
    timer.unref();
  };
  next(Math.floor(random() * schedule.intervalMs));
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
  };
}
