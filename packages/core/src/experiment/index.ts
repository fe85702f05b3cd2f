export * from './evaluate-extra.ts';
export * from './features.ts';
export * from './run.ts';
