/** What `arcal run` writes to report.json and what the service stores; fractions, never percentages. */
export interface ClassificationMetrics {
  accuracy: number;
  nll: number;
  ece: number;
  brier: number;
  confidence: number;
  count: number;
}

export interface SubsetRow {
  subset: number;
  count: number;
  acc: number;
  conf: number;
  ece: number;
  /** Mean negative log-likelihood over the subset's examples (reports from before it was recorded lack it). */
  nll?: number;
  minRobustness: number;
  maxRobustness: number;
  /** σ² of the members' predictions over this subset's examples (ensembles of M ≥ 2 only). */
  variance?: number;
}

export interface EpochRecord {
  epoch: number;
  member: number | 'ensemble';
  trainLoss: number;
  trainAccuracy: number;
  learningRate: number;
  validation?: ClassificationMetrics;
  /**
   * The selection split (dataset.selectionSize > 0) after this epoch: held out from Eq. 3's update, used only to
   * choose what is tuned (α, ε).
   */
  selection?: ClassificationMetrics;
  /** Correct-class soft label p̃_r per robustness subset after this epoch's update (adals/ar-adals). */
  softLabels?: { pTrue: number[]; epsilon: number[]; valConf: number[]; valAcc: number[] };
  seconds: number;
}

export interface MemberReport {
  member: number;
  seed: number;
  final: ClassificationMetrics;
  temperature?: number;
  bySubset?: SubsetRow[];
}

export interface ExperimentReport {
  arcal: string;
  spec: unknown;
  backend: string;
  threads?: number;
  dataset: {
    name: string;
    source: string;
    train: number;
    validation: number;
    /** Examples of the selection split (dataset.selectionSize > 0 only). */
    selection?: number;
    test: number;
    checksum: string;
  };
  epochs: EpochRecord[];
  final: ClassificationMetrics & { reliability: Array<{ count: number; acc: number; conf: number }> };
  /** The final model(s) (ensemble average) on the training split, in inference mode. */
  train?: ClassificationMetrics;
  members: MemberReport[];
  bySubset: SubsetRow[];
  /**
   * The final model(s) on the selection split (dataset.selectionSize > 0), post-hoc calibrated like `final`:
   * the metric α, ε and other tuned settings are chosen by, never test data nor the split Eq. 3 reads.
   */
  selection?: ClassificationMetrics;
  variance?: number;
  notes: string[];
  timings: { totalSeconds: number; trainSeconds: number; attackSeconds: number; evalSeconds: number };
  [extra: string]: unknown;
}

/** Sections the runner adds to a report when the spec asks for them (shift and OOD evaluation). */
export interface ReportExtras {
  shift?: {
    rows: Array<{
      corruption: string;
      severity: number;
      accuracy: number;
      ece: number;
      nll: number;
      variance?: number;
    }>;
    meanEceBySeverity: Array<{ severity: number; meanEce: number; corruptions: number }>;
    notApplicable?: Array<{ corruption: string; reason: string }>;
  };
  ood?: {
    dataset: string;
    source?: string;
    inCount: number;
    outCount: number;
    aurocMaxProb: number;
    aurocEntropy: number;
    meanEntropyIn?: number;
    meanEntropyOut?: number;
    histogramIn: Histogram;
    histogramOut: Histogram;
  };
}

export interface Histogram {
  edges: number[];
  counts: number[];
  density?: number[];
  outside?: number;
}
