export * from './run.ts';
export * from './evaluate-extra.ts';
export * from './features.ts';
