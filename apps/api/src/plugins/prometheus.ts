/** Prometheus text exposition, written by hand: HTTP latency histograms, queue depths, job durations. */
import type { FastifyInstance } from 'fastify';

const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const JOB_BUCKETS = [0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 14400];

export class Histogram {
  private readonly series = new Map<
    string,
    { labels: Record<string, string>; counts: number[]; sum: number; n: number }
  >();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: number[],
  ) {}

  observe(labels: Record<string, string>, value: number): void {
    const key = JSON.stringify(labels);
    let s = this.series.get(key);
    if (!s) this.series.set(key, (s = { labels, counts: this.buckets.map(() => 0), sum: 0, n: 0 }));
    this.buckets.forEach((b, i) => {
      if (value <= b) s!.counts[i]!++;
    });
    s.sum += value;
    s.n++;
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const s of this.series.values()) {
      const l = (extra: Record<string, string>) => labelText({ ...s.labels, ...extra });
      this.buckets.forEach((b, i) => lines.push(`${this.name}_bucket${l({ le: String(b) })} ${s.counts[i]}`));
      lines.push(`${this.name}_bucket${l({ le: '+Inf' })} ${s.n}`);
      lines.push(`${this.name}_sum${l({})} ${s.sum}`);
      lines.push(`${this.name}_count${l({})} ${s.n}`);
    }
    return lines.join('\n');
  }
}

export const labelText = (labels: Record<string, string>) => {
  const parts = Object.entries(labels).map(
    ([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`,
  );
  return parts.length ? `{${parts.join(',')}}` : '';
};

export function gauge(name: string, help: string, rows: Array<[Record<string, string>, number]>): string {
  return [
    `# HELP ${name} ${help}`,
    `# TYPE ${name} gauge`,
    ...rows.map(([l, v]) => `${name}${labelText(l)} ${v}`),
  ].join('\n');
}

export function jobDurationHistogram(rows: Array<{ queue: string; seconds: number }>): string {
  const h = new Histogram(
    'arcal_job_duration_seconds',
    'Start-to-finish time of jobs completed in the last hour',
    JOB_BUCKETS,
  );
  for (const r of rows) h.observe({ queue: r.queue }, r.seconds);
  return h.render();
}

/** Times every request by route pattern (not raw URL, which would explode the label set). */
export function registerHttpMetrics(app: FastifyInstance): Histogram {
  const h = new Histogram('arcal_http_request_duration_seconds', 'HTTP request latency by route', BUCKETS);
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    h.observe({ method: request.method, route, status: String(reply.statusCode) }, reply.elapsedTime / 1000);
  });
  return h;
}
