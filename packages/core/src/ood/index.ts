/** Out-of-distribution metrics: predictive entropy, its histogram, AUROC and the scores fed to it. */
export { predictiveEntropy, entropyHistogram, type Histogram } from './entropy.ts';
export { auroc, oodScores, type OodScores } from './auroc.ts';
