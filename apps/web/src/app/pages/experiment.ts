/** #/e/<id> : one experiment: summary, actions, charts (live curves until its report exists), notes, logs. */

import {
  type Chart,
  epochCurvesSpec,
  epochPointsFromMetrics,
  reportCharts,
  softLabelCells,
  softLabelHeatmapSpec,
} from '@arcal/charts';
import { type ExperimentDetail, type ExperimentView, type MetricRow, progressOf } from '@arcal/client';
import { client, pageSignal, rerender, root } from '../context.ts';
import { age, clear, fmt, h } from '../dom.ts';
import { showError } from '../session.ts';
import { drawCharts, progressBar, statusBadge } from '../widgets.ts';

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

export async function experimentPage(id: string): Promise<void> {
  const signal = pageSignal();
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
              rerender();
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
