export { loadWorkerConfig, sandboxConfig, type WorkerConfig, type SandboxConfig } from './config.ts';
export { createContext, type WorkerContext } from './context.ts';
export { runJob, classify, type Handler, type HandlerTable, type JobLike } from './run-job.ts';
export { orchestrateHandlers } from './processors/orchestrate.processor.ts';
export { missingHandlers, SANDBOXED_KINDS, SANDBOXED_QUEUES } from './handlers.ts';
