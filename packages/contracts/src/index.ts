export * from './errors.ts';
export * from './report.ts';
export * from './spec.schema.ts';
export * from './study.schema.ts';
export * from './study-aggregate.ts';
export * from './study-expand.ts';
export * from './validate.ts';
