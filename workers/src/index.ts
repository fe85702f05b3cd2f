export { loadWorkerConfig, type SandboxConfig, sandboxConfig, type WorkerConfig } from './config.ts';
export { createContext, type WorkerContext } from './context.ts';
export { assertHandlers, HANDLERS, missingHandlers, SANDBOXED_KINDS, SANDBOXED_QUEUES } from './handlers.ts';
export { orchestrateHandlers } from './processors/orchestrate.processor.ts';
export { classify, type Handler, type HandlerTable, type JobLike, runJob } from './run-job.ts';
