/**
 * The dashboard in a real browser: Debian's Chromium driven by playwright-core against the real API
 * (PostgreSQL + Redis) serving the freshly built /ui. Most experiments are moved along through the
 * repositories and the event publisher, as a worker would; their stored report is the hand-built
 * fixture, so every chart's expected marks follow from the data the API returns. One experiment is
 * submitted through the page's New experiment form and run by a real `arcal-worker` process (started
 * only for that test, on this file's database and queue prefix, once the hand-moved ones are done).
 *
 * Needs /usr/bin/chromium (Debian package `chromium`; CHROMIUM_PATH overrides). Without it the file
 * skips loudly, and fails instead when REQUIRE_BROWSER=1.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ArcalClient, type ExperimentDetail } from '@arcal/client';
import { integrationEnv } from '@arcal/db/testing';
import type { Browser, Page, Request } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error: plain ES module without types
import { buildWeb } from '../../apps/web/scripts/build.mjs';
import { FIXTURE, sampleReport } from '../../packages/charts/test/report-fixture.ts';
import { type LiveApi, smallSpec, startApi } from '../../packages/client/test/live-api.ts';
import { type Proc, startWorker, workerEnvOf } from '../e2e/harness.ts';

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const ARTIFACTS = fileURLToPath(new URL('./artifacts/', import.meta.url));
const browserMissing = existsSync(CHROMIUM) ? null : `no Chromium at ${CHROMIUM} (apt-get install -y chromium)`;
if (browserMissing) {
  if (process.env.REQUIRE_BROWSER === '1')
    throw new Error(`browser tests: ${browserMissing} (REQUIRE_BROWSER=1, so this is a failure)`);
  console.warn(`\n*** SKIPPING browser tests: ${browserMissing}. ***\n`);
}
const integration = browserMissing ? null : await integrationEnv('browser');
const env = integration?.available ? integration.env : undefined;
afterAll(() => env?.cleanup());

/** Rendered data marks of one chart, by vega's ARIA role description (one element per drawn item). */
async function marks(page: Page, chart: string): Promise<Record<string, number>> {
  return page.$eval(`[data-chart="${chart}"][data-rendered] .vis`, (el) => {
    const out: Record<string, number> = {};
    for (const m of el.querySelectorAll('path[role="graphics-symbol"]')) {
      const r = m.getAttribute('aria-roledescription') ?? '?';
      out[r] = (out[r] ?? 0) + 1;
    }
    return out;
  });
}

/**
 * Marks each chart of a stored report must draw, counted from the report itself (not from the chart code):
 * a point per finite (epoch, metric) and a line per (member, metric) of the curves; a heatmap cell per
 * (epoch, subset) of the first member with soft labels; a bar per non-empty reliability bin plus the
 * diagonal; a point per subset plus the line, and a bar per subset; a point per shift severity plus the
 * line; a bar per bin of both OOD histograms. Charts without data are absent.
 */
function expectedMarks(r: NonNullable<ExperimentDetail['report']>): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  const finite = (v: unknown) => typeof v === 'number' && Number.isFinite(v);
  const curvePoints = r.epochs.reduce(
    (a, x) => a + [x.trainLoss, x.trainAccuracy, x.validation?.ece].filter(finite).length,
    0,
  );
  if (curvePoints)
    out['epoch-curves'] = { 'line mark': 3 * new Set(r.epochs.map((x) => x.member)).size, point: curvePoints };
  const firstMember = r.epochs.find((x) => x.softLabels)?.member;
  const softCells = r.epochs
    .filter((x) => x.member === firstMember && x.softLabels)
    .reduce((a, x) => a + x.softLabels!.pTrue.length, 0);
  if (softCells) out['soft-labels'] = { 'rect mark': softCells };
  if (r.final.reliability.length)
    out.reliability = { 'rect mark': r.final.reliability.filter((b) => b.count > 0).length, 'line mark': 1 };
  if (r.bySubset?.length) {
    out['subset-acc-conf'] = { point: r.bySubset.length, 'line mark': 1 };
    out['subset-ece'] = { bar: r.bySubset.length };
  }
  if (r.shift?.meanEceBySeverity.length)
    out['shift-severity'] = { point: r.shift.meanEceBySeverity.length, 'line mark': 1 };
  if (r.ood) out['ood-entropy'] = { 'rect mark': r.ood.histogramIn.counts.length + r.ood.histogramOut.counts.length };
  return out;
}

/** The ECE each bar of the per-subset ECE chart carries in its label, in drawing order. */
async function subsetEceBars(page: Page): Promise<number[]> {
  const labels = await page.$$eval('[data-chart="subset-ece"] path[aria-roledescription="bar"]', (ps) =>
    ps.map((p) => p.getAttribute('aria-label') ?? ''),
  );
  return labels.map((l) => Number(/ECE: ([\d.eE-]+)/.exec(l)![1]));
}

describe.skipIf(!env)('dashboard in Chromium', () => {
  let api: LiveApi;
  let client: ArcalClient;
  let browser: Browser;
  let page: Page;
  const ids: Record<string, string> = {};
  const consoleErrors: string[] = [];
  let worker: Proc | undefined;
  const stopWorker = async () => {
    const w = worker;
    worker = undefined;
    if (!w || w.child.exitCode !== null || w.child.signalCode !== null) return;
    w.child.kill('SIGTERM');
    const kill = setTimeout(() => w.child.kill('SIGKILL'), 10_000);
    await w.exited;
    clearTimeout(kill);
  };

  /** Submitted through the API, then run to success with the fixture report, as the workers would. */
  async function finished(name: string, method = 'vanilla'): Promise<string> {
    const s = await client.submit(smallSpec(name, { method: { kind: method } }));
    await api.deps.repos.experiments.transition(s.id, ['queued'], 'running');
    const e = await client.get(s.id);
    await api.deps.repos.results.saveReport(s.id, sampleReport(e.spec));
    await api.deps.repos.experiments.transition(s.id, ['running'], 'succeeded');
    return s.id;
  }

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    await buildWeb();
    api = await startApi(env!);
    client = new ArcalClient({ baseUrl: api.url, apiKey: api.key });
    ids.report = await finished('fixture-vanilla');
    ids.second = await finished('second-label-smoothing', 'label-smoothing');
    ids.live = (await client.submit(smallSpec('live-one'))).id;
    ids.cancel = (await client.submit(smallSpec('to-cancel'))).id;
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--no-first-run',
        '--disable-sync',
      ],
    });
    page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    page.on('pageerror', (e) => consoleErrors.push(e.message));
  });
  afterAll(async () => {
    await stopWorker();
    await browser?.close();
    await api?.close();
  });

  it('signs in with the key; the key is in no URL and no storage, the cookie is HttpOnly', async () => {
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    await page.goto(`${api.url}/ui/`);
    await page.waitForSelector('#signin');
    // The list answered 401 before signing in; console errors from here on count.
    consoleErrors.length = 0;
    await page.fill('#api-key', api.key);
    await page.click('#signin button[type=submit]');
    await page.waitForSelector('#experiments tbody tr');
    expect(await page.$$eval('#experiments tbody tr', (rows) => rows.length)).toBe(4);
    expect(await page.textContent('#project')).toBe('project team-a');
    const stored = await page.evaluate(() => ({
      local: JSON.stringify({ ...localStorage }),
      session: JSON.stringify({ ...sessionStorage }),
      cookie: document.cookie,
      url: location.href,
    }));
    for (const where of [stored.local, stored.session, stored.cookie, stored.url, ...requests])
      expect(where).not.toContain(api.key);
    expect(stored.local).toBe('{}');
    expect(stored.cookie).not.toContain('arcal_session'); // HttpOnly: invisible to scripts
    expect(await page.$('#api-key')).toBeNull(); // the form, and the key typed into it, are gone
    await page.screenshot({ path: join(ARTIFACTS, 'list.png'), fullPage: true });
  });

  it('lists status, method, dataset, progress and age; filters by status and search', async () => {
    const row = (id: string) =>
      page.$$eval(`#experiments tr[data-id="${id}"] td`, (tds) => tds.map((t) => t.textContent?.trim() ?? ''));
    const [, name, status, method, dataset, progress, ageText] = await row(ids.second!);
    expect([name, status, method, dataset, progress]).toEqual([
      'second-label-smoothing',
      'succeeded',
      'label-smoothing',
      'synthetic',
      'done',
    ]);
    expect(ageText).toMatch(/s ago|min ago/);
    expect((await row(ids.live!))[5]).toBe('0/2 epochs');
    await page.selectOption('#status-filter', 'queued');
    expect(
      await page.$$eval('#experiments tbody tr', (rows) => rows.map((r) => r.getAttribute('data-id')).sort()),
    ).toEqual([ids.live, ids.cancel].sort());
    await page.selectOption('#status-filter', '');
    await page.fill('#search', 'smoothing');
    expect(await page.$$eval('#experiments tbody tr', (rows) => rows.map((r) => r.getAttribute('data-id')))).toEqual([
      ids.second,
    ]);
    await page.fill('#search', '');

    // While something is unfinished the rows refresh themselves: a worker starts one and records an epoch.
    await api.deps.repos.experiments.transition(ids.cancel!, ['queued'], 'running');
    const run = await api.deps.repos.runs.ensureRun(ids.cancel!, 0, 3);
    const rec = { epoch: 1, member: 0, trainLoss: 1, trainAccuracy: 0.5, learningRate: 0.05, seconds: 1 };
    await api.deps.repos.runs.recordEpoch(run.id, { ...rec, record: rec });
    await page.waitForSelector(`tr[data-id="${ids.cancel}"] [data-status="running"]`, { timeout: 25_000 });
    expect((await row(ids.cancel!))[5]).toBe('1/2 epochs');
  });

  it('draws every chart of a stored report with one mark per datum of the API’s report', async () => {
    await page.goto(`${api.url}/ui/#/e/${ids.report}`);
    const names = [
      'epoch-curves',
      'soft-labels',
      'reliability',
      'subset-acc-conf',
      'subset-ece',
      'shift-severity',
      'ood-entropy',
    ];
    for (const n of names) await page.waitForSelector(`[data-chart="${n}"][data-rendered]`);
    const e: ExperimentDetail = await client.get(ids.report!);
    const r = e.report!;
    // Expected counts from the API's data, independently of the chart code:
    const expected = expectedMarks(r);
    expect(Object.keys(expected).sort()).toEqual([...names].sort());
    for (const n of names) expect(await marks(page, n), n).toEqual(expected[n]);
    // The fixture's own sizes agree (guards against an empty report passing the comparisons above).
    expect(r.bySubset.length).toBe(FIXTURE.subsets);
    expect(expected['soft-labels']!['rect mark']).toBe(FIXTURE.epochs * FIXTURE.subsets);

    // Bar values: each ECE bar's label carries the report's per-subset ECE.
    const eceShown = await subsetEceBars(page);
    expect(eceShown).toHaveLength(r.bySubset.length);
    for (const [i, v] of eceShown.entries()) expect(v).toBeCloseTo(r.bySubset[i]!.ece, 3);
    // Taller bar for larger ECE: heights follow the data's order.
    const heights = await page.$$eval('[data-chart="subset-ece"] path[aria-roledescription="bar"]', (ps) =>
      ps.map((p) => (p as SVGGraphicsElement).getBBox().height),
    );
    const order = (xs: number[]) => xs.map((_, i) => i).sort((a, b) => xs[a]! - xs[b]!);
    expect(order(heights)).toEqual(order(r.bySubset.map((s) => s.ece)));

    expect(await page.textContent('#summary')).toContain(r.final.ece.toFixed(4));
    await page.screenshot({ path: join(ARTIFACTS, 'experiment.png'), fullPage: true });
  });

  it('follows a running experiment live over SSE until its report arrives', async () => {
    const id = ids.live!;
    const events = page.waitForResponse((res) => res.url().endsWith(`/v1/experiments/${id}/events`));
    await page.goto(`${api.url}/ui/#/e/${id}`);
    await events; // headers are sent once the stream is subscribed
    await page.waitForSelector('#live-progress');
    expect(await page.textContent('#live-progress')).toContain('0/2 epochs');

    await api.deps.repos.experiments.transition(id, ['queued'], 'running');
    await api.deps.events.publish(id, { type: 'status', status: 'running' });
    await page.waitForSelector('h2 [data-status="running"]');
    const record = (epoch: number) => ({
      epoch,
      member: 0,
      trainLoss: 1.2 - 0.3 * epoch,
      trainAccuracy: 0.5 + 0.1 * epoch,
      learningRate: 0.05,
      validation: { accuracy: 0.5, nll: 1, ece: 0.1, brier: 0.4, confidence: 0.6, count: 128 },
      softLabels: { pTrue: [0.9, 0.95, 1], epsilon: [0.1, 0.05, 0], valConf: [0.8, 0.8, 0.8], valAcc: [0.7, 0.7, 0.7] },
      seconds: 1,
    });
    const run = await api.deps.repos.runs.ensureRun(id, 0, 3);
    for (const epoch of [1, 2]) {
      const rec = record(epoch);
      await api.deps.repos.runs.recordEpoch(run.id, { ...rec, valLoss: 1, valAccuracy: 0.5, valEce: 0.1, record: rec });
      await api.deps.events.publish(id, { type: 'epoch', member: 0, epoch, record: rec });
      await api.deps.events.publish(id, {
        type: 'log',
        id: String(10 + epoch),
        level: 'info',
        message: `epoch ${epoch} done`,
        at: new Date().toISOString(),
      });
    }
    await page.waitForFunction(
      () => document.querySelector('#live-progress')?.textContent?.includes('2/2 epochs'),
      undefined,
      { timeout: 15_000 },
    );
    await page.waitForSelector('[data-chart="epoch-curves"][data-rendered]');
    // Live curves: 2 epochs × (loss, accuracy, ECE) of one member; heatmap 2 epochs × 3 subsets.
    await page.waitForFunction(
      () => document.querySelectorAll('[data-chart="epoch-curves"] path[aria-roledescription="point"]').length === 6,
      undefined,
      { timeout: 15_000 },
    );
    await page.waitForFunction(
      () => document.querySelectorAll('[data-chart="soft-labels"] path[aria-roledescription="rect mark"]').length === 6,
      undefined,
      { timeout: 15_000 },
    );
    expect(await page.textContent('#logs')).toContain('epoch 2 done');
    await page.screenshot({ path: join(ARTIFACTS, 'live.png'), fullPage: true });

    const e = await client.get(id);
    await api.deps.repos.results.saveReport(id, sampleReport(e.spec));
    await api.deps.repos.experiments.transition(id, ['running'], 'succeeded');
    await api.deps.events.publish(id, { type: 'report' });
    await api.deps.events.publish(id, { type: 'status', status: 'succeeded' });
    await page.waitForSelector('h2 [data-status="succeeded"]');
    await page.waitForSelector('[data-chart="ood-entropy"][data-rendered]');
    expect(await page.textContent('#live-progress')).toContain('done');
  });

  it('cancels from the page (a cookie write with the CSRF token)', async () => {
    await page.goto(`${api.url}/ui/#/e/${ids.cancel}`);
    await page.waitForSelector('#info');
    await page.click('button:has-text("Cancel")');
    await page.waitForSelector('h2 [data-status="cancelled"]');
    expect((await client.get(ids.cancel!)).status).toBe('cancelled');
  });

  it('compares two experiments: a bar per (experiment, metric), a line per experiment', async () => {
    await page.goto(`${api.url}/ui/#/`);
    await page.waitForSelector('#experiments tbody tr');
    await page.check(`tr[data-id="${ids.report}"] input[type=checkbox]`);
    await page.check(`tr[data-id="${ids.second}"] input[type=checkbox]`);
    await page.click('#compare');
    await page.waitForSelector('[data-chart="compare-final"][data-rendered]');
    await page.waitForSelector('[data-chart="compare-subset-ece"][data-rendered]');
    expect(await page.$$eval('#compare-table tbody tr', (rows) => rows.length)).toBe(2);
    expect(await marks(page, 'compare-final')).toEqual({ bar: 2 * 4 });
    expect(await marks(page, 'compare-subset-ece')).toEqual({ 'line mark': 2, point: 2 * FIXTURE.subsets });
    await page.screenshot({ path: join(ARTIFACTS, 'compare.png'), fullPage: true });
    expect(consoleErrors).toEqual([]);
  });

  it('a study page lists its experiments and draws ECE vs R: a point per R, the values of the API’s report', async () => {
    const study = await client.submitStudy({
      name: 'r-sweep',
      base: smallSpec('base', { method: { kind: 'ar-adals' } }),
      vary: { 'method.subsets': [2, 4], seed: [1, 2] },
    });
    // Test ECE and mean shift ECE chosen per (R, seed): R = 2 → 0.10, 0.14 and 0.20, 0.30; R = 4 → 0.05, 0.07
    // and 0.10, 0.12. Means over seeds, by hand: clean 0.12 / 0.06, shift 0.25 / 0.11.
    const chosen: Record<string, [number, number]> = {
      '2,1': [0.1, 0.2],
      '2,2': [0.14, 0.3],
      '4,1': [0.05, 0.1],
      '4,2': [0.07, 0.12],
    };
    const detail = await client.getStudy(study.id);
    for (const e of detail.experiments) {
      const [ece, shift] = chosen[`${e.config['method.subsets']},${e.seed}`]!;
      await api.deps.repos.experiments.transition(e.id, ['queued'], 'running');
      const report = sampleReport((await client.get(e.id)).spec);
      report.final.ece = ece;
      report.shift!.rows = [{ corruption: 'contrast', severity: 1, accuracy: 0.5, ece: shift, nll: 1 }];
      await api.deps.repos.results.saveReport(e.id, report);
      await api.deps.repos.experiments.transition(e.id, ['running'], 'succeeded');
    }

    await page.goto(`${api.url}/ui/#/studies`);
    await page.waitForSelector(`#studies tr[data-id="${study.id}"]`);
    const row = await page.$$eval(`#studies tr[data-id="${study.id}"] td`, (tds) =>
      tds.map((t) => t.textContent?.trim() ?? ''),
    );
    expect(row.slice(0, 4)).toEqual(['r-sweep', 'succeeded', '4/4', 'method.subsets, seed']);
    await page.click(`#studies tr[data-id="${study.id}"] a`);
    await page.waitForSelector('[data-chart="ece-vs-r"][data-rendered]');
    expect(
      await page.$$eval('#study-experiments tbody tr', (rows) => rows.map((r) => r.getAttribute('data-id'))),
    ).toEqual(study.experiments);
    expect(await page.$$eval('#study-results tbody tr', (rows) => rows.length)).toBe(2);

    const points = await page.$$eval('[data-chart="ece-vs-r"] path[aria-roledescription="point"]', (ps) =>
      ps.map((p) => p.getAttribute('aria-label') ?? ''),
    );
    const shown = points.map((l) => ({
      R: Number(/robustness subsets R: (\d+)/.exec(l)![1]),
      set: /ECE on: ([a-z ]+)/.exec(l)![1]!,
      ece: Number(/ECE: ([\d.eE-]+)/.exec(l)![1]),
    }));
    // One point per R value on each of the two curves (clean test, shift).
    expect(shown.map((p) => `${p.set}@${p.R}`).sort()).toEqual(['clean test@2', 'clean test@4', 'shift@2', 'shift@4']);
    const report = (await client.getStudy(study.id)).report!;
    for (const p of shown) {
      const c = report.configurations.find((x) => x.config['method.subsets'] === p.R)!;
      const stat = c.metrics[p.set === 'clean test' ? 'test.ece' : 'shift.ece']!;
      expect(p.ece).toBeCloseTo(stat.mean, 6);
    }
    const byHand: Record<string, number> = {
      'clean test@2': 0.12,
      'clean test@4': 0.06,
      'shift@2': 0.25,
      'shift@4': 0.11,
    };
    for (const p of shown) expect(p.ece).toBeCloseTo(byHand[`${p.set}@${p.R}`]!, 6);
    // Error bars: one per point.
    expect(
      await page.$$eval(
        '[data-chart="ece-vs-r"] [aria-roledescription="rule mark"][role="graphics-symbol"]',
        (xs) => xs.length,
      ),
    ).toBe(4);
    await page.screenshot({ path: join(ARTIFACTS, 'study.png'), fullPage: true });
  });

  it('a study page notes a partial report, cancels the study, then deletes it (cookie writes with the CSRF token)', async () => {
    const study = await client.submitStudy({ name: 'stop-sweep', base: smallSpec('base'), vary: { seed: [1, 2, 3] } });
    const [first, second] = study.experiments as [string, string, string];
    await api.deps.repos.experiments.transition(first, ['queued'], 'running');
    await api.deps.repos.results.saveReport(first, sampleReport((await client.get(first)).spec));
    await api.deps.repos.experiments.transition(first, ['running'], 'succeeded');
    await api.deps.repos.experiments.transition(second, ['queued'], 'running');

    await page.goto(`${api.url}/ui/#/s/${study.id}`);
    await page.waitForSelector('#study-partial');
    expect(await page.textContent('#study-partial')).toContain('partial: 1 of 3 runs');
    expect(await page.$$eval('#study-results tbody tr', (rows) => rows.length)).toBe(1);
    expect(await page.$$eval('#study-actions button', (bs) => bs.map((b) => b.textContent))).toEqual(['Cancel']);
    await page.click('#study-actions button:has-text("Cancel")');
    await page.waitForSelector('h2 [data-status="cancelled"]');
    expect((await client.getStudy(study.id)).counts).toMatchObject({ succeeded: 1, cancelled: 2, running: 0 });
    expect(await page.$('#study-partial')).toBeNull();

    page.once('dialog', (d) => d.accept());
    await page.click('#study-actions button:has-text("Delete")');
    await page.waitForSelector('#studies');
    expect(page.url()).toMatch(/#\/studies$/);
    expect(await page.$(`#studies tr[data-id="${study.id}"]`)).toBeNull();
    expect(await api.deps.db.study.findUnique({ where: { id: study.id } })).toBeNull();
    expect(await api.deps.db.experiment.count({ where: { id: { in: study.experiments } } })).toBe(0);
    expect(consoleErrors).toEqual([]);
  });

  it('submits the example from the New experiment page; a real worker runs it; the page follows it to succeeded and draws every chart of its report', async () => {
    const before = new Set((await client.listAll({ max: 500 })).map((e) => e.id));
    await page.goto(`${api.url}/ui/#/`);
    await page.waitForSelector('#experiments tbody tr');
    consoleErrors.length = 0;
    await page.click('#nav-new');
    await page.waitForSelector('#spec');
    expect(await page.getAttribute('#nav-new', 'class')).toContain('current');
    const typed = JSON.parse(await page.inputValue('#spec'));
    // The example is the small AR-AdaLS run this test relies on: 2 robustness subsets, 2 epochs, 2 severities.
    expect(typed.method.kind).toBe('ar-adals');
    expect(typed.dataset.name).toBe('synthetic');

    const posted = page.waitForRequest((r) => r.method() === 'POST' && r.url() === `${api.url}/v1/experiments`);
    await page.click('#submit-spec');
    const request = await posted;
    // A cookie write like cancel's: the CSRF token of the session, never a key.
    expect(request.headers()['x-csrf-token']).toBe(await page.evaluate(() => sessionStorage.getItem('arcal.csrf')));
    expect(request.headers().authorization).toBeUndefined();
    await page.waitForURL(/#\/e\/[\w-]+$/);
    const id = /#\/e\/([\w-]+)$/.exec(page.url())![1]!;
    expect(before.has(id)).toBe(false);
    const stored = await client.get(id);
    expect(stored.name).toBe(typed.name);
    expect(stored.spec.method.kind).toBe('ar-adals');
    // Nothing consumes the queues yet: the page shows it queued, then follows it live while a worker runs it.
    await page.waitForSelector('h2 [data-status="queued"]');
    await page.evaluate(() => {
      const seen: string[] = [];
      (window as unknown as { seenStatuses: string[] }).seenStatuses = seen;
      new MutationObserver(() => {
        const s = document.querySelector('h2 [data-status]')?.getAttribute('data-status');
        if (s && seen.at(-1) !== s) seen.push(s);
      }).observe(document.getElementById('app')!, { subtree: true, childList: true });
    });

    const w = startWorker(workerEnvOf(env!, api.artifactDir), 'browser-worker');
    worker = w;
    await w.ready;
    try {
      await page.waitForSelector('h2 [data-status="succeeded"]', { timeout: 120_000 });
    } catch (err) {
      throw new Error(`${(err as Error).message}\nworker output:\n${w.output().slice(-4000)}`);
    }
    await page.waitForSelector('#charts[data-drawn="report"]', { timeout: 30_000 });
    // The same page, no reload: its observer saw the status move on to succeeded.
    const seen = await page.evaluate(() => (window as unknown as { seenStatuses: string[] }).seenStatuses);
    expect(seen.at(-1)).toBe('succeeded');
    expect(await page.textContent('#live-progress')).toContain('done');
    // The page loaded before any worker ran: the worker's log lines reached it over the live stream.
    const apiLogs = (await client.logs(id, { limit: 200 })).items;
    expect(apiLogs.length).toBeGreaterThan(0);
    const shownLogs = (await page.textContent('#logs')) ?? '';
    for (const l of apiLogs) expect(shownLogs).toContain(l.message);

    const e = await client.get(id);
    expect(e.status).toBe('succeeded');
    const r = e.report!;
    // The report has what the spec asks for (counted by hand from the spec): R = 2 subsets, 2 epochs of soft
    // labels for 2 subsets, 2 severities, 10 reliability bins, no OOD data set.
    expect(r.bySubset.length).toBe(2);
    expect(r.epochs.filter((x) => x.softLabels).map((x) => x.softLabels!.pTrue.length)).toEqual([2, 2]);
    expect(r.shift!.meanEceBySeverity.map((x) => x.severity)).toEqual([1, 3]);
    expect(r.final.reliability).toHaveLength(10);
    expect(r.ood).toBeUndefined();

    const expected = expectedMarks(r);
    const drawn = await page.$$eval('#charts [data-chart]', (els) => els.map((x) => x.getAttribute('data-chart')!));
    expect(drawn.sort()).toEqual(
      ['epoch-curves', 'soft-labels', 'reliability', 'subset-acc-conf', 'subset-ece', 'shift-severity'].sort(),
    );
    expect(Object.keys(expected).sort()).toEqual(drawn.sort());
    for (const n of drawn) expect(await marks(page, n), n).toEqual(expected[n]);
    const eceShown = await subsetEceBars(page);
    expect(eceShown).toHaveLength(2);
    for (const [i, v] of eceShown.entries()) expect(v).toBeCloseTo(r.bySubset[i]!.ece, 3);
    expect(await page.textContent('#summary')).toContain(r.final.ece.toFixed(4));
    expect(await page.textContent('#summary')).toContain(r.final.accuracy.toFixed(4));
    await page.screenshot({ path: join(ARTIFACTS, 'submitted.png'), fullPage: true });
    expect(consoleErrors).toEqual([]);
    await stopWorker();
  }, 180_000);

  it('New experiment: bad JSON is reported without a request; a bad spec shows the API’s problem paths, an over-budget one its estimate; neither creates an experiment', async () => {
    const count = async () => (await client.listAll({ max: 500 })).length;
    const before = await count();
    await page.goto(`${api.url}/ui/#/new`);
    await page.waitForSelector('#spec');
    const posts: string[] = [];
    const onRequest = (r: Request) => {
      if (r.method() === 'POST') posts.push(r.url());
    };
    page.on('request', onRequest);
    const answer = () =>
      page.waitForResponse((r) => r.url() === `${api.url}/v1/experiments` && r.request().method() === 'POST');

    await page.fill('#spec', '{ "name": "broken", ');
    await page.click('#submit-spec');
    await page.waitForSelector('#submit-error');
    expect(await page.textContent('#submit-error')).toContain('not valid JSON');
    expect(posts).toEqual([]);

    // Three mistakes: an empty name, zero epochs, an unknown method.
    const small = smallSpec('x');
    const bad = { ...small, name: '', training: { ...small.training, epochs: 0 }, method: { kind: 'no-such' } };
    await page.fill('#spec', JSON.stringify(bad, null, 2));
    const res = answer();
    await page.click('#submit-spec');
    const problem = await (await res).json();
    expect((await res).status()).toBe(400);
    await page.waitForSelector('#problems li');
    const shown = await page.$$eval('#problems li', (lis) =>
      lis.map((li) => ({ path: li.getAttribute('data-path'), text: li.textContent ?? '' })),
    );
    expect(shown.map((p) => p.path).sort()).toEqual(['method.kind', 'name', 'training.epochs']);
    expect(shown.map((p) => p.path)).toEqual(problem.details.map((d: { path: string }) => d.path));
    for (const [i, d] of (problem.details as Array<{ path: string; message: string }>).entries())
      expect(shown[i]!.text).toBe(`${d.path} ${d.message}`);
    expect(await page.textContent('#submit-error')).toContain('INVALID_SPEC');

    // Valid but over the default budget of 24 h of CPU: 8 ResNets × 10,000 epochs (about 1.3 days at the
    // default ARCAL_WORKER_FLOPS).
    const big = {
      ...smallSpec('too-big'),
      dataset: { name: 'synthetic', classes: 10, shape: [32, 32, 3], trainLimit: 1024 },
      model: { arch: 'resnet' },
      training: { epochs: 10_000, batchSize: 64, optimizer: 'sgd', learningRate: 0.05 },
      ensemble: { members: 8 },
    };
    await page.fill('#spec', JSON.stringify(big));
    const res2 = answer();
    await page.click('#submit-spec');
    expect((await res2).status()).toBe(422);
    const over = await (await res2).json();
    await page.waitForSelector('#estimate');
    const est = await page.$$eval('#estimate tr', (trs) =>
      Object.fromEntries(trs.map((tr) => [tr.querySelector('th')!.textContent, tr.querySelector('td')!.textContent])),
    );
    expect(est['budget (CPU-seconds)']).toBe('86400');
    expect(est['estimated CPU-seconds']).toBe(String(Math.round(over.estimate.seconds)));
    expect(over.estimate.seconds).toBeGreaterThan(86_400);
    expect(await page.textContent('#submit-error')).toContain('BUDGET_EXCEEDED');

    expect(posts).toEqual([`${api.url}/v1/experiments`, `${api.url}/v1/experiments`]);
    expect(page.url()).toMatch(/#\/new$/);
    page.off('request', onRequest);
    expect(await count()).toBe(before);
    await page.screenshot({ path: join(ARTIFACTS, 'new-invalid.png'), fullPage: true });
  });

  it('queue admin: /admin/queues shows the four queues when signed in, and refuses without credentials', async () => {
    await page.goto(`${api.url}/admin/queues`);
    for (const q of ['attack', 'train', 'evaluate', 'orchestrate'])
      await page.waitForSelector(`text=${q}`, { timeout: 20_000 });
    await page.screenshot({ path: join(ARTIFACTS, 'queues.png'), fullPage: true });
    const stranger = await browser.newContext();
    try {
      const p = await stranger.newPage();
      const res = await p.goto(`${api.url}/admin/queues`);
      expect(res?.status()).toBe(401);
      expect((await res!.json()).code).toBe('UNAUTHORIZED');
    } finally {
      await stranger.close();
    }
  });

  it('signs out: the session row is gone, the sign-in form returns, and the old cookie gets 401', async () => {
    await page.goto(`${api.url}/ui/#/`);
    await page.waitForSelector('#experiments tbody tr');
    const session = (await page.context().cookies()).find((c) => c.name === 'arcal_session')!;
    expect(session).toBeDefined();
    const tokenHash = createHash('sha256').update(session.value).digest('hex');
    expect(await api.deps.db.session.count({ where: { tokenHash } })).toBe(1);
    expect(await page.isVisible('#signout')).toBe(true);
    await page.click('#signout');
    await page.waitForSelector('#signin');
    expect(await page.textContent('#signin-status')).toContain('Signed out');
    expect(await page.isVisible('#signout')).toBe(false);
    expect(await api.deps.db.session.count({ where: { tokenHash } })).toBe(0);
    expect((await page.context().cookies()).find((c) => c.name === 'arcal_session')).toBeUndefined();
    const old = await fetch(`${api.url}/v1/experiments`, { headers: { cookie: `arcal_session=${session.value}` } });
    expect(old.status).toBe(401);
    // A reload asks for a key again.
    await page.reload();
    await page.waitForSelector('#signin');
  });
});
