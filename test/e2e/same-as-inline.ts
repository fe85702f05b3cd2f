/**
 * The check that ends most service tests: an experiment run through the API stored what the inline run of its
 * spec gives (compare.ts), its report and every epoch of its metrics, to 1e-6. Apart from compare.ts, which the
 * benches import too, since it asserts with vitest's `expect`.
 */
import { expect } from 'vitest';
import { asMetricRows, comparable, inlineReport, resolve, storedMetricRows } from './compare.ts';
import { type ApiClient, followEvents, numericDiff, outcome } from './harness.ts';

/**
 * Expects experiment `id` to have succeeded with the report and metrics of the inline run of `raw` (the reference
 * model's epochs, member -1, left out of the metrics); returns the inline report and the API's two answers.
 */
export async function expectSameAsInline(service: ApiClient, id: string, raw: unknown) {
  const expected = await inlineReport(resolve(raw));
  const view = await service.request('GET', `/v1/experiments/${id}`);
  expect(view.body.status).toBe('succeeded');
  expect(numericDiff(comparable(view.body.report), comparable(expected), 1e-6)).toEqual([]);
  const metrics = await service.request('GET', `/v1/experiments/${id}/metrics`);
  const stored = storedMetricRows(metrics.body.epochs.filter((r: any) => r.member !== -1));
  expect(numericDiff(stored, asMetricRows(expected), 1e-6)).toEqual([]);
  return { expected, view, metrics };
}

/**
 * Follows experiment `id` to its end (within `timeoutMs`) and expects it to have succeeded (its logs in the
 * message otherwise), then checks it as expectSameAsInline does.
 */
export async function expectSucceededAsInline(service: ApiClient, id: string, raw: unknown, timeoutMs: number) {
  const events = await followEvents(service, id, timeoutMs);
  const logs = await service.request('GET', `/v1/experiments/${id}/logs`);
  expect(outcome(events), JSON.stringify(logs.body).slice(-2000)).toBe('succeeded');
  return expectSameAsInline(service, id, raw);
}
