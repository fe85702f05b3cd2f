/**
 * Evaluation beyond the clean test set: calibration under corruptions at each severity (paper Table 3,
 * Fig. 3) and out-of-distribution entropy and AUROC (Fig. 4). Post-hoc calibrators are applied exactly as on
 * clean data.
 */
import type { ResolvedSpec } from '@arcal/contracts';
import { averageProbabilities, classificationSummary, predictionVariance } from '../calibration/index.ts';
import { gatherSplit } from '../data/splits.ts';
import type { ExperimentData } from '../data/types.ts';
import { type Model, predictLogits, predictProbabilities } from '../models/index.ts';
import { auroc, entropyHistogram, oodScores, predictiveEntropy } from '../ood/index.ts';
import { applyTemperature, MixNMatchCalibrator } from '../posthoc/index.ts';
import { Rng } from '../util/rng.ts';
import type { OodLoader, RunEvent } from './run-types.ts';
import { shiftCache } from './shift-cache.ts';

export interface Posthoc {
  temperature?: number;
  calibrator?: unknown;
}

/** A member's probabilities with its post-hoc calibration (temperature or mix-n-match) applied. */
export function calibratedProbabilities(model: Model, x: Float32Array, n: number, p: Posthoc): Float32Array {
  if (p.calibrator) return MixNMatchCalibrator.fromJSON(p.calibrator as never).apply(predictLogits(model, x, n));
  if (p.temperature !== undefined && p.temperature !== 1) {
    return Float32Array.from(applyTemperature(predictLogits(model, x, n), model.config.classes, p.temperature));
  }
  return predictProbabilities(model, x, n);
}

/** Seed of the corruption subset: fixed, so every spec and seed is measured on the same test images. */
const SHIFT_SUBSET_SEED = 20_000;

/**
 * The test images the corruption metrics use: all `n` when `limit` is absent or not below `n`, otherwise `limit`
 * of them drawn without replacement by a fixed seed (the same for every spec and seed, so paired comparisons see
 * the same images), in ascending order.
 */
export function shiftSubset(n: number, limit?: number): Int32Array {
  if (limit === undefined || limit >= n) return Int32Array.from({ length: n }, (_, i) => i);
  return new Rng(SHIFT_SUBSET_SEED).permutation(n).slice(0, limit).sort();
}

export interface ShiftRow {
  corruption: string;
  severity: number;
  accuracy: number;
  ece: number;
  nll: number;
  /** σ² across members (M ≥ 2). */
  variance?: number;
}

export async function evaluateShiftAndOod(
  spec: ResolvedSpec,
  data: ExperimentData,
  models: Model[],
  posthoc: Posthoc[],
  o: { onEvent?: (e: RunEvent) => void; loadOod?: OodLoader },
): Promise<{ sections: Record<string, unknown>; notes: string[] }> {
  const notes: string[] = [];
  const sections: Record<string, unknown> = {};
  const { test } = data;
  const [h, w, c] = data.shape;
  const bins = spec.evaluation.bins;
  const predictAll = (x: Float32Array, n: number) => models.map((m, i) => calibratedProbabilities(m, x, n, posthoc[i]));

  if (spec.evaluation.corruptions.length) {
    const shift = await import('../shift/index.ts');
    const rows: ShiftRow[] = [];
    // the corruption subset (evaluation.shiftLimit): its images and labels
    const keep = shiftSubset(test.n, spec.evaluation.shiftLimit);
    const sub =
      keep.length === test.n
        ? test
        : gatherSplit({ pixels: test.x, labels: test.y, n: test.n, shape: data.shape, origin: test.fileIndex }, keep);
    const notApplicable: Array<{ corruption: string; reason: string }> = [];
    for (const id of spec.evaluation.corruptions) {
      const app = shift.corruptionApplicability(id, c);
      if (!app.applicable) {
        notApplicable.push({ corruption: id, reason: app.reason ?? 'not applicable' });
        continue;
      }
      for (const sev of spec.evaluation.severities) {
        o.onEvent?.({ type: 'stage', stage: 'shift', detail: `${id} severity ${sev}` });
        // the same images, corruption, severity and seed give the same set: made once per process and seed
        const xs = shiftCache().get(test.x, spec.seed, `${keep.length}/${id}/${sev}`, () =>
          shift.corrupt(sub.x, [sub.n, h, w, c], id as never, sev, spec.seed + sev),
        );
        const probs = predictAll(xs, sub.n);
        const avg = probs.length === 1 ? probs[0] : averageProbabilities(probs);
        const s = classificationSummary(avg, sub.y, bins);
        rows.push({
          corruption: id,
          severity: sev,
          accuracy: s.accuracy,
          ece: s.ece,
          nll: s.nll,
          ...(probs.length > 1 ? { variance: predictionVariance(probs, sub.n) } : {}),
        });
      }
    }
    const meanEceBySeverity = spec.evaluation.severities.map((sev) => {
      const r = rows.filter((x) => x.severity === sev);
      return {
        severity: sev,
        meanEce: r.length ? r.reduce((a, b) => a + b.ece, 0) / r.length : Number.NaN,
        corruptions: r.length,
      };
    });
    sections.shift = { rows, meanEceBySeverity, notApplicable };
    for (const n of notApplicable) notes.push(`shift: ${n.corruption} not applicable (${n.reason})`);
  }

  const ood = spec.evaluation.ood;
  if (ood) {
    if (!o.loadOod) {
      notes.push(`ood omitted: no loader for ${ood.dataset} in this runner`);
    } else {
      const set = await o.loadOod(ood.dataset);
      if (set.shape[0] !== h || set.shape[1] !== w || set.shape[2] !== c) {
        notes.push(`ood omitted: ${ood.dataset} images are ${set.shape.join('×')}, the model expects ${h}×${w}×${c}`);
      } else {
        o.onEvent?.({ type: 'stage', stage: 'ood', detail: ood.dataset });
        const Z = data.classes;
        const inProbs = averageProbabilities(predictAll(test.x, test.n));
        const outProbs = averageProbabilities(predictAll(set.x, set.n));
        const sIn = oodScores(inProbs, Z);
        const sOut = oodScores(outProbs, Z);
        const maxH = Math.log(Z);
        const hIn = predictiveEntropy(inProbs, Z);
        const hOut = predictiveEntropy(outProbs, Z);
        const mean = (a: ArrayLike<number>) => Array.from(a).reduce((x, y) => x + y, 0) / Math.max(1, a.length);
        sections.ood = {
          dataset: ood.dataset,
          source: set.source,
          inCount: test.n,
          outCount: set.n,
          aurocMaxProb: auroc(sIn.maxProb, sOut.maxProb),
          aurocEntropy: auroc(sIn.negEntropy, sOut.negEntropy),
          meanEntropyIn: mean(hIn),
          meanEntropyOut: mean(hOut),
          histogramIn: entropyHistogram(hIn, 20, [0, maxH]),
          histogramOut: entropyHistogram(hOut, 20, [0, maxH]),
        };
      }
    }
  }
  return { sections, notes };
}
