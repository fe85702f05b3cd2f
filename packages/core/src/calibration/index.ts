export * from './metrics.ts';
export * from './soft-labels.ts';
export * from './subsets.ts';
