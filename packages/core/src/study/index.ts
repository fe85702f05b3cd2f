export * from './expand.ts';
export * from './aggregate.ts';
