/**
 * The robustness ranking training uses: in a module of its own so that the trainer and the checkpoints that
 * store a ranking both import it, rather than one another.
 */
export interface Ranking {
  /** Robustness subset of every training example (all 0 for AdaLS). */
  trainSubsetOf: Int32Array;
  /** Robustness subset of every validation example. */
  valSubsetOf: Int32Array;
}
