/** #/s/<id> : one study: progress, mean ± std over seeds per configuration, its charts and its experiments. */

import { studyCharts } from '@arcal/charts';
import type { StudyDetail } from '@arcal/client';
import { client, pageSignal, rerender, root } from '../context.ts';
import { age, clear, h } from '../dom.ts';
import { showError } from '../session.ts';
import { drawCharts, FINISHED, finishedOf, progressBar, statusBadge } from '../widgets.ts';

/** How often an unfinished study's page re-reads it (one request each time). */
const STUDY_REFRESH_MS = 5_000;
/** `mean ± std` of an aggregated metric, scaled (×100 for accuracy and ECE, in %); the mean alone for one seed. */
function stat(v: { mean: number; std: number | null } | undefined, scale = 100, digits = 2): string {
  if (!v || !Number.isFinite(v.mean)) return '—';
  const m = (v.mean * scale).toFixed(digits);
  return v.std === null ? m : `${m} ± ${(v.std * scale).toFixed(digits)}`;
}

const valueText = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v));

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

export async function studyPage(id: string): Promise<void> {
  const signal = pageSignal();
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
            rerender();
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
