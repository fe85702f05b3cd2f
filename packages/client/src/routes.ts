/**
 * Every HTTP route the client calls, in OpenAPI path form. The client builds each request from this
 * table, and a test compares it with the API's own OpenAPI document so that the two cannot drift.
 */
export const ROUTES = {
  createSession: { method: 'POST', path: '/v1/session' },
  deleteSession: { method: 'DELETE', path: '/v1/session' },
  submit: { method: 'POST', path: '/v1/experiments' },
  list: { method: 'GET', path: '/v1/experiments' },
  get: { method: 'GET', path: '/v1/experiments/{id}' },
  delete: { method: 'DELETE', path: '/v1/experiments/{id}' },
  metrics: { method: 'GET', path: '/v1/experiments/{id}/metrics' },
  events: { method: 'GET', path: '/v1/experiments/{id}/events' },
  logs: { method: 'GET', path: '/v1/experiments/{id}/logs' },
  artifacts: { method: 'GET', path: '/v1/experiments/{id}/artifacts' },
  artifact: { method: 'GET', path: '/v1/experiments/{id}/artifacts/{name}' },
  cancel: { method: 'POST', path: '/v1/experiments/{id}/cancel' },
  retry: { method: 'POST', path: '/v1/experiments/{id}/retry' },
  submitStudy: { method: 'POST', path: '/v1/studies' },
  listStudies: { method: 'GET', path: '/v1/studies' },
  getStudy: { method: 'GET', path: '/v1/studies/{id}' },
  cancelStudy: { method: 'POST', path: '/v1/studies/{id}/cancel' },
  deleteStudy: { method: 'DELETE', path: '/v1/studies/{id}' },
  health: { method: 'GET', path: '/healthz' },
  ready: { method: 'GET', path: '/readyz' },
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
