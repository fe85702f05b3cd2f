/** Out-of-distribution metrics: predictive entropy, its histogram, AUROC and the scores fed to it. */

export { auroc, type OodScores, oodScores } from './auroc.ts';
export { entropyHistogram, type Histogram, predictiveEntropy } from './entropy.ts';
