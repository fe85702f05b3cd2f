export * from './metrics.ts';
export * from './subsets.ts';
export * from './soft-labels.ts';
