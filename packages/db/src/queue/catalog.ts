/**
 * The job catalog moved to @arcal/contracts (what two processes agree on lives there); this module keeps the
 * old import path working.
 */
export * from '@arcal/contracts/jobs';
