/**
 * Every HTTP route the client calls, in OpenAPI path form, with the operationId the API gives it. The client
 * builds each request from this table, and tests compare it with the API's own OpenAPI document (and with
 * types generated from that document) so that the two cannot drift.
 */
export const ROUTES = {
  createSession: { method: 'POST', path: '/v1/session', operationId: 'createSession' },
  deleteSession: { method: 'DELETE', path: '/v1/session', operationId: 'deleteSession' },
  submit: { method: 'POST', path: '/v1/experiments', operationId: 'submitExperiment' },
  list: { method: 'GET', path: '/v1/experiments', operationId: 'listExperiments' },
  get: { method: 'GET', path: '/v1/experiments/{id}', operationId: 'getExperiment' },
  delete: { method: 'DELETE', path: '/v1/experiments/{id}', operationId: 'deleteExperiment' },
  metrics: { method: 'GET', path: '/v1/experiments/{id}/metrics', operationId: 'getExperimentMetrics' },
  events: { method: 'GET', path: '/v1/experiments/{id}/events', operationId: 'followExperimentEvents' },
  logs: { method: 'GET', path: '/v1/experiments/{id}/logs', operationId: 'listExperimentLogs' },
  artifacts: { method: 'GET', path: '/v1/experiments/{id}/artifacts', operationId: 'listArtifacts' },
  artifact: { method: 'GET', path: '/v1/experiments/{id}/artifacts/{name}', operationId: 'downloadArtifact' },
  cancel: { method: 'POST', path: '/v1/experiments/{id}/cancel', operationId: 'cancelExperiment' },
  retry: { method: 'POST', path: '/v1/experiments/{id}/retry', operationId: 'retryExperiment' },
  submitStudy: { method: 'POST', path: '/v1/studies', operationId: 'submitStudy' },
  listStudies: { method: 'GET', path: '/v1/studies', operationId: 'listStudies' },
  getStudy: { method: 'GET', path: '/v1/studies/{id}', operationId: 'getStudy' },
  cancelStudy: { method: 'POST', path: '/v1/studies/{id}/cancel', operationId: 'cancelStudy' },
  deleteStudy: { method: 'DELETE', path: '/v1/studies/{id}', operationId: 'deleteStudy' },
  health: { method: 'GET', path: '/healthz', operationId: 'health' },
  ready: { method: 'GET', path: '/readyz', operationId: 'ready' },
} as const;

export type RouteName = keyof typeof ROUTES;

/** `/v1/experiments/{id}` with `{ id: 'x y' }` → `/v1/experiments/x%20y` (every parameter must be given). */
export function routePath(name: RouteName, params: Record<string, string> = {}): string {
  return ROUTES[name].path.replace(/\{(\w+)\}/g, (_, k: string) => {
    const v = params[k];
    if (v === undefined || v === '') throw new TypeError(`route ${name} needs the parameter "${k}"`);
    return encodeURIComponent(v);
  });
}
