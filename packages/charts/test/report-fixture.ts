/**
 * A stored report with every section the dashboard draws, built by hand with simple closed-form numbers
 * (not produced by the runner) so tests know each chart's expected marks from its construction alone:
 * 2 members × 3 epochs with 4 robustness subsets of soft labels, 10 reliability bins of which 3 are
 * empty, 4 robustness subsets, 2 corruptions × 3 severities, and 20-bin OOD entropy histograms.
 */

import type { ReportExtras } from '@arcal/client';
import type { ExperimentReport } from '@arcal/contracts';

export const FIXTURE = {
  members: 2,
  epochs: 3,
  subsets: 4,
  bins: 10,
  emptyBins: [0, 1, 2],
  severities: [1, 2, 3],
  corruptions: ['gaussian_noise', 'contrast'],
  histBins: 20,
};

export function sampleReport(spec: unknown = {}): ExperimentReport & ReportExtras {
  const { members, epochs, subsets, bins, emptyBins, severities, corruptions, histBins } = FIXTURE;
  const epochRecords: ExperimentReport['epochs'] = [];
  for (let m = 0; m < members; m++) {
    for (let e = 0; e < epochs; e++) {
      epochRecords.push({
        epoch: e + 1, // epochs are counted from 1, as the training loop records them
        member: m,
        trainLoss: 2 / (e + 1) + m * 0.1,
        trainAccuracy: 0.5 + 0.1 * e,
        learningRate: 0.05,
        validation: {
          accuracy: 0.5 + 0.1 * e,
          nll: 1 / (e + 1),
          ece: 0.2 - 0.05 * e,
          brier: 0.5,
          confidence: 0.7,
          count: 128,
        },
        // Less robust subsets get softer labels: p̃_r = 1 − 0.1·(subsets − r)·(e + 1)/epochs
        softLabels: {
          pTrue: Array.from({ length: subsets }, (_, r) => 1 - (0.1 * (subsets - r) * (e + 1)) / epochs),
          epsilon: Array.from({ length: subsets }, (_, r) => (0.1 * (subsets - r) * (e + 1)) / epochs),
          valConf: Array.from({ length: subsets }, () => 0.8),
          valAcc: Array.from({ length: subsets }, () => 0.7),
        },
        seconds: 1,
      });
    }
  }
  const reliability = Array.from({ length: bins }, (_, k) =>
    emptyBins.includes(k)
      ? { count: 0, acc: 0, conf: 0 }
      : { count: 10 + k, acc: (k + 0.2) / bins, conf: (k + 0.5) / bins },
  );
  const bySubset = Array.from({ length: subsets }, (_, r) => ({
    subset: r,
    count: 32,
    acc: 0.4 + 0.15 * r,
    conf: 0.9 - 0.05 * r,
    ece: 0.5 - 0.1 * r,
    minRobustness: r * 0.5,
    maxRobustness: (r + 1) * 0.5,
  }));
  const rows = corruptions.flatMap((c, ci) =>
    severities.map((s) => ({
      corruption: c,
      severity: s,
      accuracy: 0.8 - 0.1 * s,
      ece: 0.05 * s + 0.01 * ci,
      nll: 0.5 * s,
    })),
  );
  const hist = (peak: number) => {
    const counts = Array.from({ length: histBins }, (_, i) => Math.max(0, 10 - Math.abs(i - peak)));
    const edges = Array.from({ length: histBins + 1 }, (_, i) => (i * Math.log(4)) / histBins);
    return { edges, counts, density: counts.map((c) => c), outside: 0 };
  };
  return {
    arcal: '0.1.0',
    spec,
    backend: 'cpu',
    dataset: { name: 'synthetic', source: 'synthetic', train: 512, validation: 128, test: 128, checksum: 'x' },
    epochs: epochRecords,
    final: { accuracy: 0.81, nll: 0.52, ece: 0.043, brier: 0.27, confidence: 0.8, count: 128, reliability },
    members: Array.from({ length: members }, (_, m) => ({
      member: m,
      seed: 3 + m,
      final: { accuracy: 0.8, nll: 0.5, ece: 0.05, brier: 0.3, confidence: 0.8, count: 128 },
    })),
    bySubset,
    notes: ['fixture report'],
    timings: { totalSeconds: 10, trainSeconds: 8, attackSeconds: 1, evalSeconds: 1 },
    shift: {
      rows,
      meanEceBySeverity: severities.map((s) => ({
        severity: s,
        meanEce: rows.filter((r) => r.severity === s).reduce((a, r) => a + r.ece, 0) / corruptions.length,
        corruptions: corruptions.length,
      })),
      notApplicable: [],
    },
    ood: {
      dataset: 'synthetic-ood',
      inCount: 128,
      outCount: 64,
      aurocMaxProb: 0.75,
      aurocEntropy: 0.78,
      histogramIn: hist(4),
      histogramOut: hist(15),
    },
  };
}
