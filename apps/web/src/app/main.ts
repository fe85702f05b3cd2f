/**
 * The arcal dashboard (served by the API at /ui). Hash routes: #/ list, #/new submit an experiment, #/e/<id> one
 * experiment, #/compare/<id>,<id>… several, #/studies the studies, #/s/<id> one study. Signs in by trading an API key
 * for the HttpOnly session cookie: the key lives only in the sign-in handler; the CSRF token for writes stays
 * in sessionStorage (this tab only). Sign-out deletes the session on the server and forgets the token.
 */
import {
  ArcalClient,
  type ExperimentDetail,
  type ExperimentStatus,
  type ExperimentView,
  isApiError,
  type MetricRow,
  progressOf,
  type StudyDetail,
  type StudyView,
} from '@arcal/client';
import embed from 'vega-embed';
import {
  type Chart,
  compareCharts,
  epochCurvesSpec,
  epochPointsFromMetrics,
  reportCharts,
  softLabelCells,
  softLabelHeatmapSpec,
  studyCharts,
} from '../charts/specs.ts';
import { age, clear, fmt, h } from './dom.ts';

const CSRF_KEY = 'arcal.csrf';
const client = new ArcalClient({ baseUrl: '', csrfToken: sessionStorage.getItem(CSRF_KEY) ?? undefined });
const root = document.getElementById('app')!;
const STATUSES: ExperimentStatus[] = ['queued', 'running', 'succeeded', 'failed', 'cancelling', 'cancelled'];

/** Aborts the live stream of the page being left. */
let leave = new AbortController();

const signOutButton = document.getElementById('signout') as HTMLButtonElement;

function route(): void {
  leave.abort();
  leave = new AbortController();
  const hash = location.hash.replace(/^#/, '') || '/';
  const m = /^\/e\/([\w-]+)$/.exec(hash);
  const c = /^\/compare\/([\w,-]+)$/.exec(hash);
  const st = /^\/s\/([\w-]+)$/.exec(hash);
  const page = m
    ? experimentPage(m[1]!)
    : c
      ? comparePage(c[1]!.split(',').filter(Boolean))
      : st
        ? studyPage(st[1]!)
        : hash === '/studies'
          ? studiesPage()
          : hash === '/new'
            ? newExperimentPage()
            : listPage();
  const studies = Boolean(st) || hash === '/studies';
  const submitting = hash === '/new';
  document.getElementById('nav-studies')?.classList.toggle('current', studies);
  document.getElementById('nav-new')?.classList.toggle('current', submitting);
  document.getElementById('nav-experiments')?.classList.toggle('current', !studies && !submitting);
  // A page that loaded was read with a live session: offer to end it.
  page.then(() => {
    signOutButton.hidden = false;
  }, showError);
}

signOutButton.addEventListener('click', async () => {
  leave.abort();
  try {
    await client.deleteSession();
  } catch (e) {
    if (!(isApiError(e) && e.status === 401)) {
      showError(e);
      return;
    }
  }
  sessionStorage.removeItem(CSRF_KEY);
  client.setCsrfToken(undefined);
  document.getElementById('project')!.textContent = '';
  signInPage('Signed out. Sign in again with an API key.');
});

function showError(e: unknown): void {
  if (isApiError(e) && e.code === 'UNAUTHORIZED') {
    signInPage();
    return;
  }
  if ((e as Error)?.name === 'AbortError') return;
  clear(root);
  root.append(
    h('div', { class: 'error', role: 'alert' }, isApiError(e) ? e.describe() : String((e as Error)?.message ?? e)),
    h('p', {}, h('a', { href: '#/' }, 'back to the list')),
  );
}

function signInPage(message?: string): void {
  clear(root);
  signOutButton.hidden = true;
  const input = h('input', {
    type: 'password',
    name: 'key',
    id: 'api-key',
    autocomplete: 'off',
    required: true,
    placeholder: 'API key',
  });
  const status = h(
    'p',
    { class: 'muted', id: 'signin-status' },
    message ?? 'Sign in with an API key (arcal keys create --project <name>).',
  );
  const form = h(
    'form',
    { id: 'signin', class: 'card' },
    h('h2', {}, 'Sign in'),
    h('label', { for: 'api-key' }, 'API key'),
    input,
    h('button', { type: 'submit' }, 'Sign in'),
    status,
  );
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const key = input.value.trim();
    input.value = '';
    try {
      const s = await client.createSession(key);
      sessionStorage.setItem(CSRF_KEY, s.csrfToken);
      document.getElementById('project')!.textContent = `project ${s.project}`;
      if (location.hash === '' || location.hash === '#/') route();
      else location.hash = '#/';
    } catch (e) {
      status.textContent = isApiError(e) ? e.describe() : String(e);
      status.className = 'error';
    }
  });
  root.append(form);
  input.focus();
}

function statusBadge(s: string) {
  return h('span', { class: `badge status-${s}`, 'data-status': s }, s);
}

function progressBar(fraction: number, label: string) {
  const pct = Math.round(fraction * 100);
  return h(
    'div',
    {
      class: 'progress',
      role: 'progressbar',
      'aria-valuenow': pct,
      'aria-valuemin': 0,
      'aria-valuemax': 100,
      title: label,
    },
    h('div', { class: 'fill', style: `width:${pct}%` }),
    h('span', {}, label),
  );
}

// ---------------------------------------------------------------- list

/**
 * How often the list re-reads statuses and progress while some experiment is unfinished, and for how many
 * running experiments it reads metrics: at most (1 + 8) requests per 10 s stays well inside the API's
 * default rate limit of 120 requests per minute per key.
 */
const LIST_REFRESH_MS = 10_000;
const PROGRESS_READS = 8;

/** Experiments with their progress; progress of running ones comes from their per-epoch metrics (a few requests). */
async function loadList(): Promise<{ items: ExperimentView[]; progress: Map<string, ReturnType<typeof progressOf>> }> {
  const items = await client.listAll({ max: 500 });
  const progress = new Map<string, ReturnType<typeof progressOf>>();
  await Promise.all(
    items
      .filter((e) => e.status === 'running' || e.status === 'cancelling')
      .slice(0, PROGRESS_READS)
      .map(async (e) => progress.set(e.id, progressOf(e, (await client.metrics(e.id)).epochs))),
  );
  for (const e of items) if (!progress.has(e.id)) progress.set(e.id, progressOf(e, []));
  return { items, progress };
}

async function listPage(): Promise<void> {
  const signal = leave.signal;
  let { items, progress } = await loadList();

  clear(root);
  const search = h('input', { type: 'search', id: 'search', placeholder: 'search name, id, method, dataset' });
  const statusSel = h(
    'select',
    { id: 'status-filter' },
    h('option', { value: '' }, 'any status'),
    ...STATUSES.map((s) => h('option', { value: s }, s)),
  );
  const compareBtn = h('button', { id: 'compare', disabled: true }, 'Compare selected');
  const tbody = h('tbody');
  const selected = new Set<string>();
  const table = h(
    'table',
    { id: 'experiments' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', {}, ''),
        h('th', {}, 'name'),
        h('th', {}, 'status'),
        h('th', {}, 'method'),
        h('th', {}, 'dataset'),
        h('th', {}, 'progress'),
        h('th', {}, 'age'),
      ),
    ),
    tbody,
  );
  const count = h('p', { class: 'muted', id: 'count' });

  const render = () => {
    clear(tbody);
    const q = search.value.trim().toLowerCase();
    const st = statusSel.value;
    const shown = items.filter((e) => {
      if (st && e.status !== st) return false;
      if (!q) return true;
      return [e.name, e.id, e.spec?.method?.kind, e.spec?.dataset?.name].some((v) =>
        String(v ?? '')
          .toLowerCase()
          .includes(q),
      );
    });
    for (const e of shown) {
      const p = progress.get(e.id)!;
      const box = h('input', { type: 'checkbox', 'aria-label': `select ${e.name}`, checked: selected.has(e.id) });
      box.addEventListener('change', () => {
        if (box.checked) selected.add(e.id);
        else selected.delete(e.id);
        compareBtn.disabled = selected.size < 2;
      });
      tbody.append(
        h(
          'tr',
          { 'data-id': e.id },
          h('td', {}, box),
          h('td', {}, h('a', { href: `#/e/${e.id}` }, e.name)),
          h('td', {}, statusBadge(e.status)),
          h('td', {}, String(e.spec?.method?.kind ?? '—')),
          h('td', {}, String(e.spec?.dataset?.name ?? '—')),
          h('td', {}, progressBar(p.fraction, e.status === 'succeeded' ? 'done' : `${p.done}/${p.total} epochs`)),
          h('td', { title: e.createdAt }, age(e.createdAt)),
        ),
      );
    }
    count.textContent = `${shown.length} of ${items.length} experiments`;
  };
  search.addEventListener('input', render);
  statusSel.addEventListener('change', render);
  compareBtn.addEventListener('click', () => {
    location.hash = `#/compare/${[...selected].join(',')}`;
  });
  root.append(h('h2', {}, 'Experiments'), h('div', { class: 'toolbar' }, search, statusSel, compareBtn), count, table);
  render();
  // Keep statuses and progress current while something is unfinished; only the rows are redrawn, so the
  // search text, filter and selection stay.
  const unfinished = () => items.some((e) => !['succeeded', 'failed', 'cancelled'].includes(e.status));
  const timer = setInterval(async () => {
    if (signal.aborted) return clearInterval(timer);
    if (!unfinished()) return;
    try {
      ({ items, progress } = await loadList());
      if (!signal.aborted) render();
    } catch (e) {
      clearInterval(timer);
      if (!signal.aborted) showError(e);
    }
  }, LIST_REFRESH_MS);
  signal.addEventListener('abort', () => clearInterval(timer), { once: true });
}

// ---------------------------------------------------------------- new experiment

/**
 * The spec the form starts with: AR-AdaLS (R = 2, ranked by FMN) on the built-in synthetic data, an MLP, two
 * epochs, and one corruption at two severities; a worker finishes it in seconds and it fills every figure but
 * the OOD histograms (those need a real out-of-distribution dataset).
 */
const STARTER_SPEC = {
  name: 'dashboard-demo',
  seed: 7,
  dataset: { name: 'synthetic', classes: 4, shape: [8, 8, 1], trainLimit: 128, validationSize: 64, testLimit: 64 },
  model: { arch: 'mlp' },
  training: { epochs: 2, batchSize: 32, optimizer: 'sgd', learningRate: 0.05 },
  method: {
    kind: 'ar-adals',
    subsets: 2,
    alpha: 1,
    robustness: { attack: 'fmn-l2', params: { steps: 10, batchSize: 32 } },
  },
  evaluation: { bins: 10, robustnessSubsets: 2, corruptions: ['gaussian_noise'], severities: [1, 3] },
};

/** What was last typed into the form (kept in memory only, so leaving and coming back keeps the edit). */
let draft: string | undefined;

/** The 422 answer's estimate, readably: seconds against the budget, and what they were computed from. */
function estimateTable(est: Record<string, unknown>) {
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
  const seconds = num(est.seconds);
  const budget = num(est.budgetSeconds);
  const flops = (est.flops ?? {}) as Record<string, unknown>;
  const examples = (est.examples ?? {}) as Record<string, unknown>;
  const rows: Array<[string, string]> = [
    ['estimated CPU-seconds', seconds === undefined ? '—' : String(Math.round(seconds))],
    ['budget (CPU-seconds)', budget === undefined ? '—' : String(Math.round(budget))],
  ];
  if (seconds !== undefined && budget) rows.push(['over the budget by', `${(seconds / budget).toFixed(1)}×`]);
  if (num(flops.total) !== undefined) rows.push(['FLOPs in all', (flops.total as number).toExponential(2)]);
  const ex = ['train', 'validation', 'test'].filter((k) => num(examples[k]) !== undefined);
  if (ex.length) rows.push(['examples', ex.map((k) => `${k} ${examples[k]}`).join(', ')]);
  return h(
    'table',
    { class: 'summary', id: 'estimate' },
    h('tbody', {}, ...rows.map(([k, v]) => h('tr', {}, h('th', {}, k), h('td', {}, v)))),
  );
}

async function newExperimentPage(): Promise<void> {
  // One cheap read, so that an expired session asks for a key before anything is typed.
  await client.list({ limit: 1 });
  clear(root);
  const text = h('textarea', {
    id: 'spec',
    name: 'spec',
    rows: 26,
    cols: 90,
    spellcheck: 'false',
    'aria-label': 'experiment spec (JSON)',
  });
  text.value = draft ?? JSON.stringify(STARTER_SPEC, null, 2);
  text.addEventListener('input', () => {
    draft = text.value;
  });
  const submit = h('button', { type: 'submit', id: 'submit-spec' }, 'Submit');
  const reset = h('button', { type: 'button', id: 'reset-spec' }, 'Start again from the example');
  const outcome = h('div', { id: 'submit-outcome', 'aria-live': 'polite' });
  const form = h(
    'form',
    { id: 'new-experiment' },
    h('label', { for: 'spec' }, 'Experiment spec (JSON; the same document arcal submit and arcal run take)'),
    h('div', {}, text),
    h('div', { class: 'toolbar' }, submit, reset),
    outcome,
  );
  const fail = (message: string, ...more: Node[]) => {
    clear(outcome);
    outcome.append(h('div', { class: 'error', role: 'alert', id: 'submit-error' }, message), ...more);
  };
  reset.addEventListener('click', () => {
    draft = undefined;
    text.value = JSON.stringify(STARTER_SPEC, null, 2);
    clear(outcome);
  });
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    let spec: unknown;
    try {
      spec = JSON.parse(text.value);
    } catch (e) {
      fail(`The spec is not valid JSON: ${(e as Error).message}. Nothing was submitted.`);
      return;
    }
    submit.disabled = true;
    clear(outcome);
    outcome.append(h('p', { class: 'muted' }, 'Submitting…'));
    try {
      const s = await client.submit(spec);
      draft = undefined;
      location.hash = `#/e/${s.id}`;
    } catch (e) {
      submit.disabled = false;
      if (!isApiError(e)) {
        fail(String((e as Error)?.message ?? e));
      } else if (e.code === 'UNAUTHORIZED') {
        showError(e);
      } else if (e.status === 400 && e.details.length) {
        fail(
          e.describe(),
          h(
            'ul',
            { id: 'problems' },
            ...e.details.map((d) =>
              h('li', { 'data-path': d.path }, h('code', {}, d.path || '(the spec)'), ` ${d.message}`),
            ),
          ),
        );
      } else if (e.status === 422 && e.body.estimate && typeof e.body.estimate === 'object') {
        fail(e.describe(), estimateTable(e.body.estimate as Record<string, unknown>));
      } else {
        fail(e.describe());
      }
    }
  });
  root.append(
    h('p', {}, h('a', { href: '#/' }, '← experiments')),
    h('h2', {}, 'New experiment'),
    h(
      'p',
      { class: 'muted' },
      'The example below is a small AR-AdaLS run on synthetic data that a worker finishes in seconds; edit it or paste your own spec. The service checks it and answers with every problem it finds, or with its cost estimate when that is over the budget.',
    ),
    form,
  );
}

// ---------------------------------------------------------------- charts

async function drawCharts(container: HTMLElement, charts: Chart[]): Promise<void> {
  await Promise.all(
    charts.map(async (c) => {
      let section = container.querySelector<HTMLElement>(`[data-chart="${c.name}"]`);
      if (!section) {
        // The spec carries the visible title (the same one the exported figures show).
        section = h(
          'section',
          { class: 'chart', 'data-chart': c.name, 'aria-label': c.title },
          h('div', { class: 'vis' }),
        );
        container.append(section);
      }
      section.removeAttribute('data-rendered');
      section.setAttribute('aria-label', c.title);
      const target = section.querySelector<HTMLElement>('.vis')!;
      const prior = (target as { _view?: { finalize(): void } })._view;
      prior?.finalize();
      const result = await embed(target, c.spec as never, { renderer: 'svg', actions: false });
      (target as { _view?: unknown })._view = result.view;
      section.setAttribute('data-rendered', '1');
    }),
  );
}

/** Curves and soft-label heatmap from live per-epoch metrics (before a report exists). */
function liveCharts(rows: MetricRow[]): Chart[] {
  const out: Chart[] = [];
  const points = epochPointsFromMetrics(rows);
  if (points.length) out.push({ name: 'epoch-curves', title: 'Training curves (live)', spec: epochCurvesSpec(points) });
  const cells = softLabelCells(rows.filter((r) => r.member >= 0));
  if (cells.length)
    out.push({
      name: 'soft-labels',
      title: 'Soft labels per robustness subset (live)',
      spec: softLabelHeatmapSpec(cells),
    });
  return out;
}

// ---------------------------------------------------------------- one experiment

function summary(e: ExperimentDetail) {
  const r = e.report;
  const rows: Array<[string, string]> = [
    ['id', e.id],
    ['method', String(e.spec?.method?.kind ?? '—')],
    ['dataset', String(e.spec?.dataset?.name ?? '—')],
    ['model', String(e.spec?.model?.arch ?? '—')],
    ['members', String(e.spec?.ensemble?.members ?? 1)],
    ['attempt', String(e.attempt)],
    ['created', `${e.createdAt} (${age(e.createdAt)})`],
  ];
  if (e.error) rows.push(['error', `${e.error.code ?? ''} ${e.error.message ?? ''}`.trim()]);
  if (r) {
    rows.push(
      ['test accuracy', fmt(r.final.accuracy)],
      ['test ECE', fmt(r.final.ece)],
      ['test NLL', fmt(r.final.nll)],
      ['test Brier', fmt(r.final.brier)],
    );
    if (r.ood)
      rows.push(['OOD AUROC (max prob / entropy)', `${fmt(r.ood.aurocMaxProb, 3)} / ${fmt(r.ood.aurocEntropy, 3)}`]);
  }
  return h(
    'table',
    { class: 'summary', id: 'summary' },
    h('tbody', {}, ...rows.map(([k, v]) => h('tr', {}, h('th', {}, k), h('td', {}, v)))),
  );
}

async function experimentPage(id: string): Promise<void> {
  const signal = leave.signal;
  let e = await client.get(id);
  let rows = (await client.metrics(id)).epochs;
  clear(root);
  const title = h('h2', {}, e.name, ' ', statusBadge(e.status));
  const progressBox = h('div', { id: 'live-progress' });
  const actions = h('div', { class: 'toolbar' });
  const info = h('div', { id: 'info' });
  const charts = h('div', { class: 'charts', id: 'charts' });
  const logs = h('pre', { class: 'logs', id: 'logs' });
  const notes = h('ul', { class: 'notes', id: 'notes' });
  root.append(
    h('p', {}, h('a', { href: '#/' }, '← experiments')),
    title,
    progressBox,
    actions,
    info,
    charts,
    notes,
    h('h3', {}, 'Logs'),
    logs,
  );

  const renderHead = () => {
    clear(title);
    title.append(e.name, ' ', statusBadge(e.status));
    const p = progressOf(e, rows);
    clear(progressBox);
    progressBox.append(progressBar(p.fraction, e.status === 'succeeded' ? 'done' : `${p.done}/${p.total} epochs`));
    clear(actions);
    const act = (label: string, fn: () => Promise<ExperimentView>) =>
      h(
        'button',
        {
          onclick: (async () => {
            try {
              await fn();
              route();
            } catch (err) {
              showError(err);
            }
          }) as EventListener,
        },
        label,
      );
    if (['queued', 'running'].includes(e.status)) actions.append(act('Cancel', () => client.cancel(id)));
    if (['failed', 'cancelled'].includes(e.status)) actions.append(act('Retry', () => client.retry(id)));
    clear(info);
    info.append(summary(e));
    clear(notes);
    for (const n of e.report?.notes ?? []) notes.append(h('li', {}, n));
  };
  // Draws run one after another (two embeds into one chart would race); once an attempt's report is drawn it
  // stays, and #charts says which data it shows (data-drawn="live" or "report") when a draw has finished.
  let drawing: Promise<void> = Promise.resolve();
  let reportOf: number | undefined;
  const renderCharts = () => {
    const next = drawing.then(async () => {
      if (signal.aborted) return;
      if (e.report && reportOf === e.attempt) return;
      const report = e.report;
      reportOf = report ? e.attempt : undefined;
      charts.removeAttribute('data-drawn');
      await drawCharts(charts, report ? reportCharts(report) : liveCharts(rows));
      charts.setAttribute('data-drawn', report ? 'report' : 'live');
    });
    drawing = next.catch(() => undefined);
    return next;
  };

  const logPage = await client.logs(id, { limit: 200 });
  for (const l of logPage.items) logs.append(`${l.at} ${l.level} ${l.message}\n`);
  renderHead();
  await renderCharts();
  if (['succeeded', 'failed', 'cancelled'].includes(e.status)) return;

  // Live: epochs redraw the curves (at most every 2 s), status changes and the report reload the page data.
  let pending: ReturnType<typeof setTimeout> | undefined;
  const redraw = () => {
    if (pending !== undefined) return;
    pending = setTimeout(() => {
      pending = undefined;
      if (signal.aborted) return;
      renderHead();
      renderCharts().catch(showError);
    }, 2000);
  };
  (async () => {
    for await (const ev of client.events(id, { signal })) {
      if (ev.event === 'snapshot') {
        e = { ...e, ...ev.data.experiment };
        rows = (await client.metrics(id)).epochs;
        renderHead();
      } else if (ev.event === 'epoch' && typeof ev.data.member === 'number') {
        const r = ev.data.record ?? {};
        rows = [
          ...rows.filter((x) => !(x.member === ev.data.member && x.epoch === ev.data.epoch)),
          {
            member: ev.data.member,
            epoch: ev.data.epoch,
            trainLoss: r.trainLoss,
            trainAccuracy: r.trainAccuracy,
            learningRate: r.learningRate,
            valLoss: r.validation?.nll ?? null,
            valAccuracy: r.validation?.accuracy ?? null,
            valEce: r.validation?.ece ?? null,
            softLabels: r.softLabels ?? null,
            seconds: r.seconds,
          },
        ];
        redraw();
      } else if (ev.event === 'log') {
        logs.append(`${ev.data.at} ${ev.data.level} ${ev.data.message}\n`);
      } else if (ev.event === 'status' || ev.event === 'report' || ev.event === 'end') {
        e = await client.get(id);
        renderHead();
        if (ev.event !== 'status' || e.report) await renderCharts();
      }
    }
  })().catch((err) => {
    if (!signal.aborted) showError(err);
  });
}

// ---------------------------------------------------------------- studies

const FINISHED = ['succeeded', 'failed', 'cancelled'];
/** How often an unfinished study's page re-reads it (one request each time). */
const STUDY_REFRESH_MS = 5_000;
const finishedOf = (s: Pick<StudyView, 'counts'>) => s.counts.succeeded + s.counts.failed + s.counts.cancelled;

/** `mean ± std` of an aggregated metric, scaled (×100 for accuracy and ECE, in %); the mean alone for one seed. */
function stat(v: { mean: number; std: number | null } | undefined, scale = 100, digits = 2): string {
  if (!v || !Number.isFinite(v.mean)) return '—';
  const m = (v.mean * scale).toFixed(digits);
  return v.std === null ? m : `${m} ± ${(v.std * scale).toFixed(digits)}`;
}

const valueText = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v));

async function studiesPage(): Promise<void> {
  const signal = leave.signal;
  let items = await client.listAllStudies({ max: 200 });
  clear(root);
  const tbody = h('tbody');
  const count = h('p', { class: 'muted', id: 'study-count' });
  const table = h(
    'table',
    { id: 'studies' },
    h(
      'thead',
      {},
      h('tr', {}, ...['name', 'status', 'experiments finished', 'varied', 'age'].map((c) => h('th', {}, c))),
    ),
    tbody,
  );
  const render = () => {
    clear(tbody);
    for (const s of items) {
      const done = finishedOf(s);
      tbody.append(
        h(
          'tr',
          { 'data-id': s.id },
          h('td', {}, h('a', { href: `#/s/${s.id}` }, s.name)),
          h('td', {}, statusBadge(s.status)),
          h('td', {}, progressBar(s.counts.total ? done / s.counts.total : 0, `${done}/${s.counts.total}`)),
          h('td', {}, s.varied.join(', ') || '—'),
          h('td', { title: s.createdAt }, age(s.createdAt)),
        ),
      );
    }
    count.textContent = `${items.length} studies`;
  };
  root.append(
    h('h2', {}, 'Studies'),
    h(
      'p',
      { class: 'muted' },
      'A study runs one experiment per grid point: arcal study <file> --remote, or POST /v1/studies.',
    ),
    count,
    table,
  );
  render();
  const timer = setInterval(async () => {
    if (signal.aborted) return clearInterval(timer);
    if (items.every((s) => FINISHED.includes(s.status))) return;
    try {
      items = await client.listAllStudies({ max: 200 });
      if (!signal.aborted) render();
    } catch (e) {
      clearInterval(timer);
      if (!signal.aborted) showError(e);
    }
  }, LIST_REFRESH_MS);
  signal.addEventListener('abort', () => clearInterval(timer), { once: true });
}

/** Mean ± std over seeds per configuration (the aggregation `arcal study` prints), ★ for the selection. */
function studyResults(s: StudyDetail) {
  const r = s.report;
  if (!r)
    return h(
      'p',
      { class: 'muted', id: 'study-results' },
      `The aggregated report appears once an experiment has succeeded (${finishedOf(s)} of ${s.counts.total} finished so far).`,
    );
  const paths = [...new Set(r.configurations.flatMap((c) => Object.keys(c.config)))];
  const hasShift = r.configurations.some((c) => c.metrics['shift.ece']);
  const chosen = new Set(r.selection?.groups.map((g) => g.best.configKey) ?? []);
  const head = [
    ...paths,
    'seeds',
    'test acc (%)',
    'test ECE (%)',
    'val ECE (%)',
    ...(hasShift ? ['shift ECE (%)'] : []),
    ...(r.selection ? ['selected'] : []),
  ];
  const rows = r.configurations.map((c) =>
    h(
      'tr',
      { 'data-config': c.configKey, class: chosen.has(c.configKey) ? 'selected-row' : undefined },
      ...paths.map((p) => h('td', {}, p in c.config ? valueText(c.config[p]) : '')),
      h('td', {}, String(c.seeds.length)),
      h('td', {}, stat(c.metrics['test.accuracy'])),
      h('td', {}, stat(c.metrics['test.ece'])),
      h('td', {}, stat(c.metrics['validation.ece'])),
      ...(hasShift ? [h('td', {}, stat(c.metrics['shift.ece']))] : []),
      ...(r.selection ? [h('td', {}, chosen.has(c.configKey) ? '★' : '')] : []),
    ),
  );
  const out = h('div', { id: 'study-results' });
  if (r.partial)
    out.append(
      h(
        'p',
        { class: 'partial', id: 'study-partial' },
        `partial: ${r.included} of ${r.expected} runs — the numbers and the selection can change as more finish.`,
      ),
    );
  out.append(h('table', {}, h('thead', {}, h('tr', {}, ...head.map((c) => h('th', {}, c)))), h('tbody', {}, ...rows)));
  if (r.selection)
    out.append(
      h(
        'p',
        { class: 'muted' },
        `★ ${r.selection.higherIsBetter ? 'highest' : 'lowest'} mean ${r.selection.metric}${r.selection.by ? ` over ${r.selection.by}` : ''}.`,
      ),
    );
  if (r.missing.length)
    out.append(
      h(
        'p',
        { class: 'muted' },
        `Not aggregated (${r.partial ? 'not finished or did not succeed' : 'did not succeed'}): ${r.missing.join(', ')}.`,
      ),
    );
  return out;
}

async function studyPage(id: string): Promise<void> {
  const signal = leave.signal;
  let s = await client.getStudy(id);
  clear(root);
  const title = h('h2');
  const progressBox = h('div', { id: 'study-progress' });
  const actions = h('div', { class: 'toolbar', id: 'study-actions' });
  const info = h('div', { id: 'info' });
  const results = h('div');
  const charts = h('div', { class: 'charts', id: 'charts' });
  const experiments = h('div');
  root.append(
    h('p', {}, h('a', { href: '#/studies' }, '← studies')),
    title,
    progressBox,
    actions,
    info,
    h('h3', {}, 'Results (mean ± std over seeds)'),
    results,
    charts,
    h('h3', {}, 'Experiments'),
    experiments,
  );
  // The report is redrawn when more experiments are in it (a partial report grows).
  let drawnWith = 0;
  const cancel = () =>
    h(
      'button',
      {
        onclick: (async () => {
          try {
            await client.cancelStudy(id);
            route();
          } catch (err) {
            showError(err);
          }
        }) as EventListener,
      },
      'Cancel',
    );
  const render = async () => {
    clear(title);
    title.append(s.name, ' ', statusBadge(s.status));
    const done = finishedOf(s);
    clear(progressBox);
    progressBox.append(
      progressBar(s.counts.total ? done / s.counts.total : 0, `${done}/${s.counts.total} experiments finished`),
    );
    clear(actions);
    if (done < s.counts.total) actions.append(cancel());
    else
      actions.append(
        h(
          'button',
          {
            onclick: (async () => {
              if (!confirm(`Delete study ${s.name} and its ${s.counts.total} experiments with their results?`)) return;
              try {
                await client.deleteStudy(id);
                location.hash = '#/studies';
              } catch (err) {
                showError(err);
              }
            }) as EventListener,
          },
          'Delete',
        ),
      );
    const rows: Array<[string, string]> = [
      ['id', s.id],
      ['varied', s.varied.join(', ') || '—'],
      [
        'experiments',
        `${s.counts.total}: ${s.counts.succeeded} succeeded, ${s.counts.failed} failed, ${s.counts.cancelled} cancelled, ${s.counts.running} running, ${s.counts.queued} queued`,
      ],
      ['estimate', `${Math.round(s.estimate.seconds)} CPU-seconds in all`],
      ['created', `${s.createdAt} (${age(s.createdAt)})`],
    ];
    clear(info);
    info.append(
      h(
        'table',
        { class: 'summary', id: 'summary' },
        h('tbody', {}, ...rows.map(([k, v]) => h('tr', {}, h('th', {}, k), h('td', {}, v)))),
      ),
    );
    clear(results);
    results.append(studyResults(s));
    clear(experiments);
    experiments.append(
      h(
        'table',
        { id: 'study-experiments' },
        h('thead', {}, h('tr', {}, ...['name', 'status', 'seed', 'varied values'].map((c) => h('th', {}, c)))),
        h(
          'tbody',
          {},
          ...s.experiments.map((e) =>
            h(
              'tr',
              { 'data-id': e.id },
              h('td', {}, h('a', { href: `#/e/${e.id}` }, e.name)),
              h('td', {}, statusBadge(e.status)),
              h('td', {}, String(e.seed)),
              h(
                'td',
                {},
                Object.entries(e.config)
                  .map(([k, v]) => `${k}=${valueText(v)}`)
                  .join(', ') || '—',
              ),
            ),
          ),
        ),
      ),
    );
    if (s.report && s.report.included !== drawnWith) {
      drawnWith = s.report.included;
      await drawCharts(charts, studyCharts(s.report));
    }
  };
  await render();
  if (FINISHED.includes(s.status)) return;
  // Unfinished: re-read every few seconds (one request) until every experiment has finished.
  const timer = setInterval(async () => {
    if (signal.aborted) return clearInterval(timer);
    try {
      s = await client.getStudy(id);
      if (signal.aborted) return;
      await render();
      if (FINISHED.includes(s.status)) clearInterval(timer);
    } catch (e) {
      clearInterval(timer);
      if (!signal.aborted) showError(e);
    }
  }, STUDY_REFRESH_MS);
  signal.addEventListener('abort', () => clearInterval(timer), { once: true });
}

// ---------------------------------------------------------------- compare

async function comparePage(ids: string[]): Promise<void> {
  const items = await Promise.all(ids.map((id) => client.get(id)));
  clear(root);
  const withReport = items.filter((e) => e.report);
  const table = h(
    'table',
    { id: 'compare-table' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ...['name', 'status', 'method', 'dataset', 'accuracy', 'ECE', 'NLL', 'Brier'].map((c) => h('th', {}, c)),
      ),
    ),
    h(
      'tbody',
      {},
      ...items.map((e) =>
        h(
          'tr',
          { 'data-id': e.id },
          h('td', {}, h('a', { href: `#/e/${e.id}` }, e.name)),
          h('td', {}, statusBadge(e.status)),
          h('td', {}, String(e.spec?.method?.kind ?? '—')),
          h('td', {}, String(e.spec?.dataset?.name ?? '—')),
          h('td', {}, fmt(e.report?.final.accuracy)),
          h('td', {}, fmt(e.report?.final.ece)),
          h('td', {}, fmt(e.report?.final.nll)),
          h('td', {}, fmt(e.report?.final.brier)),
        ),
      ),
    ),
  );
  const charts = h('div', { class: 'charts', id: 'charts' });
  root.append(
    h('p', {}, h('a', { href: '#/' }, '← experiments')),
    h('h2', {}, `Compare ${items.length} experiments`),
    table,
    charts,
  );
  if (withReport.length < items.length)
    root.append(
      h('p', { class: 'muted' }, `${items.length - withReport.length} without a report yet (not in the charts).`),
    );
  // Names may repeat: the chart key adds the id's head.
  const names = new Map(
    withReport.map((e) => [
      e.id,
      withReport.filter((o) => o.name === e.name).length > 1 ? `${e.name} (${e.id.slice(0, 8)})` : e.name,
    ]),
  );
  if (withReport.length)
    await drawCharts(charts, compareCharts(withReport.map((e) => ({ name: names.get(e.id)!, report: e.report! }))));
}

window.addEventListener('hashchange', route);
route();
