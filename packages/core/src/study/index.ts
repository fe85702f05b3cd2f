export * from './aggregate.ts';
export * from './expand.ts';
