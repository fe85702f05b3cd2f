export { type ApiDeps, buildApp } from './app.ts';
export { type ApiConfig, loadConfig } from './config.ts';
export { createApiDeps } from './deps.ts';
export { type Estimate, estimateCost, forwardMacs } from './estimate.ts';
export { createKeyCommand } from './keys.ts';
