/**
 * The API's Prometheus metrics through prom-client, one registry per app (tests build many apps in one
 * process). Observed where the work happens: HTTP latency in the response hook, open event streams in
 * the SSE handler; queue depths and experiment counts are read at scrape time because they are states,
 * not events. Job durations are observed by the workers when a job finishes (workers/src/metrics.ts).
 *
 * Exposure: `/metrics` needs no key, so every series here is aggregate over all projects. No label
 * carries a project, key, experiment id or raw URL: requests are labelled by route pattern, and a request
 * that matches no route is labelled `unmatched` (also keeps the label set bounded).
 */
import type { FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface MetricSources {
  /** BullMQ job counts per queue and state. */
  queueDepths(): Promise<Record<string, Record<string, number>>>;
  /** Experiments per status, summed over every project. */
  experimentsByStatus(): Promise<Array<{ status: string; count: number }>>;
  /** Where a failed read is reported (a scrape still answers with everything else). */
  onError?(err: unknown, source: string): void;
}

export interface ApiMetrics {
  registry: Registry;
  http: Histogram<'method' | 'route' | 'status'>;
  /** Server-sent-event streams open now. */
  sseStreams: Gauge;
}

declare module 'fastify' {
  interface FastifyInstance {
    metrics: ApiMetrics;
  }
}

export function createApiMetrics(sources: MetricSources): ApiMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const http = new Histogram({
    name: 'arcal_http_request_duration_seconds',
    help: 'HTTP request latency by route pattern',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: HTTP_BUCKETS,
    registers: [registry],
  });
  const sseStreams = new Gauge({
    name: 'arcal_sse_streams',
    help: 'Open server-sent-event streams (experiment followers)',
    registers: [registry],
  });
  new Gauge({
    name: 'arcal_queue_jobs',
    help: 'BullMQ jobs per queue and state',
    labelNames: ['queue', 'state'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      try {
        for (const [queue, counts] of Object.entries(await sources.queueDepths()))
          for (const [state, n] of Object.entries(counts)) this.set({ queue, state }, n);
      } catch (err) {
        sources.onError?.(err, 'queue depths');
      }
    },
  });
  new Gauge({
    name: 'arcal_experiments',
    help: 'Experiments per status, all projects together',
    labelNames: ['status'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      try {
        for (const r of await sources.experimentsByStatus()) this.set({ status: r.status }, r.count);
      } catch (err) {
        sources.onError?.(err, 'experiment counts');
      }
    },
  });
  return { registry, http, sseStreams };
}

/** Times every request by route pattern and makes the metrics reachable as `app.metrics`. */
export function registerMetrics(app: FastifyInstance, metrics: ApiMetrics): void {
  app.decorate('metrics', metrics);
  app.addHook('onResponse', async (request, reply) => {
    // A 404 has no route; its raw URL could carry anything, so it is not a label.
    const route = request.is404 ? 'unmatched' : (request.routeOptions.url ?? 'unmatched');
    metrics.http.observe({ method: request.method, route, status: String(reply.statusCode) }, reply.elapsedTime / 1000);
  });
}
