export { buildApp, type ApiDeps } from './app.ts';
export { loadConfig, type ApiConfig } from './config.ts';
export { createApiDeps } from './deps.ts';
export { estimateCost, forwardMacs, type Estimate } from './estimate.ts';
export { createKeyCommand } from './keys.ts';
